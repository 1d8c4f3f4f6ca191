"""Unweighted events of a process as an HDF5 event file (:mod:`nis.events.hdf5`): the final
state in the lab frame with the settings that made it."""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np
import torch

import nis
from nis.events.hdf5 import EventFile, write_event_file


def final_state(integrand, events: dict) -> tuple[np.ndarray, list[str]]:
    """Final-state lab momenta (N, k, 4) and the k particle names of the events of
    :meth:`nis.integrator.Integrator.generate` (quarks of summed flavours are named ``q``/``q~``,
    partons of p p processes ``j``; t t~ -> 6 partons: b q q~ b~ q q~)."""
    from nis.processes.hadronic import JET, HadronicIntegrand
    from nis.processes.ttbar import LABELS, TTbarIntegrand

    if isinstance(integrand, TTbarIntegrand):
        return integrand.momenta(events["u"])[0].cpu().numpy(), list(LABELS)
    if isinstance(integrand, HadronicIntegrand):
        p = integrand.momenta(events["u"])[0]
        labels = list(integrand.config.leptons) + [JET] * integrand.config.n_jets
        return p[:, 2:].cpu().numpy(), labels
    p = integrand.momenta(events["u"], events["channel"])
    labels = integrand.config.matrix_element.split("->")[1].split()
    return p[:, integrand.n_in:].cpu().numpy(), labels


def run_record(result, config, w_max: float | None = None) -> dict:
    """The ``generator`` record of an event file from one ``nis integrate`` run (``result``: its
    RunResult; ``w_max``: what the events were unweighted against, default the median one)."""
    return {
        "integrand": config.integrand,
        "seed": config.seed,
        "method": result.method,
        "fallback_reason": result.fallback_reason,
        "unweighting_efficiency": result.stats.efficiency,
        "w_max": result.stats.w_max if w_max is None else w_max,
        "training_calls": config.training.calls,
    }


def write_hdf5(path: str | Path, integrand, events: dict, process: str, cross_section_pb: float, error_pb: float,
               record: dict) -> Path:
    """Write unweighted events (of :meth:`nis.integrator.Integrator.generate`) to ``path``;
    ``record``: how they were made (:func:`run_record`), stored with the versions and the date."""
    momenta, labels = final_state(integrand, events)
    generator = {
        **record,
        "nis_version": nis.__version__,
        "torch_version": torch.__version__,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    return write_event_file(
        path,
        EventFile(
            momenta=momenta,
            labels=labels,
            weights=events["weight"].cpu().numpy(),
            process=process,
            cross_section_pb=cross_section_pb,
            error_pb=error_pb,
            generator=generator,
        ),
    )
