"""Unweighted events of a process, as an LHE file: momenta, flavours, colour flows, weights."""

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

    rng = np.random.default_rng(seed)
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

