"""Sherpa's own integrator as a benchmark peer: the ``Sherpa`` executable on the process and cuts of
a nis config, scored with the same estimators as every other method.

Two runs in one directory, from scratch:

1. ``EVENTS: 0``: Sherpa integrates (Comix, its multi-channel integrator with its own defaults
   and stopping rule); its phase-space points are the training calls, the wall time the training.
2. ``EVENT_GENERATION_MODE: Weighted`` with Les Houches output: each event carries its weight and
   ``trials`` (points tried for it, the ones that failed the cuts have weight 0). A weight ``w``
   with ``trials = k`` stands for ``k - 1`` zeros followed by ``w``, so the evaluation sample is
   rebuilt point by point and :func:`nis.events.unweighting_stats` gives the same robust w_max,
   efficiency and overweight fraction as for nis, VEGAS and MadNIS. Sum of weights over trials
   reproduces Sherpa's cross section (checked in the tests).

The card: for e+e- the example card ``examples/sherpa/<card>`` (``INTEGRATOR: Default``) with the
config's couplings and scale (a Sherpa run with its default electroweak inputs differs by 0.5%); for
``p p`` it is built from the :class:`~nis.processes.hadronic.HadronicConfig` (beams, PDF set,
fixed scale, couplings, a particle container with exactly the config's flavours, the lepton cuts
as selectors, anti-kT R = Delta R_min jets for the parton cuts).
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import numpy as np
import yaml

from nis.bench.peers import PeerResult
from nis.bridge.sherpa_run import PROGRESS, run_sherpa
from nis.processes.hadronic import PDG
from nis.bench.suites import EXAMPLES

__all__ = ["native_card", "run_native_sherpa", "lhe_weights", "NoResult"]

EVENT = re.compile(r"<event trials='(\d+)'[^>]*>\s*\n\s*\S+\s+\S+\s+(\S+)")
JETS = 901  # Sherpa particle containers (new ids: 93 and 94 cannot be redefined) with the config's flavours
QUARKS = 902


def native_card(config: dict, sherpa_card: str) -> dict:
    """Sherpa run card for the nis config mapping ``config`` (``load_config`` input)."""
    if sherpa_card == "hadronic":
        return _hadronic_card(config["integrand"])
    from nis.bridge.sherpa import settings_from_parameters

    spec = config["integrand"]
    card = yaml.safe_load((EXAMPLES / "sherpa" / sherpa_card).read_text())
    card.pop("NIS", None)
    card["INTEGRATOR"] = "Default"
    card.update(settings_from_parameters(spec.get("parameters", {})))  # nis' couplings, not Sherpa's defaults
    card["SCALES"] = f"VAR{{sqr({float(spec['scale'])!r})}}"
    # exactly nis' partonic final state: "q q~ g g" is not Sherpa's "93 93 93 93", which also has
    # the four-quark final states (5% of sigma at 4 jets)
    final = spec["matrix_element"].partition("->")[2].split()
    if {"q", "q~"} <= set(final) and set(final) <= {"q", "q~", "g"}:
        quarks = [s * PDG[q] for q in spec.get("flavours", ["d", "u", "s", "c", "b"]) for s in (1, -1)]
        card["PARTICLE_CONTAINERS"] = {QUARKS: {"Name": "Q", "Flavours": quarks}}
        initial = next(iter(card["PROCESSES"][0])).partition("->")[0].split()  # the card's beams' order
        process = " ".join([*initial, "->", str(QUARKS), str(QUARKS), *["21"] * final.count("g")])
        card["PROCESSES"] = [{process: {"Order": {"QCD": final.count("g"), "EW": 2}}}]
    return card


def _hadronic_card(spec: dict) -> dict:
    from nis.bridge import parse_process
    from nis.bridge.sherpa import settings_from_parameters
    from nis.processes.hadronic import NEUTRINOS, HadronicConfig

    cfg = HadronicConfig.from_mapping(spec)
    if isinstance(cfg.scale, str):
        raise ValueError(f"native Sherpa runs take a fixed scale here; the config has scale: {cfg.scale}")
    flavours = [s * PDG[q] for q in cfg.flavours for s in (1, -1)] + [21]
    leptons = list(parse_process("g g -> " + " ".join(cfg.leptons))[1]) if cfg.leptons else []  # the bridge's names
    selectors = []
    if leptons:
        selectors.append(["Mass", leptons[0], leptons[1], *cfg.mass_window])
    for name, pdg in zip(cfg.leptons, leptons):
        if name in NEUTRINOS:
            continue
        if "pt_min" in cfg.cuts:
            selectors.append(["PT", pdg, cfg.cuts["pt_min"], cfg.sqrt_s])
        if "rapidity_max" in cfg.cuts:
            selectors.append(["Eta", pdg, -cfg.cuts["rapidity_max"], cfg.cuts["rapidity_max"]])
    if cfg.n_jets:
        jc = cfg.jet_cuts
        finder = {"Algorithm": "antikt", "N": cfg.n_jets, "PTMin": jc.get("pt_min", 0.0), "DR": jc.get("delta_r_min", 0.4)}
        if "rapidity_max" in jc:
            finder["EtaMax"] = jc["rapidity_max"]
        selectors.append({"FastjetFinder": finder})
    settings = settings_from_parameters(cfg.parameters)
    settings["SCALES"] = f"VAR{{sqr({float(cfg.scale)!r})}}"
    process = " ".join([f"{JETS} {JETS} ->", *map(str, leptons), *[str(JETS)] * cfg.n_jets])
    return {
        "BEAMS": 2212, "BEAM_ENERGIES": cfg.sqrt_s / 2, "PDF_SET": cfg.pdf, "ME_GENERATORS": ["Comix"],
        "SHOWER_GENERATOR": "None", "FRAGMENTATION": "None", "MI_HANDLER": "None", "BEAM_REMNANTS": False,
        "ME_QED": {"ENABLED": False}, **settings,
        "PARTICLE_CONTAINERS": {JETS: {"Name": "j", "Flavours": flavours}},
        "PROCESSES": [{process: {"Order": {"QCD": cfg.n_jets, "EW": len(leptons)}}}],
        "SELECTORS": selectors,
    }


class NoResult(RuntimeError):
    """Sherpa ran but reported no cross section."""


def lhe_weights(path: str | Path) -> np.ndarray:
    """Point-by-point weights of a weighted Sherpa Les Houches file (zeros for failed trials)."""
    text = Path(path).read_text()
    found = EVENT.findall(text)
    if not found:
        raise ValueError(f"{path}: no <event trials='...'> records (was it written in weighted mode?)")
    trials = np.array([int(t) for t, _ in found])
    weights = np.array([float(w) for _, w in found])
    out = np.zeros(int(trials.sum()))
    out[np.cumsum(trials) - 1] = weights
    return out


def run_native_sherpa(card: dict, workdir: str | Path, eval_calls: int, seed: int, timeout: float = 4 * 3600) -> PeerResult:
    """Integrate with Sherpa alone, then draw about ``eval_calls`` weighted points (see the module)."""
    workdir = Path(workdir)
    shutil.rmtree(workdir, ignore_errors=True)  # from scratch: no earlier Results/ reused
    card = {**card, "RANDOM_SEED": 4321 + int(seed)}
    first = run_sherpa({**card, "EVENTS": 0}, workdir, timeout=timeout)
    if first.returncode == 0 and not first.processes:
        raise NoResult(f"Sherpa's integration in {workdir} ended without a cross section (budget PSI: NRAWMAX"
                       f" spent before one optimisation step of PSI: ITMIN points passing the cuts?)")
    if first.returncode != 0:
        raise RuntimeError(f"Sherpa's integration failed in {workdir}:\n{first.log[-3000:]}")
    # events = points with a non-zero weight: aim well above eval_calls points (the share that
    # passes differs between integration and generation), then cut the
    # sequence of points at eval_calls (a prefix of independent points is a sample of its own)
    events = max(100, int(2 * eval_calls * _pass_fraction(first.log)))
    start = time.perf_counter()
    second = run_sherpa({**card, "EVENTS": events, "EVENT_GENERATION_MODE": "Weighted"}, workdir,
                        timeout=timeout, lhe="weighted")
    eval_seconds = time.perf_counter() - start
    if second.returncode != 0:
        raise RuntimeError(f"Sherpa's weighted event generation failed in {workdir}:\n{second.log[-3000:]}")
    w = lhe_weights(workdir / "weighted.lhe")[:eval_calls]
    return PeerResult.from_weights(
        "sherpa", w, train_calls=first.integration_points, eval_calls=w.size, train_seconds=first.wall_seconds,
        eval_seconds=eval_seconds,
        extra={"sherpa_xs_pb": first.xs, "sherpa_error_pb": first.error,
               "sherpa_efficiency": first.processes[0].efficiency,
               "sherpa_efficiency_reduced": first.processes[0].efficiency_reduced, "events": events},
    )


def _pass_fraction(log: str) -> float:
    """Share of Sherpa's integration points with a non-zero weight, from its last progress line
    ("... n_nonzero ( n_points -> ... )"); 1 when the log does not say."""
    found = PROGRESS.findall(log)
    if not found or int(found[-1][1]) == 0:
        return 1.0
    return min(1.0, max(1e-3, int(found[-1][0]) / int(found[-1][1])))
