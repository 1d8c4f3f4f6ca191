"""Event generation from a sampler directory, in one process or fanned out over Dask workers.

A generation of N events with master seed S is cut into jobs of at most ``job_events`` events
(the plan depends on N and ``job_events`` only). Job j loads the sampler (once per process),
seeds its generator with :func:`~nis.production.artifact.stream_seed` (S, j) and unweights
against the sampler's w_max, so every job is a pure function of (sampler, S, j, its size):

* the merged sample is the same whichever worker ran which job, and identical, event by event,
  to running the same plan in one process (jobs merged in job order);
* a job that fails or whose worker dies is run again (Dask's ``retries`` and its rescheduling
  of a lost worker's tasks) and gives the same events, so none is duplicated or lost;
* the w_max is the sampler's, shared by all jobs, so the merged sample is correctly unweighted.

Every job also returns the integral of all the points it drew (kept or not), and the merged
cross section is their combination with its error.

Dask: ``workers=K`` starts a ``LocalCluster`` of K single-threaded processes on this machine
(:func:`local_cluster`); ``scheduler=ADDRESS`` uses a running Dask cluster (on Slurm,
Kubernetes, ...) whose workers have nis and the matrix-element provider installed and can read
the sampler directory. Dask starts its workers with ``MALLOC_TRIM_THRESHOLD_=65536``, which
also switches off glibc's adaptive mmap threshold: every large array is then a fresh mmap, and
nis ran 1.7 times slower per worker (0.60 s against 0.35 s for a 10,000-event Drell-Yan job
here, C++ matrix elements included). :func:`local_cluster` leaves that variable out; on a
cluster of your own, leave it out of ``distributed.nanny.pre-spawn-environ`` likewise.
"""

from __future__ import annotations

import math
import os
import socket
import sys
import time
from pathlib import Path

import numpy as np
import torch

from nis.production.artifact import SAMPLER, load_artifact, stream_seed

JOB_EVENTS = 10_000  #: default events per job
RETRIES = 2  #: reruns of a failed job before the generation stops

_LOADED: dict = {}


class GenerationError(RuntimeError):
    """A job failed on every try; the generation stopped and says which and why."""


def plan(n_events: int, job_events: int = JOB_EVENTS) -> list[int]:
    """Events per job: ``ceil(n / job_events)`` jobs, as equal as possible."""
    if n_events < 1 or job_events < 1:
        raise ValueError(f"events and job_events must be positive; got {n_events}, {job_events}")
    jobs = math.ceil(n_events / job_events)
    base, extra = divmod(n_events, jobs)
    return [base + (1 if j < extra else 0) for j in range(jobs)]


def _loaded(directory: str, device: str):
    """The sampler of ``directory``, loaded once per process (reloaded if the file changes)."""
    path = Path(directory).resolve()
    key = (str(path), device, os.stat(path / SAMPLER).st_mtime_ns)
    if key not in _LOADED:
        _LOADED.clear()
        _LOADED[key] = load_artifact(path, device)
    return _LOADED[key]


def run_job(directory: str, job: int, n_events: int, seed: int, device: str = "cpu") -> dict:
    """Job ``job``: ``n_events`` unweighted events of the sampler in ``directory`` from stream
    (seed, job). Returns numpy arrays ``u``, ``channel``, ``weight`` and the job's ``calls``,
    ``integral_sum``, ``variance_sum``, ``seconds``, ``host`` and ``pid``."""
    start = time.perf_counter()
    integ, manifest = _loaded(directory, device)
    integ.generator.manual_seed(stream_seed(seed, job))
    ev = integ.generate(n_events, manifest["method"], manifest["w_max"], efficiency=manifest["unweighting_efficiency"])
    return {
        "job": job, "u": ev["u"].cpu().numpy(), "channel": ev["channel"].cpu().numpy(), "weight": ev["weight"].cpu().numpy(),
        "calls": ev["calls"], "integral_sum": ev["integral_sum"], "variance_sum": ev["variance_sum"],
        "seconds": time.perf_counter() - start, "host": socket.gethostname(), "pid": os.getpid(),
    }


def merge(results: list[dict]) -> dict:
    """Jobs' results (any order) -> one sample in job order, with the combined cross section."""
    results = sorted(results, key=lambda r: r["job"])
    calls = sum(r["calls"] for r in results)
    integral = sum(r["integral_sum"] for r in results) / calls
    error = math.sqrt(max(sum(r["variance_sum"] for r in results), 0.0)) / calls
    return {
        "u": torch.from_numpy(np.concatenate([r["u"] for r in results])),
        "channel": torch.from_numpy(np.concatenate([r["channel"] for r in results])),
        "weight": torch.from_numpy(np.concatenate([r["weight"] for r in results])),
        "calls": calls, "cross_section_pb": integral, "error_pb": error, "jobs": len(results),
        "workers": len({(r["host"], r["pid"]) for r in results}),
        "job_seconds": sum(r["seconds"] for r in results),
    }


def _bar(total: int, progress: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="ev", desc="generate", disable=not progress, file=sys.stderr)


def generate_local(directory: str | Path, n_events: int, seed: int, device: str = "cpu",
                   job_events: int = JOB_EVENTS, progress: bool = True) -> dict:
    """The whole plan in this process (see :func:`merge` for what comes back)."""
    bar = _bar(n_events, progress)
    results = []
    for job, size in enumerate(plan(n_events, job_events)):
        results.append(run_job(str(directory), job, size, seed, device))
        bar.update(size)
    bar.close()
    return merge(results)


def _worker_setup() -> None:
    torch.set_num_threads(1)


def local_cluster(workers: int):
    """A Dask LocalCluster of ``workers`` single-threaded processes, started without Dask's
    ``MALLOC_TRIM_THRESHOLD_`` (see the module docstring)."""
    import dask
    from dask.distributed import LocalCluster

    environ = {k: v for k, v in dask.config.get("distributed.nanny.pre-spawn-environ", {}).items()
               if k != "MALLOC_TRIM_THRESHOLD_"}
    with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
        return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)


def generate_distributed(directory: str | Path, n_events: int, seed: int, workers: int | None = None,
                         scheduler: str | None = None, device: str = "cpu", job_events: int = JOB_EVENTS,
                         progress: bool = True) -> dict:
    """The plan fanned out over Dask: a LocalCluster of ``workers`` processes, or the cluster at
    ``scheduler``. GenerationError (naming the job and the worker's error) if a job fails
    ``RETRIES + 1`` times; nothing is merged then."""
    try:
        from dask.distributed import Client, as_completed
    except ImportError:
        raise GenerationError("Dask is not installed; install it with: python -m pip install 'dask[distributed]'"
                              " (or bash setup.sh)") from None
    directory = str(Path(directory).resolve())
    sizes = plan(n_events, job_events)
    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = local_cluster(workers or 1)
        client = Client(cluster)
    try:
        client.run(_worker_setup)
        futures = [client.submit(run_job, directory, j, size, seed, device, key=f"nis-job-{seed}-{j}",
                                 retries=RETRIES, pure=False) for j, size in enumerate(sizes)]
        bar = _bar(n_events, progress)
        results = []
        for future in as_completed(futures):
            try:
                result = future.result()
            except Exception as exc:  # noqa: BLE001 - a job's own error, reported with its number
                for f in futures:
                    f.cancel()
                raise GenerationError(f"job {future.key} failed {RETRIES + 1} times; the last error:"
                                      f" {type(exc).__name__}: {exc}") from None
            results.append(result)
            bar.update(len(result["weight"]))
        bar.close()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return merge(results)
