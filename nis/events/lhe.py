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
    masses: (n,) GeV; scale (GeV), alpha_qed, alpha_s: per-run constants; n_in incoming.
    """

    pdg: np.ndarray
    momenta: np.ndarray
    colour: np.ndarray
    weight: np.ndarray
    masses: np.ndarray
    scale: float
    alpha_qed: float
    alpha_s: float
    n_in: int = 2

    def __post_init__(self):
        n, k = self.pdg.shape
        if self.momenta.shape != (n, k, 4) or self.colour.shape != (n, k, 2) or self.weight.shape != (n,):
            raise ValueError(
                f"LHE events of inconsistent shapes: pdg {self.pdg.shape}, momenta {self.momenta.shape},"
                f" colour {self.colour.shape}, weight {self.weight.shape}"
            )


def _event_block(ev: LHEEvents, i: int, process_id: int) -> str:
    n = ev.pdg.shape[1]
    lines = [
        "<event>",
        f"{n:d} {process_id:d} {ev.weight[i]: .10e} {ev.scale: .8e} {ev.alpha_qed: .8e} {ev.alpha_s: .8e}",
    ]
    for j in range(n):
        incoming = j < ev.n_in
        status, mothers = (-1, (0, 0)) if incoming else (1, (1, ev.n_in))
        e, px, py, pz = ev.momenta[i, j]
        lines.append(
            f"{ev.pdg[i, j]:d} {status:d} {mothers[0]:d} {mothers[1]:d} {ev.colour[i, j, 0]:d} {ev.colour[i, j, 1]:d}"
            f" {px: .12e} {py: .12e} {pz: .12e} {e: .12e} {ev.masses[j]: .8e} 0.0 9.0"
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
        # beams, no PDFs (PDFGUP/PDFSUP 0), weighting strategy 3, one process
        out.write(f"{b1:d} {b2:d} {e1: .8e} {e2: .8e} 0 0 0 0 3 1\n")
        out.write(f"{init.cross_section_pb: .10e} {init.error_pb: .10e} {init.max_weight: .10e} {init.process_id:d}\n")
        out.write("</init>\n")
        for i in range(events.pdg.shape[0]):
            out.write(_event_block(events, i, init.process_id))
            out.write("\n")
        out.write("</LesHouchesEvents>\n")
    os.replace(tmp, path)
    return path
