"""``nis shower``: unweighted LHE events through Pythia 8, FastJet and the detector model.

For every event of a Les Houches file (``nis integrate CONFIG --events N --lhe FILE``) Pythia 8
adds initial- and final-state showers, multiple interactions and hadronisation (each switchable);
the visible final state (everything but neutrinos) is then split into

* the two hardest prompt muons (bare, after QED radiation; a muon whose mother is a hadron, from
  a heavy-flavour decay, is not prompt and stays with the hadrons), and
* anti-kT jets (radius, pT and |eta| thresholds in :class:`ShowerSettings`) of the remaining
  visible particles,

the *particle level*. The :class:`~nis.shower.detector.Detector` smears those into the *detector
level*. The *parton level* is the LHE event itself (its final state in the lab frame), matched to
Pythia's event by the incoming momentum fractions x1 and x2, so an event that Pythia drops
(it says why in its log) drops out of all three levels together. The file layout is
:mod:`nis.shower.showered`.

Pythia reading the file is the check that nis' LHE files are right: beams, momentum fractions,
colour lines, the resonance and its decay are all used by the shower. A file Pythia refuses to
start on raises :class:`ShowerError` with Pythia's own message; an event it rejects is dropped
and named in the summary (``lost_event_numbers``, ``pythia_errors``; ``nis shower`` prints a
warning); an event whose incoming partons do not carry the final state's momentum stops the run
(:class:`ShowerError` naming it), since Pythia would silently rebuild them.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from nis.events.lhe import read_lhe
from nis.shower.detector import Detector
from nis.shower.pythia import load_fastjet, load_pythia, run_settings

MUON = 13
FIRST_HADRON_ID = 100  #: |PDG id| of hadrons starts here (mesons 3 digits, baryons 4)
NEUTRINOS = (12, 14, 16)
PARTON_LABELS = {13: "mu-", -13: "mu+", 11: "e-", -11: "e+", 12: "ve", -12: "ve~", 14: "vm", -14: "vm~"}


class ShowerError(RuntimeError):
    """Pythia refused the input or stopped; the message carries its words."""


@dataclass
class ShowerSettings:
    """What Pythia does and how particle-level jets are made."""

    seed: int = 1  #: Pythia's random seed (1 to 900,000,000) and the detector's
    events: int = 0  #: showered events; 0: the whole file
    mpi: bool = True  #: multiple parton interactions (the underlying event)
    hadronisation: bool = True
    qed: bool = True  #: QED radiation in the showers
    jet_radius: float = 0.4  #: anti-kT R
    jet_pt_min: float = 10.0  #: GeV, particle-level jets (below the detector's threshold on purpose)
    jet_eta_max: float = 4.5
    max_jets: int = 6  #: particle- and detector-level jets kept per event
    batch: int = 200  #: events per Pythia batch
    pythia: list = field(default_factory=list)  #: more ``"Key = value"`` settings for Pythia

    def __post_init__(self):
        if not 1 <= self.seed <= 900_000_000:
            raise ValueError(f"seed must lie in 1..900000000 (Pythia's range); got {self.seed}")
        if self.events < 0 or self.max_jets < 1 or self.batch < 1:
            raise ValueError("events must be >= 0, max_jets and batch >= 1")


def _pythia_settings(lhe: Path, s: ShowerSettings) -> list[str]:
    return [
        "Beams:frameType = 4",
        f"Beams:LHEF = {lhe}",
        *run_settings(s.seed, s.mpi, s.hadronisation),
        f"TimeShower:QEDshowerByL = {'on' if s.qed else 'off'}",
        f"SpaceShower:QEDshowerByL = {'on' if s.qed else 'off'}",
        "Next:numberCount = 0",
        "Init:showChangedParticleData = off",
        *s.pythia,
    ]


@contextlib.contextmanager
def _captured_stdout(log):
    """Send what C++ writes to file descriptor 1 (Pythia's messages) to ``log`` meanwhile."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(log.fileno(), 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _problems(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if "PYTHIA Error" in line or "PYTHIA Abort" in line]


def _match(x: np.ndarray, lhe_x: np.ndarray, start: int) -> np.ndarray:
    """Rows of the LHE file for Pythia's events, by (x1, x2), in order, from row ``start``."""
    rows, j = [], start
    for x1, x2 in x:
        while j < len(lhe_x) and not np.allclose(lhe_x[j], (x1, x2), rtol=1e-8, atol=0):
            j += 1
        if j == len(lhe_x):
            raise ShowerError("an event from Pythia matches no event of the LHE file (by x1, x2)")
        rows.append(j)
        j += 1
    return np.array(rows, dtype=np.int64)


def _momentum_fractions(events, final_cols: np.ndarray, beam_energy) -> np.ndarray:
    """(x1, x2) of every LHE event from its final state, as Pythia recomputes them (it rebuilds
    the incoming partons from the outgoing ones); ShowerError for an event whose incoming partons
    do not carry that momentum, naming the event."""
    total = events.momenta[:, final_cols].sum(axis=1)
    incoming = events.momenta[:, events.status == -1].sum(axis=1)
    scale = np.maximum(total[:, 0], 1.0)
    bad = np.nonzero(np.abs(total - incoming).max(axis=1) > 1e-6 * scale)[0]
    if len(bad):
        raise ShowerError(
            f"LHE event {bad[0] + 1} does not conserve momentum (incoming {incoming[bad[0]].round(6).tolist()},"
            f" outgoing {total[bad[0]].round(6).tolist()}); {len(bad)} such event(s) in all"
        )
    return np.stack([(total[:, 0] + total[:, 3]) / (2 * beam_energy[0]), (total[:, 0] - total[:, 3]) / (2 * beam_energy[1])], 1)


def _padded(objects, k: int, names: tuple[str, ...], ak) -> np.ndarray:
    """The first k objects of every event (awkward records with four-momentum ``names`` in the
    order E, px, py, pz) as (n, k, 4), zeros where an event has fewer."""
    first = ak.pad_none(objects, k, clip=True)
    return np.stack([np.stack([ak.to_numpy(ak.fill_none(first[:, j][name], 0.0)) for name in names], -1)
                     for j in range(k)], 1)


def _particle_level(batch, s: ShowerSettings, fastjet, ak) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Muons (n, 2, 4), jets (n, max_jets, 4), jet counts (n,) of a Pythia batch (E, px, py, pz)."""
    prt = batch.prt
    aid = abs(prt.id)
    visible = (prt.status > 0) & (aid != NEUTRINOS[0]) & (aid != NEUTRINOS[1]) & (aid != NEUTRINOS[2])
    final = prt[visible]
    from_hadron = (abs(prt.id[prt.mother1]) >= FIRST_HADRON_ID)[visible]
    pt = np.hypot(final.p.px, final.p.py)
    is_mu = (abs(final.id) == MUON) & ~from_hadron  # prompt muons
    rank = ak.argsort(ak.argsort(ak.where(is_mu, -pt, np.inf), axis=1), axis=1)  # by muon pT, muons first
    chosen = is_mu & (rank < 2)
    mu = final[chosen]
    mu = mu[ak.argsort(np.hypot(mu.p.px, mu.p.py), axis=1, ascending=False)]
    muons = _padded(mu.p, 2, ("e", "px", "py", "pz"), ak)
    rest = final[~chosen]
    inputs = ak.zip({"px": rest.p.px, "py": rest.p.py, "pz": rest.p.pz, "E": rest.p.e})
    seq = fastjet.ClusterSequence(inputs, fastjet.JetDefinition(fastjet.antikt_algorithm, s.jet_radius))
    jets = seq.inclusive_jets(min_pt=s.jet_pt_min)
    jet_pt = np.hypot(jets.px, jets.py)
    jets = jets[abs(np.arcsinh(jets.pz / jet_pt)) < s.jet_eta_max]
    jets = jets[ak.argsort(np.hypot(jets.px, jets.py), axis=1, ascending=False)]
    counts = np.minimum(ak.to_numpy(ak.num(jets, axis=1)), s.max_jets)
    return muons, _padded(jets, s.max_jets, ("E", "px", "py", "pz"), ak), counts


def shower(
    lhe: str | Path, out: str | Path, settings: ShowerSettings | None = None, detector: Detector | None = None,
    progress: bool = True, log: str | Path | None = None,
) -> dict:
    """Shower the events of ``lhe`` and write parton, particle and detector levels to ``out``
    (HDF5, :mod:`nis.shower.showered`). Pythia's messages go to ``log`` (default ``out`` + ``.log``).
    Returns a summary: events read, showered and lost, rate, cross section, paths."""
    from nis.shower.showered import write_showered

    s = settings or ShowerSettings()
    detector = detector or Detector()
    lhe, out = Path(lhe), Path(out)
    if not lhe.is_file():
        raise FileNotFoundError(f"LHE file {str(lhe)!r} does not exist")
    pythia8 = load_pythia()
    fastjet = load_fastjet()
    import awkward as ak

    init, events = read_lhe(lhe)
    n_total = len(events.weight) if not s.events else min(s.events, len(events.weight))
    final_cols = np.nonzero(events.status == 1)[0]
    lhe_x = _momentum_fractions(events, final_cols, init.beam_energy)
    labels = [PARTON_LABELS.get(int(i), "j") for i in events.pdg[0, final_cols]] if len(events.pdg) else []
    log = Path(log) if log else out.with_name(out.name + ".log")
    log.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    pieces = {"rows": [], "muons": [], "jets": [], "n_jets": []}
    with open(log, "w+") as log_fh:
        pythia = pythia8.Pythia("", False)
        with _captured_stdout(log_fh):
            for line in _pythia_settings(lhe.resolve(), s):
                if not pythia.readString(line):
                    raise ShowerError(f"Pythia does not know the setting {line!r}")
            ok = pythia.init()
        if not ok:
            log_fh.seek(0)
            why = "; ".join(_problems(log_fh.read())) or "no message"
            raise ShowerError(f"Pythia refused {lhe}: {why} (full log: {log})")
        bar = _bar(n_total, progress)
        done, next_row = 0, 0
        while next_row < n_total:
            want = min(s.batch, n_total - next_row)
            log_fh.seek(0, os.SEEK_END)
            mark = log_fh.tell()
            with _captured_stdout(log_fh):
                batch = pythia.nextBatch(want)
            if len(batch) == 0:
                log_fh.seek(mark)
                why = "; ".join(_problems(log_fh.read())) or "no message"
                raise ShowerError(f"Pythia stopped at event {next_row + 1} of {lhe}: {why} (full log: {log})")
            x = np.stack([ak.to_numpy(batch.info.x1), ak.to_numpy(batch.info.x2)], axis=1)
            rows = _match(x, lhe_x, next_row)
            with _captured_stdout(log_fh):  # FastJet's banner too
                muons, jets, n_jets = _particle_level(batch, s, fastjet, ak)
            for key, value in zip(("rows", "muons", "jets", "n_jets"), (rows, muons, jets, n_jets)):
                pieces[key].append(value)
            done += len(rows)
            bar.update(int(rows[-1]) + 1 - next_row)
            next_row = int(rows[-1]) + 1
            if len(batch) < want and pythia.infoPython().atEndOfFile():
                break
        bar.close()
        log_fh.seek(0)
        problems = _problems(log_fh.read())
    rows = np.concatenate(pieces["rows"])
    lost = np.setdiff1d(np.arange(next_row), rows) + 1
    muons, jets = np.concatenate(pieces["muons"]), np.concatenate(pieces["jets"])
    rng = np.random.default_rng(s.seed)
    det_muons, n_muons = detector.muons_seen(muons, rng)
    det_jets, det_n_jets = detector.jets_seen(jets, rng)
    elapsed = time.time() - t0
    summary = {
        "lhe": str(lhe), "output": str(out), "log": str(log),
        "events_read": int(next_row), "events_showered": int(done), "events_lost": int(next_row - done),
        "lost_event_numbers": lost[:20].tolist(), "pythia_errors": list(dict.fromkeys(problems))[:10],
        "seconds": round(elapsed, 1), "events_per_second": round(done / elapsed, 1),
        "cross_section_pb": init.cross_section_pb, "error_pb": init.error_pb,
        "detector_passed": int((n_muons >= 2).sum()),
        "settings": asdict(s), "detector": asdict(detector), "pythia_version": _version(pythia8),
    }
    write_showered(
        out, parton=events.momenta[rows][:, final_cols], parton_labels=labels,
        particle_muons=muons, particle_jets=jets, particle_n_jets=np.concatenate(pieces["n_jets"]),
        detector_muons=det_muons, detector_n_muons=n_muons, detector_jets=det_jets, detector_n_jets=det_n_jets,
        weights=events.weight[rows] / init.cross_section_pb if init.cross_section_pb else np.ones(len(rows)),
        process=f"{lhe.name} (showered)", cross_section_pb=init.cross_section_pb, error_pb=init.error_pb,
        settings=summary,
    )
    return summary


def _version(pythia8) -> str:
    try:
        from importlib.metadata import version

        return version("pythia8mc")
    except Exception:  # noqa: BLE001 - only informative
        return getattr(pythia8, "__version__", "unknown")


def _bar(total: int, progress: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="ev", desc="shower", disable=not progress, file=sys.stderr)


__all__ = ["ShowerError", "ShowerSettings", "shower"]
