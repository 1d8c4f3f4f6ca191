"""Showered event files: parton level, particle level after Pythia 8 and a smearing detector.

One HDF5 file per sample; rows are events, momenta ``(E, px, py, pz)`` in GeV, float64, lab
frame, objects zero-padded where missing::

    attrs: format = "nis-showered", version = 1, process, cross_section_pb, error_pb,
           settings (JSON string: how the file was made)
    parton/momenta     (N, k, 4)  parton-level final state (Z + 1 jet: mu+, mu-, j)
    parton/labels      (k,)       bytes, e.g. [b"mu+", b"mu-", b"j"]
    particle/muons     (N, 2, 4)  the two hardest prompt muons after the shower (zeros where missing)
    particle/jets      (N, J, 4)  anti-kT 0.4 jets (muons excluded), pT-ordered, zero-padded
    particle/n_jets    (N,)       int
    detector/muons     (N, 2, 4)  smeared muons, zeros where lost
    detector/n_muons   (N,)       int
    detector/jets      (N, J, 4)  smeared jets above the detector threshold, pT-ordered, zero-padded
    detector/n_jets    (N,)       int
    detector/passed    (N,)       bool: two detector muons (the selection)
    weights            (N,)       event weights (1.0 for unweighted samples)

:func:`write_showered` writes it (arrays in, file out; the file appears only when complete:
written under a temporary name, then renamed), :func:`load_showered` reads the events (by
default those that pass the selection) into a :class:`ShoweredEvents`. Files of another format or version are
refused with a :class:`ShoweredFileError` that says what was found.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nis.events.hdf5 import open_checked

FORMAT = "nis-showered"
VERSION = 1

__all__ = ["FORMAT", "VERSION", "ShoweredFileError", "ShoweredEvents", "write_showered", "load_showered"]

_DATASETS = (
    "parton/momenta", "parton/labels", "particle/muons", "particle/jets", "particle/n_jets", "detector/muons",
    "detector/n_muons", "detector/jets", "detector/n_jets", "detector/passed", "weights",
)


class ShoweredFileError(ValueError):
    """A showered event file that is missing, of another format or version, or inconsistent."""


@dataclass
class ShoweredEvents:
    """The events of a showered file (see the module docstring for the arrays' meaning);
    ``n_read``: events in the file before the selection."""

    parton: np.ndarray  #: (N, k, 4)
    parton_labels: list[str]  #: k names
    particle_muons: np.ndarray  #: (N, 2, 4)
    particle_jets: np.ndarray  #: (N, J, 4)
    particle_n_jets: np.ndarray  #: (N,)
    detector_muons: np.ndarray  #: (N, 2, 4)
    detector_n_muons: np.ndarray  #: (N,)
    detector_jets: np.ndarray  #: (N, J, 4)
    detector_n_jets: np.ndarray  #: (N,)
    weights: np.ndarray  #: (N,)
    n_read: int = 0
    process: str = ""
    cross_section_pb: float = float("nan")
    error_pb: float = float("nan")
    settings: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return self.parton.shape[0]

    @property
    def max_jets(self) -> int:
        """J, the jet slots per event."""
        return self.detector_jets.shape[1]

    def take(self, rows: np.ndarray) -> "ShoweredEvents":
        """The events at ``rows`` (indices or a boolean mask), with this sample's metadata."""
        arrays = {name: getattr(self, name)[rows] for name in _ARRAY_FIELDS}
        return ShoweredEvents(parton_labels=self.parton_labels, n_read=self.n_read, process=self.process,
                             cross_section_pb=self.cross_section_pb, error_pb=self.error_pb,
                             settings=self.settings, **arrays)


_ARRAY_FIELDS = (
    "parton", "particle_muons", "particle_jets", "particle_n_jets", "detector_muons", "detector_n_muons",
    "detector_jets", "detector_n_jets", "weights",
)


def _count(objects: np.ndarray) -> np.ndarray:
    """Objects per event: rows with a non-zero energy."""
    return (objects[..., 0] != 0).sum(axis=1).astype(np.int64)


def _check_padding(name: str, objects: np.ndarray, counts: np.ndarray) -> None:
    slots = np.arange(objects.shape[1])[None, :]
    if (counts < 0).any() or (counts > objects.shape[1]).any():
        raise ShoweredFileError(f"{name}: counts must lie in [0, {objects.shape[1]}]")
    if np.any(objects[slots >= counts[:, None]] != 0):
        raise ShoweredFileError(f"{name}: slots beyond the count must be zero (zero-padded)")


def write_showered(
    path: str | Path,
    *,
    parton: np.ndarray,
    parton_labels: list[str],
    particle_muons: np.ndarray,
    particle_jets: np.ndarray,
    detector_muons: np.ndarray,
    detector_jets: np.ndarray,
    passed: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    particle_n_jets: np.ndarray | None = None,
    detector_n_muons: np.ndarray | None = None,
    detector_n_jets: np.ndarray | None = None,
    process: str = "",
    cross_section_pb: float = float("nan"),
    error_pb: float = float("nan"),
    settings: dict | None = None,
) -> Path:
    """Write a showered event file (layout: the module docstring); returns the path.

    Counts left out are the zero-padded objects' non-zero rows; ``passed`` left out is
    ``detector_n_muons == 2``; ``weights`` left out are ones. Shapes, padding and finiteness are
    checked before anything is written.
    """
    import h5py

    f64 = lambda a: np.asarray(a, dtype=np.float64)  # noqa: E731
    parton, p_mu, p_j, d_mu, d_j = map(f64, (parton, particle_muons, particle_jets, detector_muons, detector_jets))
    n = parton.shape[0] if parton.ndim == 3 else -1
    if parton.ndim != 3 or parton.shape[2] != 4:
        raise ShoweredFileError(f"parton momenta must have shape (N, k, 4), got {parton.shape}")
    labels = [str(x) for x in parton_labels]
    if len(labels) != parton.shape[1]:
        raise ShoweredFileError(f"{len(labels)} parton labels {labels} for {parton.shape[1]} partons per event")
    for name, a, k in (("particle/muons", p_mu, 2), ("detector/muons", d_mu, 2), ("particle/jets", p_j, None),
                       ("detector/jets", d_j, None)):
        if a.ndim != 3 or a.shape[0] != n or a.shape[2] != 4 or (k is not None and a.shape[1] != k):
            want = f"({n}, {k if k else 'J'}, 4)"
            raise ShoweredFileError(f"{name} must have shape {want}, got {a.shape}")
    if p_j.shape[1] != d_j.shape[1]:
        raise ShoweredFileError(
            f"particle and detector jets need the same slots J; got {p_j.shape[1]} and {d_j.shape[1]}"
        )
    counts = {}
    for name, given, objects in (("particle/n_jets", particle_n_jets, p_j),
                                 ("detector/n_muons", detector_n_muons, d_mu),
                                 ("detector/n_jets", detector_n_jets, d_j)):
        c = _count(objects) if given is None else np.asarray(given, dtype=np.int64)
        if c.shape != (n,):
            raise ShoweredFileError(f"{name} must have shape ({n},), got {c.shape}")
        _check_padding(name, objects, c)
        counts[name] = c
    passed = counts["detector/n_muons"] == 2 if passed is None else np.asarray(passed, dtype=bool)
    weights = np.ones(n) if weights is None else f64(weights)
    if passed.shape != (n,) or weights.shape != (n,):
        raise ShoweredFileError(f"passed and weights must have shape ({n},); got {passed.shape}, {weights.shape}")
    if not all(np.isfinite(a).all() for a in (parton, p_mu, p_j, d_mu, d_j, weights)):
        raise ShoweredFileError("momenta and weights must be finite")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    data = {
        "parton/momenta": parton, "parton/labels": np.array([x.encode() for x in labels]),
        "particle/muons": p_mu, "particle/jets": p_j, "particle/n_jets": counts["particle/n_jets"],
        "detector/muons": d_mu, "detector/n_muons": counts["detector/n_muons"], "detector/jets": d_j,
        "detector/n_jets": counts["detector/n_jets"], "detector/passed": passed, "weights": weights,
    }
    with h5py.File(tmp, "w") as f:
        for name, a in data.items():
            packed = {} if name == "parton/labels" else {"compression": "gzip", "shuffle": True}
            f.create_dataset(name, data=a, **packed)
        f.attrs["format"] = FORMAT
        f.attrs["version"] = VERSION
        f.attrs["process"] = process
        f.attrs["cross_section_pb"] = float(cross_section_pb)
        f.attrs["error_pb"] = float(error_pb)
        f.attrs["settings"] = json.dumps(settings or {}, default=str)
    os.replace(tmp, path)
    return path


def _attr_str(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def load_showered(path: str | Path, passed_only: bool = True) -> ShoweredEvents:
    """The events of a showered file that pass the detector selection (``detector/passed``; all
    of them with ``passed_only=False``); ``n_read`` is the number of events in the file. A clear
    :class:`ShoweredFileError` for a missing file, another format or version, or missing datasets."""
    with open_checked(path, FORMAT, VERSION, ShoweredFileError, "showered event file",
                      "nis shower LHE --out FILE (parton-level nis event files must be showered first)",
                      _DATASETS) as f:
        passed = f["detector/passed"][:].astype(bool)
        if not passed_only:
            passed[:] = True
        read = lambda name: f[name][:][passed]  # noqa: E731
        data = ShoweredEvents(
            parton=read("parton/momenta").astype(np.float64),
            parton_labels=[_attr_str(x) for x in f["parton/labels"][:]],
            particle_muons=read("particle/muons").astype(np.float64),
            particle_jets=read("particle/jets").astype(np.float64),
            particle_n_jets=read("particle/n_jets").astype(np.int64),
            detector_muons=read("detector/muons").astype(np.float64),
            detector_n_muons=read("detector/n_muons").astype(np.int64),
            detector_jets=read("detector/jets").astype(np.float64),
            detector_n_jets=read("detector/n_jets").astype(np.int64),
            weights=read("weights").astype(np.float64),
            n_read=int(len(passed)),
            process=_attr_str(f.attrs.get("process", "")),
            cross_section_pb=float(f.attrs.get("cross_section_pb", np.nan)),
            error_pb=float(f.attrs.get("error_pb", np.nan)),
            settings=json.loads(_attr_str(f.attrs.get("settings", "{}")) or "{}"),
        )
    if data.parton.shape[1] != len(data.parton_labels):
        raise ShoweredFileError(f"{path}: {len(data.parton_labels)} parton labels for {data.parton.shape[1]} partons")
    return data
