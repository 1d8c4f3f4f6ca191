"""Les Houches Event files (hep-ph/0609017) that pylhe and Pythia 8 read.

One run is written at once from arrays: an ``<init>`` block with the beams and the cross
section, then one ``<event>`` block per unweighted event. Weighting strategy ``IDWTUP = 3``:
events are unweighted and carry ``XWGTUP = sign * max(1, |w|/w_max) * sigma``, i.e. exactly the
cross section except for the rare overweight events (their share of the cross section is the
``overweight_fraction`` nis reports), so the sum of the event weights over N events estimates
``N * sigma``.

The file appears only when it is complete: it is written under a temporary name and renamed at
the end, so an interrupted run never leaves a file that looks like a full sample.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class LHEInit:
    """The run: beams (PDG ids, energies in GeV) and the cross section in pb."""

    beam_pdg: tuple[int, int]
    beam_energy: tuple[float, float]
    cross_section_pb: float
    error_pb: float
    max_weight: float
    process_id: int = 1
    generator: str = "nis"


@dataclass
class LHEEvents:
    """N events of one process.

    pdg: (N, n) PDG ids, incoming first; momenta: (N, n, 4) (E, px, py, pz) in GeV;
    colour: (N, n, 2) colour and anticolour tags (0 for none); weight: (N,) XWGTUP in pb;
    masses: (n,) GeV, or (N, n) per event; scale (GeV): per run, or (N,) per event (SCALUP, where
    a shower starts); alpha_qed, alpha_s: per-run constants; n_in incoming. status and mothers:
    (n,) ISTUP and (n, 2) MOTHUP (1-based) of each column; by default the first n_in are incoming
    (-1) and the rest outgoing (1) with mothers (1, n_in). An intermediate resonance has status 2
    and its decay products point to it.
    """

    pdg: np.ndarray
    momenta: np.ndarray
    colour: np.ndarray
    weight: np.ndarray
    masses: np.ndarray
    scale: float | np.ndarray
    alpha_qed: float
    alpha_s: float
    n_in: int = 2
    status: np.ndarray | None = None
    mothers: np.ndarray | None = None

    def __post_init__(self):
        n, k = self.pdg.shape
        if self.momenta.shape != (n, k, 4) or self.colour.shape != (n, k, 2) or self.weight.shape != (n,):
            raise ValueError(
                f"LHE events of inconsistent shapes: pdg {self.pdg.shape}, momenta {self.momenta.shape},"
                f" colour {self.colour.shape}, weight {self.weight.shape}"
            )
        if self.status is None:
            self.status = np.where(np.arange(k) < self.n_in, -1, 1)
        if self.mothers is None:
            self.mothers = np.where(np.arange(k)[:, None] < self.n_in, 0, [1, self.n_in])
        self.masses = np.broadcast_to(np.asarray(self.masses, dtype=np.float64), (n, k))
        self.scale = np.broadcast_to(np.asarray(self.scale, dtype=np.float64), (n,))
        if np.shape(self.status) != (k,) or np.shape(self.mothers) != (k, 2):
            raise ValueError(f"LHE status {np.shape(self.status)} and mothers {np.shape(self.mothers)} must be ({k},), ({k}, 2)")


def _event_block(ev: LHEEvents, i: int, process_id: int) -> str:
    n = ev.pdg.shape[1]
    lines = [
        "<event>",
        f"{n:d} {process_id:d} {ev.weight[i]: .10e} {ev.scale[i]: .8e} {ev.alpha_qed: .8e} {ev.alpha_s: .8e}",
    ]
    for j in range(n):
        e, px, py, pz = ev.momenta[i, j]
        m1, m2 = ev.mothers[j]
        lines.append(
            f"{ev.pdg[i, j]:d} {ev.status[j]:d} {m1:d} {m2:d} {ev.colour[i, j, 0]:d} {ev.colour[i, j, 1]:d}"
            f" {px: .12e} {py: .12e} {pz: .12e} {e: .12e} {ev.masses[i, j]: .8e} 0.0 9.0"
        )
    lines.append("</event>")
    return "\n".join(lines)


def write_lhe(path: str | Path, init: LHEInit, events: LHEEvents, comment: str = "") -> Path:
    """Write ``events`` under ``init`` to ``path`` (atomically); returns the path."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as out:
        out.write('<LesHouchesEvents version="3.0">\n<header>\n')
        out.write(f"<!-- written by {init.generator}")
        if comment:
            out.write("\n" + comment.replace("--", "- -"))
        out.write(" -->\n</header>\n<init>\n")
        (b1, b2), (e1, e2) = init.beam_pdg, init.beam_energy
        # beams, no PDF ids (PDFGUP/PDFSUP 0: the shower uses its own), weighting strategy 3, one process
        out.write(f"{b1:d} {b2:d} {e1: .8e} {e2: .8e} 0 0 0 0 3 1\n")
        out.write(f"{init.cross_section_pb: .10e} {init.error_pb: .10e} {init.max_weight: .10e} {init.process_id:d}\n")
        out.write("</init>\n")
        for i in range(events.pdg.shape[0]):
            out.write(_event_block(events, i, init.process_id))
            out.write("\n")
        out.write("</LesHouchesEvents>\n")
    os.replace(tmp, path)
    return path


class LHEReadError(ValueError):
    """A Les Houches file nis cannot read (with the line where it stopped)."""


def read_lhe(path: str | Path) -> tuple[LHEInit, LHEEvents]:
    """Read a Les Houches file whose events all have the same particle list layout (as the
    files :func:`write_lhe` writes); returns its init block and events. Raises LHEReadError
    naming the event and line of anything malformed."""
    path = Path(path)
    rows, heads, init_lines = [], [], []
    block, n_expected, lineno = None, 0, 0
    with open(path) as fh:
        for lineno, line in enumerate(fh, 1):
            text = line.strip()
            if text.startswith("<init"):
                block = "init"
            elif text.startswith("</init"):
                block = None
            elif text.startswith("<event"):
                block, current = "head", []
            elif text.startswith("</event"):
                if block != "body" or len(current) != n_expected:
                    raise LHEReadError(f"{path}: event {len(rows) + 1} ends at line {lineno} with {len(current)}"
                                       f" of its {n_expected} particles")
                rows.append(current)
                block = None
            elif block == "init" and text:
                init_lines.append(text.split())
            elif block == "head" and text:
                fields = text.split()
                n_expected = int(fields[0])
                heads.append([float(x) for x in fields[2:6]])
                block = "body"
            elif block == "body" and text and not text.startswith("<") and not text.startswith("#"):
                if len(current) < n_expected:
                    try:
                        values = [float(x) for x in text.split()[:11]]
                    except ValueError:
                        values = []
                    if len(values) < 11:
                        raise LHEReadError(f"{path}: line {lineno} of event {len(rows) + 1} is not a particle: {text!r}")
                    current.append(values)
    if len(init_lines) < 2:
        raise LHEReadError(f"{path}: no <init> block (is this a Les Houches Event file?)")
    if rows and len({len(r) for r in rows}) != 1:
        raise LHEReadError(f"{path}: events of different particle counts; nis reads files of one process layout")
    beam = init_lines[0]
    proc = init_lines[1]
    init = LHEInit(
        beam_pdg=(int(beam[0]), int(beam[1])), beam_energy=(float(beam[2]), float(beam[3])),
        cross_section_pb=float(proc[0]), error_pb=float(proc[1]), max_weight=float(proc[2]), process_id=int(proc[3]),
    )
    a = np.array(rows, dtype=np.float64).reshape(len(rows), -1, 11)
    h = np.array(heads, dtype=np.float64).reshape(len(rows), 4)
    status = a[0, :, 1].astype(np.int64) if len(a) else np.zeros(0, np.int64)
    events = LHEEvents(
        pdg=a[..., 0].astype(np.int64), momenta=a[..., [9, 6, 7, 8]], colour=a[..., 4:6].astype(np.int64),
        weight=h[:, 0], masses=a[..., 10], scale=h[:, 1], alpha_qed=float(h[0, 2]) if len(h) else 0.0,
        alpha_s=float(h[0, 3]) if len(h) else 0.0, n_in=int((status == -1).sum()),
        status=status, mothers=a[0, :, 2:4].astype(np.int64) if len(a) else np.zeros((0, 2), np.int64),
    )
    return init, events
