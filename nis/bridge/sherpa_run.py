"""Running the Sherpa executable on a run card and reading what it reports: per process the cross
section, its error, the expected unweighting efficiency (raw and with Sherpa's maximum reduced to
0.1% overweights) and the integration points; the wall time; and with Les Houches output the
trials of event generation. Used by the plugin's tests and benchmark; with and without
``INTEGRATOR: NIS`` alike.

>>> run = run_sherpa({"EVENTS": 0, **card}, "work/")  # doctest: +SKIP
>>> run.xs, run.error  # pb, summed over processes  # doctest: +SKIP
"""

from __future__ import annotations

import math
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .errors import BridgeError
from .sherpa_install import SETUP_HINT, sherpa_executable

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
RESULT = re.compile(r"^(\S+) : (\S+) pb \+- \( (\S+) pb = \S+ % \)\s+exp\. eff: (\S+) %", re.M)
REDUCED = re.compile(r"reduce max for (\S+) to \S+ \( eps = \S+ -> exp\. eff (\S+) \)")
PROGRESS = re.compile(r"pb \+- \( \S+ pb = \S+ % \) (\d+) \( (\d+) -> \S+ % \)")
TRIALS = re.compile(r"<event trials='(\d+)'")


@dataclass
class ProcessResult:
    name: str
    xs: float  # pb
    error: float  # pb
    efficiency: float  # Sherpa's expected unweighting efficiency, true maximum
    efficiency_reduced: float | None  # with the maximum reduced to eps overweights


@dataclass
class SherpaRun:
    returncode: int
    log: str  # stdout and stderr, colour codes removed
    wall_seconds: float
    processes: list[ProcessResult] = field(default_factory=list)
    integration_points: int = 0  # phase-space points of the integration (last process)
    event_trials: int | None = None  # points tried for the unweighted events (Les Houches output)

    @property
    def xs(self) -> float:
        return sum(p.xs for p in self.processes)

    @property
    def error(self) -> float:
        return math.sqrt(sum(p.error**2 for p in self.processes))


def run_sherpa(card: dict, workdir: str | Path, timeout: float = 3600, lhe: str | None = None) -> SherpaRun:
    """Write ``card`` as ``Run.yaml`` into ``workdir`` and run Sherpa there.

    lhe: a file stem for Les Houches output (``<stem>.lhe``), whose trials are then counted."""
    exe = sherpa_executable()
    if exe is None:
        raise BridgeError(f"Sherpa is not installed here; set it up with: {SETUP_HINT}", "NIS_ERR_LOAD")
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    card = dict(card)
    if lhe:
        card["EVENT_OUTPUT"] = f"LHEF[{lhe}]"
    (workdir / "Run.yaml").write_text(yaml.safe_dump(card, sort_keys=False))
    start = time.perf_counter()
    proc = subprocess.run([exe, "-f", "Run.yaml"], cwd=workdir, capture_output=True, text=True, timeout=timeout)
    wall = time.perf_counter() - start
    log = ANSI.sub("", proc.stdout + proc.stderr)
    reduced = {m[1]: float(m[2]) for m in REDUCED.finditer(log)}
    processes = [
        ProcessResult(m[1], float(m[2]), float(m[3]), float(m[4]) / 100, reduced.get(m[1]))
        for m in RESULT.finditer(log)
    ]
    progress = PROGRESS.findall(log)
    run = SherpaRun(proc.returncode, log, wall, processes, int(progress[-1][1]) if progress else 0)
    if lhe and (workdir / f"{lhe}.lhe").exists():
        run.event_trials = sum(int(t) for t in TRIALS.findall((workdir / f"{lhe}.lhe").read_text()))
    return run
