"""Unweighted events of a process, as an LHE file: momenta, flavours, colour flows, weights.

p p processes (:mod:`nis.processes.hadronic`) are written with proton beams, the incoming partons
``x1 P1`` and ``x2 P2`` of each event's subprocess, the lepton pair's Z/gamma* (PDG 23) or W (+-24)
as an intermediate resonance (status 2, so a shower keeps its mass) and SCALUP = mu_F of the event.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nis.events.colour import colour_flows
from nis.events.lhe import LHEEvents, LHEInit, write_lhe
from nis.processes.integrand import ProcessIntegrand


def write_events(
    path: str | Path,
    integrand: ProcessIntegrand,
    events: dict,
    cross_section_pb: float,
    error_pb: float,
    seed: int,
    comment: str = "",
) -> Path:
    """Write the unweighted events of :meth:`nis.integrator.Integrator.generate` to ``path``.

    Each event gets a flavour with probability proportional to its |M|^2 and a leading-colour
    flow (:mod:`nis.events.colour`); ``XWGTUP = weight * sigma``.
    """
    from nis.bridge import parse_process, sm_defaults
    from nis.processes.hadronic import HadronicIntegrand

    rng = np.random.default_rng(seed)
    if isinstance(integrand, HadronicIntegrand):
        return _write_hadronic(path, integrand, events, cross_section_pb, error_pb, rng, comment)
    p = integrand.momenta(events["u"], events["channel"])
    processes = integrand.choose_flavours(p, rng)
    p_np = p.cpu().numpy()
    weight = events["weight"].cpu().numpy() * cross_section_pb
    n, k = p_np.shape[:2]
    pdg = np.zeros((n, k), dtype=np.int64)
    colour = np.zeros((n, k, 2), dtype=np.int64)
    for proc in sorted(set(processes)):
        rows = np.array([q == proc for q in processes])
        pdg_in, pdg_out = parse_process(proc)
        ids = list(pdg_in) + list(pdg_out)
        pdg[rows] = ids
        colour[rows] = colour_flows(ids, p_np[rows], rng, n_in=integrand.n_in)
    info = integrand.info
    e_beam = 0.5 * integrand.config.sqrt_s
    init = LHEInit(
        beam_pdg=(int(pdg[0, 0]), int(pdg[0, 1])) if n else tuple(info.pdg_in),
        beam_energy=(e_beam, e_beam),
        cross_section_pb=cross_section_pb,
        error_pb=error_pb,
        max_weight=float(np.abs(weight).max()) if n else abs(cross_section_pb),
    )
    params = {**sm_defaults(), **integrand.config.parameters}
    ev = LHEEvents(
        pdg=pdg,
        momenta=p_np,
        colour=colour,
        weight=weight,
        masses=np.asarray(info.masses, dtype=np.float64),
        scale=integrand.config.scale,
        alpha_qed=float(params["alpha"]),
        alpha_s=float(params["alpha_s"]),
    )
    return write_lhe(path, init, ev, comment)



def _write_hadronic(path, integrand, events: dict, cross_section_pb: float, error_pb: float, rng, comment: str) -> Path:
    from nis.bridge import parse_process, sm_defaults
    from nis.processes.hadronic import LEPTON_CHARGE

    cfg = integrand.config
    u = events["u"]
    p, x1, x2, shat, _ = integrand.momenta(u)
    mu_f = integrand.scale2(p, shat).sqrt().cpu().numpy()
    which = integrand.choose_subprocesses(u, rng)
    p_np = p.cpu().numpy()
    n_l = len(cfg.leptons)
    if n_l:  # the pair's resonance after the incoming partons
        pair = p_np[:, 2:4].sum(axis=1, keepdims=True)
        p_np = np.concatenate([p_np[:, :2], pair, p_np[:, 2:]], axis=1)
    n, k = p_np.shape[:2]
    pdg = np.zeros((n, k), dtype=np.int64)
    colour = np.zeros((n, k, 2), dtype=np.int64)
    charge = sum(LEPTON_CHARGE[x] for x in cfg.leptons)
    for j in np.unique(which):
        rows = which == j
        pdg_in, pdg_out = parse_process(integrand.subprocesses[j].name)
        ids = list(pdg_in) + ([{0: 23, 1: 24, -1: -24}[charge]] if n_l else []) + list(pdg_out)
        pdg[rows] = ids
        colour[rows] = colour_flows(ids, p_np[rows], rng)
    status = np.ones(k, dtype=np.int64)
    status[:2] = -1
    mothers = np.tile([1, 2], (k, 1))
    mothers[:2] = 0
    if n_l:
        status[2] = 2
        mothers[3:5] = 3
    metric = np.array([1.0, -1.0, -1.0, -1.0])
    masses = np.sqrt(np.clip(np.einsum("eik,eik,k->ei", p_np, p_np, metric), 0.0, None))
    masses[:, [i for i in range(k) if i != 2 or not n_l]] = 0.0  # massless partons and leptons
    weight = events["weight"].cpu().numpy() * cross_section_pb
    params = {**sm_defaults(), **cfg.parameters}
    e_beam = 0.5 * cfg.sqrt_s
    init = LHEInit(
        beam_pdg=(2212, 2212),
        beam_energy=(e_beam, e_beam),
        cross_section_pb=cross_section_pb,
        error_pb=error_pb,
        max_weight=float(np.abs(weight).max()) if n else abs(cross_section_pb),
    )
    ev = LHEEvents(
        pdg=pdg, momenta=p_np, colour=colour, weight=weight, masses=masses, scale=mu_f,
        alpha_qed=float(params["alpha"]), alpha_s=float(params["alpha_s"]), status=status, mothers=mothers,
    )
    return write_lhe(path, init, ev, comment)
