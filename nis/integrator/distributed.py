"""Data-parallel training over several processes with ``torch.distributed`` (gloo on CPU,
nccl on GPUs): the same result as one device, within statistics, in less wall time per step.

Each rank is a :class:`DistributedIntegrator`, an :class:`~nis.integrator.Integrator` that

* draws its own points: its generator is seeded with ``stream_seed(seed, rank)``
  (:func:`nis.production.artifact.stream_seed`), so the ranks' streams are independent;
* takes ``training.batch_size / world_size`` of every online batch (``training.batch_size`` stays
  the *global* batch, so the number of steps, the budget and the loss per step are those of one
  device) and keeps its own buffer of ``buffer_capacity`` local batches: the buffer is sharded;
* averages the gradients over ranks before every optimiser step (one all-reduce per dtype of
  the flattened gradients, SUM / world_size), so that all ranks keep identical parameters
  (bitwise: every rank receives the very same reduced sum);
* agrees with the others on everything else that training adapts: the initial parameters and
  the VEGAS pre-training grids are rank 0's, broadcast (rank 0 alone spends the pre-training
  budget with the ``vegas`` package); the fallback VEGAS grids refine on the *all-reduced*
  accumulators of all ranks' points (a refinement every ``refine_points`` points of all ranks
  together, as on one device), so every rank computes the same grid; the per-channel weight
  mean and spread that set the channel shares and drop channels, the NaN flag and the logged
  loss are all-reduced at every ``log_every`` step, so early stopping is decided collectively
  and no rank waits for another that has stopped.

After training the ranks sum their integrand calls, and rank 0 alone validates (flow against
VEGAS) and integrates with ``integration.calls`` fresh points: the final estimate is an ordinary
one-device estimate with an ordinary error. The other ranks return after training.

:func:`run_distributed` launches ``world_size`` processes (``torch.multiprocessing.spawn``,
rendezvous on a free localhost port) and returns rank 0's :class:`RunResult`, with the ranks'
step times in ``result.training["distributed"]``. With ``world_size == 1`` it runs in the
calling process and no process group is made.

Checkpoints (``checkpoint_path``) are written by rank 0 only and hold rank 0's buffer shard and
the per-rank batch size; they are meant for inspection, not for resuming on another world size.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import tempfile
import time
from pathlib import Path

import torch
import torch.distributed as dist

from nis.config import RunConfig
from nis.integrator.integrator import Integrator, RunResult
from nis.production.artifact import stream_seed


def available(backend: str = "gloo") -> bool:
    """Whether torch.distributed and ``backend`` can be used here."""
    if not dist.is_available():
        return False
    if backend == "gloo":
        return dist.is_gloo_available()
    if backend == "nccl":
        return dist.is_nccl_available() and torch.cuda.is_available()
    return False


def free_port() -> int:
    """A TCP port on localhost that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def process_group(backend: str, port: int, rank: int, world_size: int):
    """This rank's part of a localhost process group, torn down only once every rank is done.

    On a normal exit all ranks meet at a barrier before any destroys its group: a rank that
    finished first and tore gloo down while another still ran died with SIGABRT ("terminate
    called without an active exception"). On an exception the group is destroyed at once.
    """
    dist.init_process_group(backend, init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world_size)
    try:
        yield
        dist.barrier()
    finally:
        dist.destroy_process_group()


def average_gradients(parameters, world_size: int, group=None) -> None:
    """Replace every gradient by its average over the ranks (SUM / world_size), in one
    all-reduce per dtype. Parameters without a gradient are skipped: the ranks build the same
    graph (they share shares and counts), so they skip the same ones."""
    if world_size <= 1:
        return
    by_dtype: dict[torch.dtype, list[torch.Tensor]] = {}
    for p in parameters:
        if p.grad is not None:
            by_dtype.setdefault(p.grad.dtype, []).append(p.grad)
    for grads in by_dtype.values():
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat, op=dist.ReduceOp.SUM, group=group)
        flat /= world_size
        offset = 0
        for g in grads:
            n = g.numel()
            g.copy_(flat[offset : offset + n].view_as(g))
            offset += n


def flat_parameters(module: torch.nn.Module) -> torch.Tensor:
    """All of ``module``'s parameters, float64, in one vector (to compare ranks)."""
    return torch.cat([p.detach().reshape(-1).to(torch.float64).cpu() for p in module.parameters()])


class DistributedIntegrator(Integrator):
    """One rank of data-parallel training; see the module docstring.

    ``training.batch_size`` is the global batch (must be at least ``world_size``); the rank
    trains with ``batch_size // world_size`` points a step. ``world_size == 1`` with no process
    group works too (then nothing is communicated).
    """

    def __init__(self, integrand, flow=None, training=None, integration=None, seed: int = 1, device="cpu",
                 integrand_spec=None, rank: int = 0, world_size: int = 1, group=None,
                 capture_gradients: bool = False):
        from nis.config import TrainingConfig

        training = training or TrainingConfig()
        if training.batch_size < world_size:
            raise ValueError(f"training.batch_size ({training.batch_size}) must be at least world_size ({world_size})")
        self.rank, self.world_size, self.group = int(rank), int(world_size), group
        self.global_training = training
        local = dataclasses.replace(training, batch_size=training.batch_size // self.world_size)
        super().__init__(integrand, flow, local, integration, seed, device, integrand_spec)
        self.generator.manual_seed(stream_seed(self.seed, self.rank))
        self.optimiser_times: list[float] = []  # perf_counter after every gradient sync
        self.train_seconds = 0.0
        self.capture_gradients = capture_gradients
        self.captured: list[dict] = []  # per optimiser step, with capture_gradients: local / averaged grads
        self._broadcast_module(self.model)  # identical initial parameters, whatever the seeding

    # -- communication -------------------------------------------------------------------
    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def _broadcast_module(self, module: torch.nn.Module) -> None:
        """Every parameter and buffer of ``module`` from rank 0."""
        if not self.distributed:
            return
        for t in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(t.data, src=0, group=self.group)
        self.model._share_version += 1  # shares may have changed: recount

    def _all_reduce(self, t: torch.Tensor, op=None) -> torch.Tensor:
        if self.distributed:
            dist.all_reduce(t, op=op or dist.ReduceOp.SUM, group=self.group)
        return t

    def _sync_gradients(self) -> None:
        params = self._parameters()
        if self.capture_gradients:
            local = flat_grads(params)
        average_gradients(params, self.world_size, self.group)
        if self.capture_gradients:
            self.captured.append({"local": local, "averaged": flat_grads(params),
                                  "before": flat_parameters(self.model)})
        self.optimiser_times.append(time.perf_counter())

    # -- stages ----------------------------------------------------------------------------
    def flow_steps(self) -> int:
        """Online steps of the global budget: the same number as on one device."""
        cfg = self.global_training
        return (cfg.calls - int(cfg.vegas_fraction * cfg.calls)) // cfg.batch_size

    def pretrain_vegas(self, calls: int) -> None:
        """Rank 0 adapts the grids with all ``calls``; the others receive its model."""
        if self.rank == 0:
            super().pretrain_vegas(calls)
        self._broadcast_module(self.model)
        self.vegas_done = True

    def _feed_fallback(self, channel: int, d, batch) -> None:
        """As on one device, but a refinement uses the summed accumulators of all ranks, every
        ``refine_points`` points of all ranks together. The ranks draw the same counts, so their
        ``pending`` agree and they reach the all-reduce together."""
        alpha = self.model.alpha(batch.features, batch.prior, learned=False)[:, channel]
        grid = self.model.fallback[channel]
        grid.accumulate(d.u, alpha * batch.value.abs(), d.log_q)
        if grid.pending * self.world_size >= self.global_training.refine_points(self.integrand.n_channels):
            grid.refine(passes=self.global_training.fallback_passes, reduce=self._all_reduce)

    def _checkpoint_step(self, bad, mean, sigma, loss, n_steps) -> None:
        """Average the channel means and spreads and the loss, OR the NaN flags, then decide as
        one device would: all ranks drop the same channels, set the same shares and stop together."""
        if self.distributed:
            packed = torch.cat([bad.reshape(1).to(torch.float64), mean.to(torch.float64),
                                sigma.to(torch.float64), loss.detach().reshape(1).to(torch.float64)])
            self._all_reduce(packed)  # every rank receives the same sums, NaN included
            c = mean.shape[0]
            bad = bad | (packed[0] > 0)
            mean.copy_(packed[1 : 1 + c] / self.world_size)
            sigma.copy_(packed[1 + c : 1 + 2 * c] / self.world_size)
            loss = packed[-1] / self.world_size
        super()._checkpoint_step(bad, mean, sigma, loss, n_steps)

    def train(self, progress: bool = False) -> None:
        start = time.perf_counter()
        super().train(progress=progress and self.rank == 0)
        self.train_seconds += time.perf_counter() - start

    def step_times(self) -> list[float]:
        """Wall time of each online step (with its buffered steps) after the first."""
        per = 1 + self.training.buffered_steps
        stamps = self.optimiser_times[per - 1 :: per]
        return [b - a for a, b in zip(stamps, stamps[1:])]

    def train_all(self, progress: bool = False) -> int:
        """Stages 1-2 on every rank (collective); returns the integrand calls of all ranks."""
        forced = self.integration.fallback == "always_vegas"
        if not self.vegas_done:
            cfg = self.global_training
            self.pretrain_vegas(cfg.calls if forced else int(cfg.vegas_fraction * cfg.calls))
        if not forced:
            self.train(progress=progress)
            if self.stop_reason is not None:
                self.adapt_fallback((self.flow_steps() - self.step) * self.training.batch_size)
        calls = torch.tensor([self.n_calls], dtype=torch.float64, device=self.device)  # nccl: on the GPU
        return int(self._all_reduce(calls).item())

    def run(self, process: str | None = None, progress: bool = False) -> RunResult | None:
        """Train on all ranks, then validate and integrate on rank 0; None on the other ranks."""
        start = time.perf_counter()
        total_training_calls = self.train_all(progress)
        if self.rank != 0:
            return None
        other_calls = total_training_calls - self.n_calls
        method, reason, comparison = self.validate()
        return self._finish(process, method, reason, comparison, start, other_calls)

    def report(self) -> dict:
        """What a rank tells the launcher: timings, calls, its parameters and first buffered points."""
        times = self.step_times()
        return {
            "rank": self.rank,
            "world_size": self.world_size,
            "steps": self.step,
            "train_seconds": self.train_seconds,
            "step_times": times,
            "mean_step_seconds": sum(times) / len(times) if times else None,
            "n_calls": self.n_calls,
            "parameters": flat_parameters(self.model),
            "fallback_grids": torch.cat([g.grid.reshape(-1) for g in self.model.fallback]).cpu(),
            "vegas_grids": torch.cat([g.grid.reshape(-1) for g in self.model.vegas]).cpu(),
            "share": self.model.share.detach().cpu().clone(),
            "first_points": self.buffers[0].v[: min(8, self.buffers[0].size)].cpu().clone(),
            "captured": self.captured,
            "stop_reason": self.stop_reason,
        }


def flat_grads(params) -> torch.Tensor:
    return torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).detach().reshape(-1)
                      .to(torch.float64).cpu() for p in params])


def _build(config: RunConfig, rank: int, world_size: int, device: str, group=None, capture_gradients=False):
    from nis.integrands import make_integrand

    integrand = make_integrand(config.integrand, name=config.process)
    return DistributedIntegrator(
        integrand, config.flow, config.training, config.integration, seed=config.seed, device=device,
        integrand_spec=config.integrand, rank=rank, world_size=world_size, group=group,
        capture_gradients=capture_gradients,
    )


def _worker(rank: int, world_size: int, port: int, backend: str, device: str, config: RunConfig,
            outdir: str, options: dict) -> None:
    threads = options.get("threads_per_rank")
    if threads:
        torch.set_num_threads(int(threads))
    if device == "cuda":
        torch.cuda.set_device(rank % torch.cuda.device_count())
        device = f"cuda:{rank % torch.cuda.device_count()}"
    with process_group(backend, port, rank, world_size):
        integ = _build(config, rank, world_size, device, capture_gradients=options.get("capture_gradients", False))
        if options.get("train_only"):
            integ.train_all()
            result = None
        else:
            result = integ.run(process=config.process)
        out = {"result": result, "report": integ.report()}
        path = Path(outdir) / f"rank{rank}.pt"
        torch.save(out, str(path) + ".tmp")
        os.replace(str(path) + ".tmp", path)


def run_distributed(config: RunConfig, world_size: int, backend: str = "gloo", device: str | None = None,
                    threads_per_rank: int | None = 1, train_only: bool = False, capture_gradients: bool = False,
                    return_reports: bool = False, spawn_single: bool = False):
    """Run ``config`` with data-parallel training on ``world_size`` processes.

    backend: "gloo" (CPU) or "nccl" (one GPU per rank, ``device="cuda"``); device defaults to
    ``config.device``. threads_per_rank: torch threads in each process (None: torch's default).
    train_only: stop after training (then the result is None; the reports hold what training did).
    capture_gradients: each rank records local and averaged gradients of every optimiser step.

    Returns rank 0's :class:`RunResult` (``training["distributed"]`` holds the world size and
    each rank's mean step time), or ``(result, reports)`` with ``return_reports``: one dict per
    rank (:meth:`DistributedIntegrator.report`). ``world_size == 1`` runs in this process unless
    ``spawn_single``.
    """
    if world_size < 1:
        raise ValueError(f"world_size must be at least 1; got {world_size}")
    device = device or config.device
    if backend == "nccl" and not str(device).startswith("cuda"):
        raise ValueError("backend nccl needs device='cuda'")
    if world_size == 1 and not spawn_single:
        old = torch.get_num_threads()
        if threads_per_rank:
            torch.set_num_threads(int(threads_per_rank))
        try:
            integ = _build(config, 0, 1, device, capture_gradients=capture_gradients)
            if train_only:
                integ.train_all()
                result = None
            else:
                result = integ.run(process=config.process)
            reports = [integ.report()]
        finally:
            torch.set_num_threads(old)
    else:
        if not available(backend):
            raise RuntimeError(f"torch.distributed backend {backend!r} is not available here")
        import torch.multiprocessing as mp

        options = {"threads_per_rank": threads_per_rank, "train_only": train_only,
                   "capture_gradients": capture_gradients}
        with tempfile.TemporaryDirectory(prefix="nis-ddp-") as outdir:
            mp.spawn(_worker, args=(world_size, free_port(), backend, str(device), config, outdir, options),
                     nprocs=world_size, join=True)
            outs = [torch.load(Path(outdir) / f"rank{r}.pt", weights_only=False) for r in range(world_size)]
        result = outs[0]["result"]
        reports = [o["report"] for o in outs]
    if result is not None:
        result.training["distributed"] = {
            "world_size": world_size,
            "backend": backend if world_size > 1 else None,
            "mean_step_seconds": [r["mean_step_seconds"] for r in reports],
            "train_seconds": [r["train_seconds"] for r in reports],
        }
    return (result, reports) if return_reports else result
