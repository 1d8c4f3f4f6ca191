"""The portable sampler: a directory that generates events later without retraining.

``nis integrate CONFIG --save DIR`` writes, like a MadGraph gridpack::

    DIR/sampler.pt       the integrator's state: flows, channel-weight network, VEGAS grids,
                         configs, the integrand's spec (the optimiser is left out)
    DIR/manifest.json    what a generation needs and what a reader wants to see: the process
                         and its whole config, the matrix-element provider, the method
                         (nis or vegas) and why, the cross section from the integration, w_max
                         and how it was estimated, the unweighting efficiency, versions, the
                         seed policy

``nis generate DIR --events N --seed S`` loads it on any device (:func:`load_artifact`). The
artifact is refused, with the difference named, if another nis version made it or if the
process config given with it differs from the one it was trained on.

**Seed policy**: a generation with master seed S is cut into jobs j = 0, 1, ...; job j draws
from a torch generator seeded with :func:`stream_seed` (S, j), a 63-bit number from numpy's
SeedSequence of (S, j): streams of different jobs or seeds are independent, and a job rerun
anywhere gives the same events.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import platform
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

import nis

FORMAT, VERSION = "nis-sampler", 1
SAMPLER, MANIFEST = "sampler.pt", "manifest.json"
SEED_POLICY = ("job j of a generation with master seed S draws from torch.Generator().manual_seed(stream_seed(S, j)),"
               " stream_seed = 63 bits of numpy.random.SeedSequence([S, j])")


class ArtifactError(ValueError):
    """A sampler directory that is missing, damaged, from another nis version or for another process."""


def stream_seed(master: int, job: int) -> int:
    """The seed of job ``job`` of a generation with master seed ``master`` (see the seed policy)."""
    if master < 0 or job < 0:
        raise ValueError(f"seeds and job numbers are non-negative; got {master}, {job}")
    return int(np.random.SeedSequence([int(master), int(job)]).generate_state(1, np.uint64)[0] >> np.uint64(1))


def config_hash(integrand: dict) -> str:
    """sha256 of the integrand config (the process definition), keys sorted."""
    return hashlib.sha256(json.dumps(integrand, sort_keys=True, default=str).encode()).hexdigest()


def save_artifact(directory: str | Path, integ, result, config, w_max: float, efficiency: float,
                  overweight_fraction: float, estimator: str) -> Path:
    """Write the sampler of a finished ``nis integrate`` run (``integ``: its Integrator,
    ``result``: its RunResult, ``config``: its RunConfig) with the ``w_max`` events are to be
    unweighted against (``estimator`` says how it was made). Returns the directory."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = integ.state()
    state["optimizer"] = state["scheduler"] = None
    tmp = directory / (SAMPLER + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, directory / SAMPLER)
    e = result.estimate
    integrand = dict(config.integrand)
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "process": result.process,
        "config": asdict(config),
        "config_sha256": config_hash(integrand),
        "matrix_element": {key: integrand[key] for key in ("matrix_element", "provider", "function") if key in integrand},
        "method": result.method,
        "fallback_reason": result.fallback_reason,
        "cross_section_pb": e.integral,
        "error_pb": e.error,
        "chi2_dof": e.chi2_dof,
        "w_max": float(w_max),
        "w_max_estimator": estimator,
        "unweighting_efficiency": float(efficiency),
        "overweight_fraction": float(overweight_fraction),
        "seed_policy": SEED_POLICY,
        "training_seed": config.seed,
        "versions": {"nis": nis.__version__, "torch": torch.__version__, "python": platform.python_version()},
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    tmp = directory / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    os.replace(tmp, directory / MANIFEST)
    return directory


def read_manifest(directory: str | Path) -> dict:
    """The manifest of a sampler directory, checked (format, version, this nis version)."""
    directory = Path(directory)
    path = directory / MANIFEST
    if not path.is_file() or not (directory / SAMPLER).is_file():
        raise ArtifactError(f"{directory} is not a nis sampler (no {MANIFEST} and {SAMPLER}); make one with"
                            " nis integrate CONFIG --save DIR")
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"{path} is damaged: {exc}") from None
    if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise ArtifactError(f"{directory}: sampler format {manifest.get('format')!r} version {manifest.get('version')!r};"
                            f" this nis reads {FORMAT!r} version {VERSION}")
    made_by = manifest.get("versions", {}).get("nis")
    if made_by != nis.__version__:
        raise ArtifactError(f"{directory} was made by nis {made_by}; this is nis {nis.__version__}: retrain it"
                            " (nis integrate CONFIG --save DIR) or generate with the nis that made it")
    return manifest


def _differences(a, b, where: str = "integrand") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b)):
            out += _differences(a.get(key), b.get(key), f"{where}.{key}")
        return out
    return [] if a == b else [f"{where}: {a!r} in the sampler, {b!r} now"]


def check_config(manifest: dict, integrand: dict) -> None:
    """ArtifactError naming every difference between the sampler's process config and ``integrand``."""
    if config_hash(integrand) == manifest["config_sha256"]:
        return
    diff = _differences(manifest["config"]["integrand"], json.loads(json.dumps(integrand, default=str)))
    raise ArtifactError("the process config differs from the one this sampler was trained on: " + "; ".join(diff))


def load_artifact(directory: str | Path, device: str = "cpu", integrand: dict | None = None):
    """``(Integrator, manifest)`` of a sampler directory on ``device``; with ``integrand`` (a
    process config's integrand mapping) the sampler must have been trained on exactly it."""
    from nis.integrator import Integrator

    manifest = read_manifest(directory)
    if integrand is not None:
        check_config(manifest, integrand)
    state = torch.load(Path(directory) / SAMPLER, map_location="cpu", weights_only=False)
    integ = Integrator.from_state(state, device=device, where=str(directory))
    return integ, manifest
