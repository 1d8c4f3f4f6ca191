"""Multi-channel neural importance sampling: VEGAS pre-training, flow training, the choice
between flow and VEGAS on fresh points, the final integration and unweighted events.

The stages of :meth:`Integrator.run`:

1. **VEGAS** (``training.vegas_fraction`` of ``training.calls``; default 0, the stage is skipped
   and the flows start on the flat cube): each channel's grid is adapted by the ``vegas``
   package to ``alpha^prior_c |value_c|``. The grid becomes a fixed first map in front of the
   channel's flow, which starts as the identity: training starts at VEGAS.
2. **Flow training** (the rest of ``training.calls``): online steps on fresh points, each
   followed by ``buffered_steps`` steps on samples from the buffer; samples go to the channels
   in proportion to their weight standard deviation; channels that carry less than
   ``drop_threshold`` of the integral are dropped. NaN in the loss stops training and restores
   the last good snapshot; the flow is then not used. Meanwhile every fresh point also trains a
   second VEGAS grid per channel, the fallback, by importance-weighted VEGAS refinements (one
   per ``calls / vegas_iterations`` points; with ``fallback_passes`` > 1 that many on all points
   so far), and calls left by an early stop go to it too: the fallback is VEGAS adapted on the
   whole training budget, never on just its first part.
   ``integration.fallback = always_vegas`` skips the flow and gives the whole budget to stage 1.
3. **Validation**: ``integration.validation_calls`` fresh points from the flow sampler and from
   the fallback VEGAS sampler (prior channel weights), each with the channel shares it would
   integrate with (VEGAS: a fifth of its points on equal shares measure the channels' spreads,
   the rest use shares proportional to them), and efficiencies projected to the integration's
   sample size (:meth:`Integrator.figures`). The flow is kept only if it wins on
   the criterion ``integration.fallback`` (default: lower variance *and* higher unweighting
   efficiency); otherwise ``method = "vegas"`` and ``fallback_reason`` says why.
4. **Integration**: ``integration.calls`` fresh points in ``integration.iterations`` equal
   iterations of the frozen winner, combined with a chi2/dof check; ``w_max`` and the
   unweighting efficiency from the same points.

Every integrand call, in every stage, is counted in ``n_calls``.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

import nis
from nis.config import FlowConfig, IntegrationConfig, TrainingConfig
from nis.device import torch_device
from nis.events.unweighting import UnweightingStats, unweight, unweighting_stats
from nis.integrator import losses
from nis.integrator.buffer import SampleBuffer
from nis.integrator.estimate import CombinedEstimate, WeightedSample, combine
from nis.integrator.integrand import Integrand
from nis.integrator.sampler import MultiChannelSampler
from nis.integrator.vegas_map import adapt_vegas

CHECKPOINT_FORMAT = "nis-checkpoint-2"


@dataclass
class Comparison:
    """Flow against VEGAS on the same number of fresh points."""

    nis: UnweightingStats
    vegas: UnweightingStats
    nis_relative_error: float  # error of the estimate per sqrt(point), relative
    vegas_relative_error: float

    def as_dict(self) -> dict:
        return {
            "nis": {**self.nis.as_dict(), "relative_error": self.nis_relative_error},
            "vegas": {**self.vegas.as_dict(), "relative_error": self.vegas_relative_error},
        }


@dataclass
class RunResult:
    """Everything a run reports; :meth:`as_json` gives the keys of the ``nis integrate`` contract."""

    process: str
    method: str
    fallback_reason: str | None
    estimate: CombinedEstimate
    stats: UnweightingStats
    comparison: Comparison | None
    n_integrand_calls: int
    n_channels: int
    n_active_channels: int
    wall_seconds: float
    device: str
    seed: int
    exact: float | None = None
    training: dict = field(default_factory=dict)

    def as_json(self) -> dict:
        out = {
            "process": self.process,
            "method": self.method,
            "fallback_reason": self.fallback_reason,
            "cross_section_pb": self.estimate.integral,
            "error_pb": self.estimate.error,
            "unweighting_efficiency": self.stats.efficiency,
            "overweight_fraction": self.stats.overweight_fraction,
            "n_integrand_calls": self.n_integrand_calls,
            "n_channels": self.n_channels,
            "wall_seconds": self.wall_seconds,
            "device": self.device,
            "seed": self.seed,
            # extensions beyond the contract
            "chi2_dof": self.estimate.chi2_dof,
            "q_value": self.estimate.q_value,
            "iterations": self.estimate.iterations,
            "n_active_channels": self.n_active_channels,
            "w_max": self.stats.w_max,
            "unweighting_efficiency_quantile": self.stats.efficiency_quantile,
            "w_max_quantile": self.stats.w_max_quantile,
            "overweight_fraction_quantile": self.stats.overweight_fraction_quantile,
            "effective_sample_size": self.stats.effective_sample_size,
            "relative_std_per_point": self.stats.relative_std,
            "negative_weight_fraction": self.stats.negative_fraction,
            "exact": self.exact,
            "training": self.training,
            "nis_version": nis.__version__,
        }
        if self.comparison is not None:
            out["validation"] = self.comparison.as_dict()
        return out


class Integrator:
    """Neural importance sampling of one :class:`Integrand` with a VEGAS fallback.

    >>> from nis.testfunctions import make_test_function
    >>> from nis.config import TrainingConfig, IntegrationConfig
    >>> f = make_test_function("gaussian", dims=2)
    >>> integ = Integrator(f, training=TrainingConfig(calls=20_000),
    ...                    integration=IntegrationConfig(calls=20_000, validation_calls=5_000))
    >>> result = integ.run()
    >>> abs(result.estimate.integral - f.exact) < 5 * result.estimate.error
    True
    """

    def __init__(
        self,
        integrand: Integrand,
        flow: FlowConfig | None = None,
        training: TrainingConfig | None = None,
        integration: IntegrationConfig | None = None,
        seed: int = 1,
        device: str | torch.device = "cpu",
        integrand_spec: dict | None = None,
    ):
        self.integrand = integrand
        self.flow_config = flow or FlowConfig()
        self.training = training or TrainingConfig()
        self.integration = integration or IntegrationConfig()
        self.seed = int(seed)
        self.device = torch_device(device)
        self.integrand_spec = integrand_spec
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            refined = self.integration.fallback != "always_vegas"  # the fallback learns from the flow's points
            self.model = MultiChannelSampler(
                integrand.dims, integrand.n_channels, integrand.feature_dims, self.flow_config, self.training,
                fallback_bins=self.training.fallback_increments(integrand.n_channels, refined),
            ).to(self.device)
        per_channel = self.training.buffer_capacity * self.training.batch_size
        self.buffers = torch.nn.ModuleList(
            SampleBuffer(per_channel, integrand.dims, integrand.feature_dims, integrand.n_channels)
            for _ in range(integrand.n_channels)
        ).to(self.device)
        self.generator = torch.Generator(self.device).manual_seed(self.seed)
        self.optimizer = None
        self.scheduler = None
        self.step = 0  # online training steps done
        self.vegas_done = False
        self.n_calls = 0
        self.history: list[dict] = []
        self.stop_reason: str | None = None  # why training stopped early (NaN)
        self.checkpoint_path: Path | None = None
        self._last_good: dict | None = None
        self.validation_shares: dict[str, torch.Tensor] = {}  # per method, the channel spreads validation measured

    # -- integrand calls ---------------------------------------------------------------
    def _evaluate(self, channel: int, u: torch.Tensor):
        self.n_calls += u.shape[0]
        return self.integrand(u, channel)

    def _weights(self, channel: int, n: int, use_flow: bool):
        """Draw ``n`` points of ``channel`` and return ``(draw, batch, w)``, w = alpha value / q."""
        d = self.model.draw(channel, n, self.generator, use_flow)
        batch = self._evaluate(channel, d.u)
        with torch.no_grad():
            alpha = self.model.alpha(batch.features, batch.prior, learned=use_flow)[:, channel]
        return d, batch, alpha * batch.value * torch.exp(-d.log_q)

    def weighted_sample(self, n: int, use_flow: bool = True) -> WeightedSample:
        """``n`` fresh weighted points split over the channels by the current share."""
        counts = self.model.counts(n)
        empty = torch.zeros(0, dtype=torch.float64, device=self.device)
        return WeightedSample([self._weights(c, k, use_flow)[2] if k else empty for c, k in enumerate(counts)])

    # -- stage 1: VEGAS ----------------------------------------------------------------
    def pretrain_vegas(self, calls: int) -> None:
        """Adapt every channel's VEGAS grid with ``calls`` integrand calls in all."""
        per_channel = calls // self.integrand.n_channels
        for c in range(self.integrand.n_channels):

            def fn(x: np.ndarray, c=c) -> np.ndarray:
                u = torch.as_tensor(x, dtype=torch.float64, device=self.device)
                batch = self._evaluate(c, u)
                alpha = self.model.alpha(batch.features, batch.prior, learned=False)[:, c]
                return (alpha * batch.value.abs()).cpu().numpy()

            grid, _, _ = adapt_vegas(
                fn,
                self.integrand.dims,
                per_channel,
                self.training.vegas_iterations,
                seed=self.seed * 1000 + c,
            )
            self.model.vegas[c].set_grid(grid)
            self.model.fallback[c].set_grid(grid)
        self.vegas_done = True

    def _feed_fallback(self, channel: int, d, batch) -> None:
        """Let the fallback grid of ``channel`` learn from drawn points ``d`` and their ``batch``."""
        alpha = self.model.alpha(batch.features, batch.prior, learned=False)[:, channel]
        f = alpha * batch.value.abs()
        grid = self.model.fallback[channel]
        grid.accumulate(d.u, f, d.log_q)
        if grid.pending >= self.training.refine_points(self.integrand.n_channels):
            grid.refine(passes=self.training.fallback_passes)

    def adapt_fallback(self, calls: int) -> None:
        """Spend ``calls`` integrand calls adapting the fallback grids on their own points (when
        flow training stopped early, so the fallback still gets the whole budget)."""
        while calls > 0:
            n = min(calls, self.training.batch_size)
            for c, k in enumerate(self.model.counts(n)):
                if k:
                    d = self.model.draw(c, k, self.generator, use_flow=False)
                    self._feed_fallback(c, d, self._evaluate(c, d.u))
            calls -= n

    # -- stage 2: flow training ----------------------------------------------------------
    def _channel_loss(self, rows) -> torch.Tensor:
        """Loss over channels from rows ``(c, v, log_jac, value, log_q_sample, features, prior)``."""
        name = self.training.loss
        learn_alpha = self.model.alpha.net is not None
        parts, alpha_parts = [], []
        total = sum(row[1].shape[0] for row in rows)
        shares = [row[1].shape[0] / total for row in rows]  # the allocation these points came with
        for c, v, log_jac, value, log_qs, features, prior in rows:
            log_q = self.model.log_q(c, v, log_jac)
            alpha = self.model.alpha(features, prior if self.integrand.n_channels > 1 else None)[:, c]
            f = alpha * value.abs()
            if name == "variance":
                parts.append((f, log_q, log_qs))
            else:
                parts.append((f.detach(), log_q, log_qs))
                alpha_parts.append((f, log_q.detach(), log_qs))
        loss = losses.multichannel(name, parts, shares, self.training.renyi_order)
        if learn_alpha and alpha_parts:
            loss = loss + losses.multichannel("variance", alpha_parts, shares)
        return loss

    def _optimise(self, loss: torch.Tensor) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self._sync_gradients()
        torch.nn.utils.clip_grad_norm_(self._parameters(), self.training.grad_clip)
        self.optimizer.step()
        self.scheduler.step()

    def _sync_gradients(self) -> None:
        """Hook between ``backward`` and the optimiser step; nothing on one device (data-parallel
        training averages the gradients over ranks here: :mod:`nis.integrator.distributed`)."""

    def _parameters(self):
        return [p for p in self.model.parameters() if p.requires_grad]

    def _setup_optimizer(self, n_steps: int) -> None:
        if self.optimizer is not None:
            return
        self.optimizer = torch.optim.Adam(self._parameters(), lr=self.training.learning_rate)
        total = max(1, n_steps * (1 + self.training.buffered_steps))
        self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
            self.optimizer, T_max=total, eta_min=0.01 * self.training.learning_rate
        )

    def flow_steps(self) -> int:
        """Online training steps the budget allows."""
        cfg = self.training
        flow_calls = cfg.calls - int(cfg.vegas_fraction * cfg.calls)
        return flow_calls // cfg.batch_size

    def train(self, progress: bool = False) -> None:
        """Train the flows (and alpha) for the rest of the budget; resumable after :meth:`load`."""
        n_steps = self.flow_steps()
        self._setup_optimizer(n_steps)
        cfg = self.training
        bar = None
        if progress and n_steps > self.step:
            from tqdm import tqdm

            bar = tqdm(total=n_steps, initial=self.step, desc="training", unit="step", leave=False)
        bad = torch.zeros((), dtype=torch.bool, device=self.device)
        sigma = torch.zeros(self.integrand.n_channels, dtype=torch.float64, device=self.device)
        mean = torch.zeros_like(sigma)
        self._last_good = self._snapshot()
        try:
            while self.step < n_steps and self.stop_reason is None:
                rows = []
                counts = self.model.counts(cfg.batch_size)
                for c, k in enumerate(counts):
                    if k == 0:
                        continue
                    d, batch, w = self._weights(c, k, use_flow=True)
                    self._feed_fallback(c, d, batch)
                    prior = batch.prior
                    if prior is None and self.integrand.n_channels > 1:  # uniform prior, stored as such
                        prior = torch.full_like(batch.features[:, :1], 1.0 / self.integrand.n_channels).expand(
                            -1, self.integrand.n_channels
                        )
                    self.buffers[c].push(
                        v=d.v, log_jac=d.log_jac, value=batch.value, log_q_sample=d.log_q,
                        features=batch.features, prior=prior,
                    )
                    rows.append((c, d.v, d.log_jac, batch.value, d.log_q, batch.features, prior))
                    sigma[c] = 0.9 * sigma[c] + 0.1 * w.std() if self.step else w.std()
                    mean[c] = 0.9 * mean[c] + 0.1 * w.mean() if self.step else w.mean()
                loss = self._channel_loss(rows)
                bad |= ~torch.isfinite(loss)
                self._optimise(loss)
                for _ in range(cfg.buffered_steps):
                    rows = []
                    for c, k in enumerate(counts):
                        if k == 0:
                            continue
                        b = self.buffers[c].draw(k, self.generator)
                        prior = b["prior"] if self.integrand.n_channels > 1 else None
                        rows.append((c, b["v"], b["log_jac"], b["value"], b["log_q_sample"], b["features"], prior))
                    loss = self._channel_loss(rows)
                    bad |= ~torch.isfinite(loss)
                    self._optimise(loss)
                self.step += 1
                if self.step % cfg.log_every == 0 or self.step == n_steps:
                    self._checkpoint_step(bad, mean, sigma, loss, n_steps)
                    if bar is not None:
                        h = self.history[-1]
                        bar.set_postfix(loss=f"{h['loss']:.3g}", I=f"{h['integral']:.5g}", rel_std=f"{h['rel_std']:.3g}")
                        bar.update(self.step - bar.n)
        except KeyboardInterrupt:
            if self._last_good is not None:
                self._restore(self._last_good)
                if self.checkpoint_path is not None:
                    self.save(self.checkpoint_path)
            raise
        finally:
            if bar is not None:
                bar.close()

    def _checkpoint_step(self, bad, mean, sigma, loss, n_steps) -> None:
        """Every ``log_every`` steps: NaN check, allocation, channel dropping, snapshot, log."""
        if bool(bad):
            self.stop_reason = f"training produced NaN or inf in the loss before step {self.step}"
            self._restore(self._last_good)
            return
        means = mean.abs()
        total = float(means.sum())
        active = self.model.alpha.active
        if self.step >= n_steps // 4 and total > 0 and int(active.sum()) > 1:
            small = (means / total < self.training.drop_threshold) & active
            if bool(small.any()) and int((active & ~small).sum()) >= 1:
                active &= ~small
        self.model.set_share(sigma, self.training.min_channel_fraction)
        integral = float(mean.sum())
        # relative standard deviation per point under the current allocation
        rel_std = float((sigma * active).sum()) / abs(integral) if integral else float("inf")
        self.history.append({"step": self.step, "loss": float(loss.detach()), "integral": integral, "rel_std": rel_std})
        self._last_good = self._snapshot()
        if self.checkpoint_path is not None:
            self.save(self.checkpoint_path)

    def _snapshot(self) -> dict:
        return {"model": copy.deepcopy(self.model.state_dict()), "step": self.step}

    def _restore(self, snap: dict) -> None:
        self.model.load_state_dict(snap["model"])
        self.step = snap["step"]

    # -- stage 3: validation -------------------------------------------------------------
    def figures(self, use_flow: bool, n: int) -> tuple[UnweightingStats, float, torch.Tensor]:
        """Stats, relative error per sqrt(point) and per-channel sigma of ``n`` fresh points. The
        median-of-maxima efficiency is projected towards the integration's chunks (``calls /
        wmax_chunks`` points, :func:`~nis.events.unweighting.wmax_projected`), so a small validation
        sample ranks samplers as the integration sample will; at most ``n / 10`` points a chunk, as
        the quantile that a larger chunk needs rests on the sample's few largest weights alone."""
        s = self.weighted_sample(n, use_flow)
        integral, var = s.integral_and_variance()
        _, stds = s.channel_moments()
        chunk = max(1, min(self.integration.calls // self.integration.wmax_chunks, n // 10))
        stats = unweighting_stats(s.event_weights(), self.integration.wmax_chunks, self.integration.overweight_eps, chunk)
        rel = math.sqrt(float(var) * s.n) / abs(float(integral)) if float(integral) else float("inf")
        return stats, rel, stds

    def validate(self) -> tuple[str, str | None, Comparison | None]:
        """Choose flow or VEGAS on fresh points; return ``(method, fallback_reason, comparison)``."""
        crit = self.integration.fallback
        n = self.integration.validation_calls
        if crit == "always_vegas":
            return "vegas", "fallback forced by integration.fallback = always_vegas", None
        if self.stop_reason is not None:
            return "vegas", self.stop_reason, None
        flow_stats, flow_rel, flow_sigma = self.figures(True, n)  # with the shares training found
        # VEGAS is judged with the shares it will integrate with, as the flow is: a fifth of its
        # points (equal shares) measure each channel's spread, the rest sample with shares from it
        self.model.set_share(torch.ones_like(self.model.share), 0.0)
        first = max(2 * self.integrand.n_channels, n // 5)
        _, _, vegas_sigma = self.figures(False, first)
        self.model.set_share(vegas_sigma, self.training.min_channel_fraction)
        vegas_stats, vegas_rel, vegas_sigma = self.figures(False, max(2, n - first))
        comparison = Comparison(flow_stats, vegas_stats, flow_rel, vegas_rel)
        reason = None
        if not math.isfinite(flow_rel):
            reason = "the flow's validation weights are not finite"
        else:
            reason = self.not_better("flow", "VEGAS'", (flow_stats, flow_rel), (vegas_stats, vegas_rel))
        self.validation_shares = {"nis": flow_sigma, "vegas": vegas_sigma}
        method = "nis" if reason is None or crit == "never" else "vegas"
        self.model.set_share(self.validation_shares[method], self.training.min_channel_fraction)
        return method, None if method == "nis" else reason, comparison

    def efficiency(self, stats: UnweightingStats) -> float:
        """The unweighting efficiency the choice of sampler compares (``integration.efficiency``)."""
        return getattr(stats, self.integration.efficiency_field)

    def not_better(self, name: str, other: str, mine: tuple, theirs: tuple) -> str | None:
        """Why sampler ``name`` does not win against ``other`` on ``integration.fallback``, or None.

        mine, theirs: ``(UnweightingStats, relative error per point)`` of each on fresh points."""
        crit = self.integration.fallback
        (stats, rel), (other_stats, other_rel) = mine, theirs
        if crit in ("both", "variance") and not rel < other_rel:
            return f"{name} variance not below {other} (relative error per point {rel:.4g} vs {other_rel:.4g})"
        eff, other_eff = self.efficiency(stats), self.efficiency(other_stats)
        if crit in ("both", "efficiency") and not eff > other_eff:
            return f"{name} unweighting efficiency not above {other} ({eff:.4g} vs {other_eff:.4g})"
        return None

    # -- stage 4: integration and events ---------------------------------------------------
    def integrate(self, method: str) -> tuple[CombinedEstimate, UnweightingStats]:
        """Integrate with the frozen sampler (``method`` "nis" or "vegas"), with the channel shares
        validation measured for it (the loser's too, so both can be integrated and compared)."""
        use_flow = method == "nis"
        if method in self.validation_shares:
            self.model.set_share(self.validation_shares[method], self.training.min_channel_fraction)
        k = self.integration.iterations
        per = self.integration.calls // k
        estimates, weights = [], []
        for _ in range(k):
            s = self.weighted_sample(per, use_flow)
            estimates.append(s.integral_and_variance())
            weights.append(s.event_weights())
        stats = unweighting_stats(torch.cat(weights), self.integration.wmax_chunks, self.integration.overweight_eps)
        return combine(estimates), stats

    def generate(
        self, n_events: int, method: str, w_max: float, batch_size: int = 100_000, efficiency: float | None = None,
        progress: bool = False,
    ) -> dict:
        """``n_events`` unweighted events by hit-or-miss against ``w_max`` (``progress``: a bar
        of the events kept and the calls spent).

        With the expected unweighting ``efficiency`` each batch draws only about the points still
        needed (at most ``batch_size``), so few matrix elements are spent beyond ``n_events``.

        Returns a dict of tensors: ``u`` (n, dims) cube points, ``features`` (n, k) physical
        points, ``channel`` (n,), ``weight`` (n,) = sign * max(1, |W|/w_max); plus ``calls`` and
        the integral of all the points drawn, unweighted or not: ``integral_sum`` (the sum of
        their stratified weights; / calls = the integral) and ``variance_sum`` (its variance times
        calls^2), so that runs in parallel combine into one estimate.
        """
        use_flow = method == "nis"
        kept = {"u": [], "features": [], "channel": [], "weight": []}
        have, calls = 0, 0
        integral_sum = variance_sum = 0.0
        from tqdm import tqdm

        bar = tqdm(total=n_events, desc="events", unit="event", disable=not progress, leave=False)
        while have < n_events:
            n = batch_size
            if efficiency:
                n = min(batch_size, max(1_000, int(1.2 * (n_events - have) / efficiency)))
            counts = self.model.counts(n)
            for c, k in enumerate(counts):
                if k == 0:
                    continue
                d, batch, w = self._weights(c, k, use_flow)
                w_n = w * (n / k)  # mean over the batch's n points: the integral
                s1, s2 = float(w_n.sum()), float((w_n * w_n).sum())
                integral_sum += s1
                variance_sum += (s2 - s1 * s1 / k) * k / max(k - 1, 1)
                keep, ew = unweight(w_n, w_max, self.generator)
                kept["u"].append(d.u[keep])
                kept["features"].append(batch.features[keep])
                kept["channel"].append(torch.full((int(keep.sum()),), c, device=self.device))
                kept["weight"].append(ew[keep])
                have += int(keep.sum())
                calls += k
            bar.update(min(have, n_events) - bar.n)
            bar.set_postfix(calls=f"{calls:,}", refresh=False)
        bar.close()
        out = {key: torch.cat(vals)[:n_events] for key, vals in kept.items()}
        out.update(calls=calls, integral_sum=integral_sum, variance_sum=variance_sum)
        return out

    # -- the whole run ----------------------------------------------------------------------
    def prepare(self, progress: bool = False) -> tuple[str, str | None, Comparison | None]:
        """Stages 1-3: VEGAS, training (an early stop leaves its calls to the fallback) and
        validation; returns :meth:`validate`'s ``(method, fallback_reason, comparison)``."""
        forced = self.integration.fallback == "always_vegas"
        if not self.vegas_done:  # a forced fallback is plain VEGAS on the whole budget
            self.pretrain_vegas(self.training.calls if forced else int(self.training.vegas_fraction * self.training.calls))
        if not forced:
            self.train(progress=progress)
            if self.stop_reason is not None:
                self.adapt_fallback((self.flow_steps() - self.step) * self.training.batch_size)
        return self.validate()

    def run(self, process: str | None = None, progress: bool = False) -> RunResult:
        """VEGAS, training, validation and integration; see the module docstring."""
        start = time.perf_counter()
        method, reason, comparison = self.prepare(progress)
        return self._finish(process, method, reason, comparison, start)

    def _finish(self, process, method: str, reason, comparison, start: float, other_calls: int = 0) -> RunResult:
        """Stage 4 (integration with ``method``) and the run's result; ``other_calls``: integrand
        calls made by other processes (the other ranks of data-parallel training)."""
        estimate, stats = self.integrate(method)
        self.method = method
        return RunResult(
            process=process or self.integrand.name,
            method=method,
            fallback_reason=reason,
            estimate=estimate,
            stats=stats,
            comparison=comparison,
            n_integrand_calls=self.n_calls + other_calls,
            n_channels=self.integrand.n_channels,
            n_active_channels=int(self.model.alpha.active.sum()),
            wall_seconds=time.perf_counter() - start,
            device=_device_name(self.device),
            seed=self.seed,
            exact=self.integrand.exact,
            training={"steps": self.step, "history": self.history[-1:] if self.history else []},
        )

    # -- save and load -------------------------------------------------------------------------
    def state(self) -> dict:
        """Everything needed to continue: weights, VEGAS grids, buffers, optimiser, configs, versions."""
        return {
            "format": CHECKPOINT_FORMAT,
            "versions": {"nis": nis.__version__, "torch": torch.__version__, "python": platform.python_version()},
            "configs": {
                "flow": dataclasses.asdict(self.flow_config),
                "training": dataclasses.asdict(self.training),
                "integration": dataclasses.asdict(self.integration),
            },
            "integrand": self.integrand_spec,
            "seed": self.seed,
            "model": self.model.state_dict(),
            "buffers": self.buffers.state_dict(),
            "optimizer": self.optimizer.state_dict() if self.optimizer else None,
            "scheduler": self.scheduler.state_dict() if self.scheduler else None,
            "progress": {
                "step": self.step,
                "vegas_done": self.vegas_done,
                "n_calls": self.n_calls,
                "history": self.history,
                "stop_reason": self.stop_reason,
            },
            "generator": self.generator.get_state(),
        }

    def save(self, path: str | Path, **extra) -> None:
        """Write the state to ``path`` atomically (a crash never leaves a half-written file);
        ``extra`` keys go into the state beside it (a caller's own record, ignored by :meth:`load`)."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        torch.save({**self.state(), **extra}, tmp)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | Path, integrand: Integrand | None = None, device: str | None = None) -> "Integrator":
        """Restore a saved integrator, on ``device`` (default: CPU), to keep sampling or training.

        integrand: needed unless the checkpoint came from a config's integrand (then rebuilt).
        """
        state = torch.load(path, map_location="cpu", weights_only=False)
        if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"{path} is not a nis checkpoint (format {CHECKPOINT_FORMAT})")
        return cls.from_state(state, integrand, device, where=str(path))

    @classmethod
    def from_state(
        cls, state: dict, integrand: Integrand | None = None, device: str | None = None, where: str = "the state"
    ) -> "Integrator":
        """:meth:`load` from a state dict already read (see :meth:`state`)."""
        if integrand is None:
            if state["integrand"] is None:
                raise ValueError(f"{where} holds a custom integrand; pass it: Integrator.load(path, integrand=...)")
            from nis.integrands import make_integrand

            integrand = make_integrand(state["integrand"])
        cfg = state["configs"]
        integ = cls(
            integrand,
            FlowConfig(**cfg["flow"]),
            TrainingConfig(**cfg["training"]),
            IntegrationConfig(**cfg["integration"]),
            seed=state["seed"],
            device=device or "cpu",
            integrand_spec=state["integrand"],
        )
        integ.model.load_state_dict(state["model"])
        integ.buffers.load_state_dict(state["buffers"])
        progress = state["progress"]
        integ.step, integ.vegas_done, integ.n_calls = progress["step"], progress["vegas_done"], progress["n_calls"]
        integ.history, integ.stop_reason = progress["history"], progress["stop_reason"]
        if state["optimizer"] is not None:
            integ._setup_optimizer(integ.flow_steps())
            integ.optimizer.load_state_dict(state["optimizer"])
            integ.scheduler.load_state_dict(state["scheduler"])
        if integ.device.type == "cpu":
            integ.generator.set_state(state["generator"])
        return integ


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
