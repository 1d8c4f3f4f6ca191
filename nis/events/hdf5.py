"""Event files in HDF5: the final state of unweighted events, with how they were made.

One file holds the events of one process (one multiplicity)::

    /momenta   float64 (N, k, 4)   final-state momenta (E, px, py, pz) in GeV, lab frame
    /weights   float64 (N,)        relative event weights: 1, or sign * |w|/w_max for the rare
                                   overweight events (their mean is ~1; sigma = cross_section_pb)

and attributes ``format = "nis-events"``, ``version`` (1), ``labels`` (JSON list of the k
particle names, e.g. ``["mu+", "mu-", "j", "j"]``), ``process``, ``cross_section_pb``,
``error_pb`` and ``generator`` (JSON: the run's settings - integrand config, seed, method,
unweighting efficiency, nis and torch versions, date). ``h5py.File(path)["momenta"][:]`` reads
the events without nis.

The file appears only when complete (written under a temporary name, then renamed).
:func:`merge_event_files` (``nis events merge OUT IN...``) joins the files of independent runs of
one process (other seeds, other machines) into one.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FORMAT = "nis-events"
VERSION = 1

__all__ = ["EventFile", "write_event_file", "read_event_file", "merge_event_files", "EventFileError", "open_checked"]


class EventFileError(ValueError):
    """An event file that is missing, of another format or version, or inconsistent."""


@dataclass
class EventFile:
    """Events of one process: momenta (N, k, 4), weights (N,), labels (k names) and metadata."""

    momenta: np.ndarray
    labels: list[str]
    weights: np.ndarray | None = None
    process: str = ""
    cross_section_pb: float = float("nan")
    error_pb: float = float("nan")
    generator: dict = field(default_factory=dict)

    def __post_init__(self):
        self.momenta = np.asarray(self.momenta, dtype=np.float64)
        if self.momenta.ndim != 3 or self.momenta.shape[2] != 4:
            raise EventFileError(f"momenta must have shape (N, k, 4), got {self.momenta.shape}")
        n, k = self.momenta.shape[:2]
        if len(self.labels) != k:
            raise EventFileError(f"{len(self.labels)} labels {self.labels} for {k} particles per event")
        self.labels = [str(x) for x in self.labels]
        self.weights = np.ones(n) if self.weights is None else np.asarray(self.weights, dtype=np.float64)
        if self.weights.shape != (n,):
            raise EventFileError(f"weights must have shape ({n},), got {self.weights.shape}")
        if not np.isfinite(self.momenta).all() or not np.isfinite(self.weights).all():
            raise EventFileError("momenta and weights must be finite")

    def __len__(self) -> int:
        return self.momenta.shape[0]

    def take(self, rows: np.ndarray) -> "EventFile":
        """The events at ``rows``, with this file's labels and metadata."""
        return EventFile(momenta=self.momenta[rows], labels=self.labels, weights=self.weights[rows],
                         process=self.process, cross_section_pb=self.cross_section_pb, error_pb=self.error_pb,
                         generator=self.generator)

    def split(self, fraction: float, rng: np.random.Generator) -> tuple["EventFile", "EventFile"]:
        """(the rest, a random ``fraction`` of the events) - e.g. training and held-out truth."""
        rows = rng.permutation(len(self))
        k = int(round(fraction * len(self)))
        return self.take(rows[k:]), self.take(rows[:k])


def write_event_file(path: str | Path, events: EventFile) -> Path:
    """Write ``events`` to ``path`` (HDF5, see the module docstring); returns the path."""
    import h5py

    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with h5py.File(tmp, "w") as f:
        f.create_dataset("momenta", data=events.momenta, compression="gzip", shuffle=True)
        f.create_dataset("weights", data=events.weights, compression="gzip", shuffle=True)
        f.attrs["format"] = FORMAT
        f.attrs["version"] = VERSION
        f.attrs["labels"] = json.dumps(events.labels)
        f.attrs["process"] = events.process
        f.attrs["cross_section_pb"] = float(events.cross_section_pb)
        f.attrs["error_pb"] = float(events.error_pb)
        f.attrs["generator"] = json.dumps(events.generator, default=str)
    os.replace(tmp, path)
    return path


def open_checked(path: str | Path, fmt: str, version: int | None, error: type[Exception], what: str, make: str,
                 datasets: tuple[str, ...] = ()):
    """Open the nis HDF5 file ``path`` for reading, checked: it exists (else ``error`` saying
    to ``make`` it), is HDF5, has attribute ``format == fmt`` and (unless None) ``version``, and
    holds ``datasets``. ``what`` names the kind of file in the messages. Returns the open
    ``h5py.File`` (use it in a ``with``)."""
    import h5py

    path = Path(path)
    if not path.is_file():
        raise error(f"{path}: no such {what} (make it with {make})")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise error(f"{path}: not an HDF5 file ({exc})") from None
    found = f.attrs.get("format", "")
    found = found.decode() if isinstance(found, bytes) else str(found)
    problem = None
    if found != fmt:
        problem = f"not a {what} (attribute format = {found!r}, expected {fmt!r}; make one with {make})"
    elif version is not None and int(f.attrs.get("version", -1)) != version:
        problem = f"{what} version {int(f.attrs.get('version', -1))}; this nis reads version {version}"
    elif [name for name in datasets if name not in f]:
        problem = f"missing dataset(s) {[name for name in datasets if name not in f]}"
    if problem:
        f.close()
        raise error(f"{path}: {problem}")
    return f


def read_event_file(path: str | Path) -> EventFile:
    """Read an event file written by :func:`write_event_file`; a clear error if it is not one."""
    with open_checked(path, FORMAT, VERSION, EventFileError, "event file",
                      f"nis integrate CONFIG --events N --hdf5 {path}", ("momenta", "weights")) as f:
        return EventFile(
            momenta=f["momenta"][:],
            weights=f["weights"][:],
            labels=json.loads(f.attrs["labels"]),
            process=str(f.attrs.get("process", "")),
            cross_section_pb=float(f.attrs.get("cross_section_pb", np.nan)),
            error_pb=float(f.attrs.get("error_pb", np.nan)),
            generator=json.loads(f.attrs.get("generator", "{}")),
        )


def merge_event_files(files: list[EventFile], names: list[str] | None = None) -> EventFile:
    """One event file from the files of independent runs of the same process: the same particles
    and the same integrand settings (energy, PDF, cuts, matrix element), any seeds. Each run's
    events sample the same distribution, so they are joined as they are (weights kept: 1, or the
    overweights relative to that run's w_max); the cross section is the runs' inverse-variance
    weighted mean. ``generator`` is the first run's, with ``merged``: seed, events, cross section
    and unweighting efficiency of each run. Refused: runs with the same seed (the same events
    twice) and cross sections more than 5 standard deviations apart (not the same process, or an
    error is wrong)."""
    if len(files) < 2:
        raise EventFileError(f"merging needs at least two event files, got {len(files)}")
    names = names or [f"file {k + 1}" for k in range(len(files))]
    first = files[0]
    for name, ev in zip(names[1:], files[1:]):
        if ev.labels != first.labels:
            raise EventFileError(f"{name}: particles {ev.labels}, but {names[0]} has {first.labels}")
        if ev.process != first.process:
            raise EventFileError(f"{name}: process {ev.process!r}, but {names[0]} has {first.process!r}")
        a, b = first.generator.get("integrand"), ev.generator.get("integrand")
        if a != b:
            raise EventFileError(f"{name}: integrand settings {b} differ from {names[0]}'s {a}")
    seeds = [ev.generator.get("seed") for ev in files]
    for k, seed in enumerate(seeds):
        if seed is not None and seed in seeds[:k]:
            raise EventFileError(f"{names[k]} and {names[seeds.index(seed)]}: both seed {seed}, the same events twice?"
                                 " Independent runs need different seeds")
    sigma = np.array([ev.cross_section_pb for ev in files])
    error = np.array([ev.error_pb for ev in files])
    if np.isfinite(sigma).all() and np.isfinite(error).all() and (error > 0).all():
        inv = 1.0 / error**2
        mean, err = float((sigma * inv).sum() / inv.sum()), float(inv.sum() ** -0.5)
        pulls = np.abs(sigma - mean) / error
        if pulls.max() > 5:
            k = int(pulls.argmax())
            raise EventFileError(f"{names[k]}: cross section {sigma[k]:.6g} +- {error[k]:.3g} pb is {pulls[k]:.1f} "
                                 f"standard deviations from the others' mean {mean:.6g} pb; not the same process")
    else:
        mean, err = float("nan"), float("nan")
    runs = [{"file": name, "seed": ev.generator.get("seed"), "n_events": len(ev), "cross_section_pb": ev.cross_section_pb,
             "error_pb": ev.error_pb, "unweighting_efficiency": ev.generator.get("unweighting_efficiency")}
            for name, ev in zip(names, files)]
    return EventFile(momenta=np.concatenate([ev.momenta for ev in files]), labels=first.labels,
                     weights=np.concatenate([ev.weights for ev in files]), process=first.process,
                     cross_section_pb=mean, error_pb=err, generator={**first.generator, "merged": runs})
