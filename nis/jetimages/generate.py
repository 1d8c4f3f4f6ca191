"""Boosted hadronic W jets and QCD jets from Pythia 8 at sqrt(s) = 13 TeV, as HDF5 jet files.

Signal: ``q q' -> W' -> W Z`` (``NewGaugeBoson:ffbar2Wprime``, sequential-SM couplings, W' mass
``wprime_mass`` = 600 GeV by default; ``Wprime:coup2WZ = 1``, the extended gauge model, as the
W' -> W Z coupling is 0 by default; decay angles as in W -> W Z, Pythia's default), the W' forced
to W Z, the W to quarks (``24:onIfAny =
1 2 3 4 5``) and the Z to neutrinos, so the only hard visible object is the W's two-prong jet.
A W' of 600 GeV gives the W a two-body momentum of 287 GeV in the W' frame, so the W's pT
(Jacobian peak at 287 GeV) fills the 250-300 GeV window. The W' line shape is cut to
``wprime_mass`` +- 15% (``34:mMin/mMax``).

Background: QCD 2 -> 2 (``HardQCD:all``) with ``pthat_min < pT_hat < pthat_max`` (220-350 GeV
by default: wider than the fat-jet window, so the jets that out-of-cone radiation or the
underlying event move into 250-300 GeV are kept; both edges are left open by the jet cut).

Parton showers, multiple parton interactions (``mpi``) and hadronisation (``hadronisation``) are on
by default, with Pythia's default tune (Monash) and PDF; ``pythia`` lists further setting lines,
read after these (so they win). Each event's final-state visible particles (no neutrinos) are
clustered with anti-kT, R = ``jet_radius`` = 1.0 (:func:`nis.shower.jets.cluster`); the event is
kept if its leading jet has ``jet_pt_min < pT < jet_pt_max`` (250, 300 GeV) and ``|eta| <
jet_eta_max`` (2.0), and that jet is stored. Seeds: signal ``seed``, background ``seed + 1``
(Pythia's ``Random:seed``).

Jet file (HDF5, written to a temporary name and renamed): ``jets`` (N, 4) the jets' (E, px, py,
pz) in GeV; ``constituents`` (M, 4) float32 rows (pT [GeV], eta, phi, E [GeV]) of all jets one
after the other, jet i's in rows ``offsets[i]:offsets[i + 1]`` (``offsets`` (N + 1,)); attributes
``format``, ``nis_version``, ``label`` (signal/background), ``process``, ``settings`` (JSON),
``pythia_settings`` (JSON list of lines), ``seed``, ``events``, ``jets``, ``seconds``,
``events_per_second``, ``sigma_mb`` (Pythia's estimate of the generated cross section, before
the jet cut).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

import nis
from nis.events.hdf5 import open_checked
from nis.events.kinematics import from_pt_eta_phi_e, pt_eta_phi_m
from nis.shower.jets import cluster
from nis.shower.pythia import load_pythia, run_settings

__all__ = [
    "CLASSES", "GenerationSettings", "JetSample", "JetFileError", "pythia_settings", "leading_fat_jet",
    "generate_sample", "write_jets", "read_jets",
]

CLASSES = ("signal", "background")
FORMAT = "nis-jets"


class JetFileError(ValueError):
    """A jet file that is missing or not a nis jet file."""


@dataclass
class GenerationSettings:
    """Pythia runs and the fat-jet selection (module docstring)."""

    jets: int = 30000  #: jets to keep per class
    max_events: int = 0  #: stop a class after this many Pythia events anyway; 0: 20 x jets
    seed: int = 1  #: Pythia's Random:seed of the signal; background: seed + 1
    sqrt_s: float = 13000.0  #: collision energy, GeV
    wprime_mass: float = 600.0  #: W' pole mass, GeV
    pthat_min: float = 220.0  #: QCD background: lower edge of the hard process' pT, GeV
    pthat_max: float = 350.0  #: QCD background: upper edge, GeV
    mpi: bool = True  #: multiple parton interactions (the underlying event)
    hadronisation: bool = True  #: string hadronisation and hadron decays
    pythia: list = field(default_factory=list)  #: further Pythia setting lines, read last (both classes)
    jet_radius: float = 1.0  #: anti-kT radius of the fat jets
    jet_pt_min: float = 250.0  #: leading fat jet: pT above this, GeV
    jet_pt_max: float = 300.0  #: and below this, GeV
    jet_eta_max: float = 2.0  #: and |eta| below this

    def __post_init__(self):
        from nis.config import ConfigError

        for name in ("jets", "sqrt_s", "wprime_mass", "pthat_min", "jet_radius", "jet_pt_max", "jet_eta_max"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"generation.{name} must be positive; got {getattr(self, name)}")
        if self.max_events < 0:
            raise ConfigError(f"generation.max_events must not be negative; got {self.max_events}")
        if not 0 <= self.seed <= 900_000_000 - 1:
            raise ConfigError(f"generation.seed must lie in [0, 899999999] (Pythia's Random:seed); got {self.seed}")
        if self.pthat_max <= self.pthat_min:
            raise ConfigError(f"generation.pthat_max ({self.pthat_max}) must exceed pthat_min ({self.pthat_min})")
        if self.jet_pt_max <= self.jet_pt_min:
            raise ConfigError(f"generation.jet_pt_max ({self.jet_pt_max}) must exceed jet_pt_min ({self.jet_pt_min})")
        if not isinstance(self.pythia, list) or not all(isinstance(x, str) for x in self.pythia):
            raise ConfigError(f"generation.pythia must be a list of Pythia setting lines; got {self.pythia!r}")


@dataclass
class JetSample:
    """Jets of one class: four-momenta, constituents (pT, eta, phi, E) and their offsets."""

    jets: np.ndarray  #: (N, 4) E, px, py, pz
    constituents: np.ndarray  #: (M, 4) pT, eta, phi, E
    offsets: np.ndarray  #: (N + 1,)
    attrs: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.jets)

    def constituents_of(self, i: int) -> np.ndarray:
        """Jet i's constituents (k, 4) as (pT, eta, phi, E)."""
        return self.constituents[self.offsets[i]:self.offsets[i + 1]]

    def momenta_of(self, i: int) -> np.ndarray:
        """Jet i's constituents (k, 4) as four-momenta (E, px, py, pz), float64."""
        c = self.constituents_of(i).astype(np.float64)
        return from_pt_eta_phi_e(c[:, 0], c[:, 1], c[:, 2], c[:, 3])


def pythia_settings(label: str, s: GenerationSettings, seed: int) -> list[str]:
    """The Pythia setting lines of class ``label`` (signal or background)."""
    if label not in CLASSES:
        raise ValueError(f"class must be one of {CLASSES}; got {label!r}")
    lines = [
        f"Beams:eCM = {s.sqrt_s}",
        "Print:quiet = on",
        *run_settings(seed, s.mpi, s.hadronisation),
    ]
    if label == "signal":
        lines += [
            "NewGaugeBoson:ffbar2Wprime = on", "Wprime:coup2WZ = 1.0",
            f"34:m0 = {s.wprime_mass}", f"34:mMin = {0.85 * s.wprime_mass}", f"34:mMax = {1.15 * s.wprime_mass}",
            "34:onMode = off", "34:onIfMatch = 23 24",
            "24:onMode = off", "24:onIfAny = 1 2 3 4 5",
            "23:onMode = off", "23:onIfAny = 12 14 16",
        ]
    else:
        lines += ["HardQCD:all = on", f"PhaseSpace:pTHatMin = {s.pthat_min}", f"PhaseSpace:pTHatMax = {s.pthat_max}"]
    return lines + list(s.pythia)


def _visible_final(event) -> np.ndarray:
    """(n, 4) (E, px, py, pz) of the final-state particles Pythia calls visible (no neutrinos)."""
    rows = []
    for i in range(event.size()):
        p = event[i]
        if p.isFinal() and p.isVisible():
            rows.append((p.e(), p.px(), p.py(), p.pz()))
    return np.array(rows, dtype=np.float64).reshape(-1, 4)


def leading_fat_jet(particles: np.ndarray, s: GenerationSettings) -> tuple[np.ndarray, np.ndarray] | None:
    """The leading anti-kT jet of ``particles`` (n, 4) and its constituents (k, 4) (E, px, py, pz),
    if it passes the pT window and |eta| cut of ``s``; else None."""
    jets, parts = cluster(particles, s.jet_radius, 0.5 * s.jet_pt_min, "antikt")
    if len(jets) == 0:
        return None
    pt, eta, _, _ = pt_eta_phi_m(jets[0])
    if not (s.jet_pt_min < pt < s.jet_pt_max and abs(eta) < s.jet_eta_max):
        return None
    return jets[0], particles[parts[0]]


def generate_sample(label: str, s: GenerationSettings, n_jets: int | None = None, progress: bool = False) -> JetSample:
    """Run Pythia for class ``label`` until ``n_jets`` (default ``s.jets``) jets pass or
    ``s.max_events`` events are spent; the jets with their run's numbers in ``attrs``."""
    pythia8 = load_pythia()
    n_jets = s.jets if n_jets is None else int(n_jets)
    max_events = s.max_events or 20 * n_jets
    seed = s.seed + CLASSES.index(label)
    lines = pythia_settings(label, s, seed)
    pythia = pythia8.Pythia("", False)
    bad = [line for line in lines if not pythia.readString(line)]
    if bad:
        raise ValueError(f"Pythia did not accept the setting line(s) {bad}")
    if not pythia.init():
        raise RuntimeError(f"Pythia failed to initialise the {label} run (settings: {lines})")
    jets, consts, counts = [], [], []
    events = failed = 0
    t_pythia = t_jets = 0.0
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_jets, desc=f"{label} jets", unit="jet", leave=False)
    start = time.perf_counter()
    while len(jets) < n_jets and events < max_events:
        t0 = time.perf_counter()
        ok = pythia.next()
        t1 = time.perf_counter()
        t_pythia += t1 - t0
        events += 1
        if not ok:
            failed += 1
            continue
        found = leading_fat_jet(_visible_final(pythia.event), s)
        t_jets += time.perf_counter() - t1
        if found is None:
            continue
        jet, members = found
        pt, eta, phi, _ = pt_eta_phi_m(members)
        jets.append(jet)
        consts.append(np.stack([pt, eta, phi, members[:, 0]], axis=1))
        counts.append(len(members))
        if bar is not None:
            bar.update(1)
            if len(jets) % 50 == 0:
                bar.set_postfix(events=events, eff=f"{len(jets) / events:.3f}",
                                ev_s=f"{events / (time.perf_counter() - start):.1f}")
    seconds = time.perf_counter() - start
    if bar is not None:
        bar.close()
    info = pythia.infoPython() if hasattr(pythia, "infoPython") else pythia.info
    sigma = float(info.sigmaGen())
    process = ("p p -> W' -> W Z, W -> q q', Z -> nu nu" if label == "signal" else
               f"p p -> 2 jets (QCD), {s.pthat_min} < pT_hat < {s.pthat_max} GeV")
    offsets = np.r_[0, np.cumsum(counts)].astype(np.int64)
    attrs = {
        "label": label, "process": process, "settings": json.dumps(asdict(s)), "pythia_settings": json.dumps(lines),
        "seed": seed, "events": events, "failed_events": failed, "jets": len(jets), "seconds": seconds,
        "events_per_second": events / seconds if seconds > 0 else 0.0,
        "seconds_pythia": t_pythia, "seconds_jets": t_jets, "sigma_mb": sigma,
        "efficiency": len(jets) / events if events else 0.0,
    }
    return JetSample(
        jets=np.array(jets, dtype=np.float64).reshape(-1, 4),
        constituents=(np.concatenate(consts) if consts else np.zeros((0, 4))).astype(np.float32),
        offsets=offsets, attrs=attrs,
    )


def write_jets(path: str | Path, sample: JetSample) -> Path:
    """Write ``sample`` as a jet file (module docstring), atomically."""
    import h5py

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with h5py.File(tmp, "w") as f:
        f.create_dataset("jets", data=sample.jets)
        f.create_dataset("constituents", data=sample.constituents.astype(np.float32), compression="gzip",
                         compression_opts=4)
        f.create_dataset("offsets", data=sample.offsets)
        f.attrs["format"] = FORMAT
        f.attrs["nis_version"] = nis.__version__
        for key, value in sample.attrs.items():
            f.attrs[key] = value
    os.replace(tmp, path)
    return path


def read_jets(path: str | Path) -> JetSample:
    """The :class:`JetSample` of a jet file; JetFileError if it is missing or not one."""
    with open_checked(path, FORMAT, None, JetFileError, "nis jet file", "nis jetimages generate CONFIG",
                      ("jets", "constituents", "offsets")) as f:
        attrs = {k: (v.item() if hasattr(v, "item") else v) for k, v in f.attrs.items()}
        return JetSample(jets=f["jets"][()], constituents=f["constituents"][()], offsets=f["offsets"][()], attrs=attrs)
