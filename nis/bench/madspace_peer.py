"""madspace (MadGraph7's phase-space library, PyPI ``madspace`` 0.2.1) as a benchmark peer.

What madspace offers, and what can be used with nis' matrix elements
--------------------------------------------------------------------
madspace builds compute graphs (``FunctionBuilder`` -> ``Function``) and runs them with a
``FunctionRuntime`` on a ``Context``; from Python a graph takes and returns arrays (numpy or
torch, through dlpack). Its *complete* pipeline -- ``Integrand`` (mapping + ``DifferentialCrossSection``
+ cuts + channel weights), ``ChannelEventGenerator`` / ``EventGenerator`` (survey with VEGAS,
unweighting) and ``MadnisTraining`` / ``MultiMadnisTraining`` (flows) -- only reaches a matrix element
through the ``matrix_element`` graph instruction, i.e. a compiled UMAMI library (MadGraph's cudacpp
plugin) loaded with ``Context.load_matrix_element(file, param_card)``. There is no graph instruction
that calls back into Python, so that pipeline cannot integrate nis' matrix elements (nor the
Sherpa / MadGraph ones nis wraps). What *is* usable from Python on CPU:

* the phase-space mappings: ``PhaseSpaceMapping`` (one diagram ``Topology``, ``t_channel_mode``
  propagator / rambo / chili / color_ordered; ``leptonic=True`` skips the PDF convolution, i.e. a
  fixed partonic energy), ``FastRamboMapping``, ``ChiliMapping``, ... Their ``forward_function()``
  maps ``random`` (n, random_dim) to ``momenta`` (n, 2 + n_out, 4) (incoming first, outgoing in the
  process order) and ``det``, the phase-space weight, in the same convention as nis:
  ``dPhi_n = prod d^3p / ((2 pi)^3 2E) (2 pi)^4 delta^4`` (FastRambo gives exactly the massless
  volume ``(2 pi)^(4-3n) (pi/2)^(n-1) s^(n-2) / ((n-1)! (n-2)!)``), so
  ``value = integrand.norm * sum |M|^2 * det`` is the cross section in pb with no conversion;
* cuts folded into the sampling (``Cuts`` of ``CutItem(Observable(...), min=...)``: the invariant
  mappings read their lower ends from ``Cuts.m_inv_min()`` / ``pt_min()``), and the mapping multiplies
  its ``det`` by the madspace cut mask;
* the single-diagram-enhanced multi-channel weights ``PropagatorChannelWeights(topologies,
  permutations, channel_indices)``: momenta -> alpha_c(p), normalised to 1;
* the VEGAS pieces: ``VegasMapping(dims, bins, prefix)`` (its grid is the context global
  ``<prefix>.vegas_grid``, shape (1, dims, bins + 1)), ``VegasHistogram(dims, bins)`` (latent r,
  weights -> per-bin sum of weight^2 and counts). ``VegasGridOptimizer``, which should refine the
  grid from those histograms, is unusable from Python in 0.2.1: its binding checks ``add_data``'s
  arguments as (weights float[batch], inputs float[batch, dims]) and then fails with
  ``MemoryError: std::bad_alloc`` on exactly such input; the per-bin histograms it documents are
  refused (``ValueError: Argument 2: got unexpected dtype`` for the int counts, wrong-dimension
  errors otherwise), and ``optimize()`` then raises ``IndexError: vector::_M_range_check``. Likewise
  ``DiscreteOptimizer.add_data`` (the adaptive channel/permutation choice) segfaults or raises on
  every argument layout tried. ``Flow`` (madspace's MadNIS flow) is only trained by
  ``MadnisTraining``, i.e. through a UMAMI matrix element.

What this peer does
-------------------
* Channels and cuts: :class:`nis.phasespace.madspace_channels.MadspaceChannels` (the same channels
  that ``channels: madspace`` gives nis' flows): every propagator tree of nis' channels file for the
  process (``channels/*.yaml``) becomes a madspace ``PhaseSpaceMapping(topology, sqrt_s,
  leptonic=True, cuts=...)`` (nis' flat channel is left out when there are trees; a file with only the
  flat one gives FastRambo, or for 2 -> 2 the s-channel diagram), with madspace's
  ``PropagatorChannelWeights`` (SDE) over those topologies and madspace cuts at the bounds nis' cuts
  imply (see that module). The integrand's own cut mask (``integrand.cuts.mask``) decides every value.
* Adaptive sampling: one madspace ``VegasMapping`` per channel in front of its phase-space mapping,
  its statistics collected with madspace's ``VegasHistogram``; the grid refinement itself is ours
  (see above), written into madspace's grid global: Lepage's rule as in the ``vegas`` package
  (smoothing ``(d_{i-1} + 6 d_i + d_{i+1}) / 8``, compression ``((1 - d) / ln(1/d))^alpha``, new
  increments of equal share), ``alpha`` = 0.5, ``d_i`` the mean squared weight in bin i. Bins per
  axis (``bins=None``): about 50 points per bin in each channel and iteration, 4 to 32 (32 from
  100k calls on 2 channels); with more (64 at 100k calls) the grids follow the training noise and
  the unweighting efficiency of g g -> g g scattered from 0.08 to 0.77 over three seeds.
* Training: ``train_calls`` integrand calls in ``nitn`` (10) iterations; each iteration samples
  every channel with its share of the points (at least ``min_points``), refines its grid, and sets
  the channel probabilities for the next one to ``q_c ~ sqrt(<w_c^2>)`` over all iterations so far
  (the variance-optimal choice for the combined sample), each at least ``q_floor / n_channels``
  (madspace's own adaptive choice, ``DiscreteOptimizer``, is unusable, above).
* Evaluation: ``eval_calls`` fresh points, each in a channel drawn with probability ``q_c``, uniform
  latent r -> VEGAS grid -> mapping, weight ``w = norm sum|M|^2 cut det_ps det_vegas alpha_c / q_c``
  in draw order, scored by :meth:`PeerResult.from_weights` like every other method (map only, no
  stratification: the weights of unweighted event generation).
* Counting: every phase-space point is one integrand call (as for the other peers); the matrix
  element itself is only evaluated at points that pass the cuts (``extra["me_calls"]``).
* Seeding: one ``numpy.random.SeedSequence(seed)``, spawned into the training and evaluation
  streams; the madspace graphs are deterministic, run on a fresh ``Context(thread_count=threads)``.

Only :class:`~nis.processes.integrand.ProcessIntegrand` (2 -> n at a fixed partonic energy: the
e+e- and g g -> n g suites) applies. Hadronic integrands (nis' ``HadronicIntegrand``) raise
:class:`MadspaceNotApplicable`: madspace's side would work (``PhaseSpaceMapping(topology, sqrt_s,
leptonic=False)`` returns lab momenta, ``x1``, ``x2`` and a ``det`` that includes the momentum-fraction
Jacobian), but ``HadronicIntegrand`` has no public value at given (p, x1, x2): its PDF times matrix
element sum (``_cross_section``) and its cuts (mass window, lepton and jet cuts, missing pT) live
inside ``evaluate``, which a peer here would have to copy. Channel trees that cannot be written as a
diagram raise it too. (``PhaseSpaceMapping(..., leptonic=True, mode=chili)`` fails with
``MemoryError: std::bad_alloc``; Chili is a hadron-collider mapping.)

Run as a script for a quick check::

    python -m nis.bench.madspace_peer examples/ee_3jets.yaml --train 20000 --eval 20000 --seed 0
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from nis.bench.peers import PeerResult
from nis.phasespace.madspace_channels import MadspaceChannels, MadspaceNotApplicable, count_madspace_channels, to_numpy

__all__ = ["MadspaceNotApplicable", "run_madspace", "refine_vegas_grid"]

_EVAL_CHUNK = 100_000


# --------------------------------------------------------------------------------------------
# VEGAS grid refinement (madspace's VegasGridOptimizer cannot be called from Python, see above)
# --------------------------------------------------------------------------------------------


def refine_vegas_grid(edges: np.ndarray, values: np.ndarray, counts: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """New bin edges of one VEGAS axis: ``edges`` (bins + 1,), ``values`` the per-bin sum of squared
    weights, ``counts`` the points per bin; nis' own refinement
    (:func:`nis.integrator.vegas_map.refined_grid`) on the mean squared weight per bin, every bin
    kept at 1e-4 of the mean share so that no region is ever dropped."""
    from nis.integrator.vegas_map import refined_grid

    counts = np.asarray(counts, dtype=np.float64)
    d = np.where(counts > 0, np.asarray(values, dtype=np.float64) / np.maximum(counts, 1.0), 0.0)
    grid = torch.as_tensor(np.asarray(edges, dtype=np.float64))[None]
    return refined_grid(grid, torch.from_numpy(d)[None], alpha, floor=1e-4)[0].numpy()


# --------------------------------------------------------------------------------------------
# madspace's channels (nis.phasespace.madspace_channels) with a VEGAS grid each
# --------------------------------------------------------------------------------------------


@dataclass
class _Vegas:
    mapping: object  # ms.VegasMapping
    forward: object  # its forward FunctionRuntime
    histogram: object  # ms.VegasHistogram's FunctionRuntime


class _MadspaceSampler:
    """madspace mappings and channel weights (:class:`MadspaceChannels`) with VEGAS grids, for one
    ProcessIntegrand."""

    def __init__(self, integrand, bins: int = 64, threads: int = 1):
        from nis.processes.integrand import ProcessIntegrand

        if not isinstance(integrand, ProcessIntegrand):
            raise MadspaceNotApplicable(
                f"{type(integrand).__name__}: madspace's Python-callable pieces cover 2 -> n at a fixed partonic energy"
                " (ProcessIntegrand); a hadronic integrand's PDFs and momentum fractions belong to madspace's"
                " compiled Integrand, which needs a UMAMI matrix element")
        self.integrand = integrand
        self.space = MadspaceChannels.for_integrand(integrand, threads=threads)
        ms, self.ctx = self.space.ms, self.space.ctx
        self.bins, self.dims, self.n_channels = int(bins), self.space.dims, self.space.n_channels
        self.vegas: list[_Vegas] = []
        for c in range(self.n_channels):
            vm = ms.VegasMapping(self.dims, self.bins, prefix=f"ch{c}")
            vm.initialize_globals(self.ctx)
            self.vegas.append(_Vegas(
                mapping=vm, forward=ms.FunctionRuntime(vm.forward_function(), self.ctx),
                histogram=ms.FunctionRuntime(ms.VegasHistogram(self.dims, self.bins).function(), self.ctx)))

    def evaluate(self, c: int, r: np.ndarray) -> tuple[np.ndarray, int]:
        """Weights of channel ``c`` at latent points ``r`` (n, dims), without the channel
        probability: ``norm sum|M|^2 cut det_ps det_vegas alpha_c``; and the matrix-element calls."""
        y, jac_v = (to_numpy(t) for t in self.vegas[c].forward.call([np.ascontiguousarray(r, dtype=np.float64)]))
        p, det = self.space.map(c, torch.from_numpy(y))
        keep = (det > 0) & self.integrand.cuts.mask(p)
        w = np.zeros(r.shape[0], dtype=np.float64)
        idx = torch.nonzero(keep).squeeze(1)
        if idx.numel():
            me = self.integrand.matrix_elements(p[idx]).sum(dim=1)
            wi = self.integrand.norm * me * det[idx] * torch.from_numpy(jac_v)[idx]
            if self.n_channels > 1:
                wi = wi * self.space.densities(p[idx])[:, c]
            w[idx.numpy()] = wi.cpu().numpy()
        w[~np.isfinite(w)] = 0.0
        return w, int(idx.numel())

    def histogram(self, c: int, r: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        vals, cnts = self.vegas[c].histogram.call([np.ascontiguousarray(r), np.ascontiguousarray(w)])
        return to_numpy(vals)[0], to_numpy(cnts)[0]

    def refine(self, c: int, values: np.ndarray, counts: np.ndarray, alpha: float) -> None:
        grid = torch.from_dlpack(self.ctx.get_global(self.vegas[c].mapping.grid_name()))
        for d in range(grid.shape[1]):
            new = refine_vegas_grid(grid[0, d].numpy(), values[d], counts[d], alpha)
            grid[0, d] = torch.from_numpy(new)

    def grid(self, c: int) -> np.ndarray:
        return to_numpy(self.ctx.get_global(self.vegas[c].mapping.grid_name()))[0]


def _split(n: int, q: np.ndarray, floor: int) -> np.ndarray:
    """``n`` points over channels in proportion to ``q``, each at least ``floor`` where n allows."""
    k = q.size
    floor = min(floor, n // k)
    rest = n - floor * k
    raw = q / q.sum() * rest
    out = np.floor(raw).astype(np.int64)
    left = rest - int(out.sum())
    if left:
        out[np.argsort(-(raw - out), kind="stable")[:left]] += 1
    return out + floor


def run_madspace(
    integrand,
    train_calls: int,
    eval_calls: int,
    seed: int,
    *,
    nitn: int = 10,
    bins: int | None = None,
    alpha: float = 0.5,
    min_points: int = 100,
    q_floor: float = 0.05,
    threads: int = 1,
) -> PeerResult:
    """madspace's phase-space mappings and SDE channel weights with per-channel VEGAS grids, trained
    on ``train_calls`` integrand calls, then ``eval_calls`` fresh weighted points (see the module
    docstring). ``q_floor``: every channel keeps at least ``q_floor / n_channels`` of the points."""
    train_calls, eval_calls, nitn = int(train_calls), int(eval_calls), int(nitn)
    if train_calls < 1 or eval_calls < 2:
        raise ValueError(f"need train_calls >= 1 and eval_calls >= 2, got {train_calls}, {eval_calls}")
    n_channels = count_madspace_channels(getattr(integrand, "channels", None))
    nitn = max(1, min(nitn, train_calls // max(1, min_points * n_channels)))
    if bins is None:  # about 50 points per bin and axis in each channel and iteration, 4 to 32 bins
        bins = int(min(32, max(4, train_calls // (nitn * n_channels * 50))))
    t0 = time.perf_counter()
    sampler = _MadspaceSampler(integrand, bins=bins, threads=threads)
    setup_seconds = time.perf_counter() - t0
    k = sampler.n_channels
    ss_train, ss_eval = np.random.SeedSequence(int(seed)).spawn(2)
    train_rng, eval_rng = np.random.default_rng(ss_train), np.random.default_rng(ss_eval)

    def floored(q):
        q = np.maximum(q / q.sum(), q_floor / k)
        return q / q.sum()

    q = np.full(k, 1.0 / k)
    sum_w2, sum_n = np.zeros(k), np.zeros(k)  # over all iterations, for the channel probabilities
    sizes = _split(train_calls, np.ones(nitn), 0)
    calls = me_calls = 0
    estimates = []  # (integral, variance) per iteration
    t0 = time.perf_counter()
    for n_it in sizes:
        per = _split(int(n_it), q, min_points)
        m1, m2, var = np.zeros(k), np.zeros(k), np.zeros(k)
        for c in range(k):
            n = int(per[c])
            if n == 0:
                continue
            r = train_rng.random((n, sampler.dims))
            w, n_me = sampler.evaluate(c, r)
            calls += n
            me_calls += n_me
            m1[c], m2[c] = w.mean(), (w * w).mean()
            sum_w2[c] += float((w * w).sum())
            sum_n[c] += n
            var[c] = w.var(ddof=1) / n if n > 1 else 0.0
            if np.any(w > 0):
                values, counts = sampler.histogram(c, r, w)
                sampler.refine(c, values, counts, alpha)
        estimates.append((float(m1.sum()), float(var.sum())))
        if np.any(sum_w2 > 0):
            q = floored(np.sqrt(sum_w2 / np.maximum(sum_n, 1.0)))
    train_seconds = time.perf_counter() - t0
    ests = np.array([e for e, v in estimates if v > 0])
    variances = np.array([v for e, v in estimates if v > 0])
    if ests.size:
        wts = 1.0 / variances
        mean = float((ests * wts).sum() / wts.sum())
        error = math.sqrt(1.0 / wts.sum())
        training_str = f"{mean:.6g} +- {error:.3g} (inverse-variance average of {ests.size} iterations)"
    else:
        training_str = "no non-zero weight in training"

    # evaluation: channel drawn per point with probability q, weights in draw order
    t0 = time.perf_counter()
    chan = eval_rng.choice(k, size=eval_calls, p=q)
    w_eval = np.empty(eval_calls, dtype=np.float64)
    eval_me = 0
    for c in range(k):
        idx = np.nonzero(chan == c)[0]
        for start in range(0, idx.size, _EVAL_CHUNK):
            part = idx[start:start + _EVAL_CHUNK]
            r = eval_rng.random((part.size, sampler.dims))
            w, n_me = sampler.evaluate(c, r)
            eval_me += n_me
            w_eval[part] = w / q[c]
    eval_seconds = time.perf_counter() - t0

    from importlib.metadata import version

    return PeerResult.from_weights(
        "madspace",
        w_eval,
        train_calls=calls,
        eval_calls=eval_calls,
        train_seconds=train_seconds,
        eval_seconds=eval_seconds,
        vegas_training_result=training_str,
        extra={
            "madspace_version": version("madspace"),
            "setup_seconds": setup_seconds,
            "channels": list(sampler.space.names),
            "dropped_channels": sampler.space.dropped,
            "channel_probabilities": [float(v) for v in q],
            "channel_weights": "madspace PropagatorChannelWeights (SDE)" if k > 1 else "one channel",
            "mapping": "PhaseSpaceMapping(topology, leptonic=True, invariant_power=0.8)"
            if sampler.space.topologies[0] is not None else "PhaseSpaceMapping(rambo mode: FastRambo)",
            "madspace_cuts": sampler.space.ms_cuts is not None,
            "nitn": nitn,
            "vegas_bins": sampler.bins,
            "vegas_alpha": alpha,
            "grid_refinement": "ours (madspace VegasGridOptimizer.add_data fails from Python in 0.2.1)",
            "me_calls_train": me_calls,
            "me_calls_eval": eval_me,
            "me_calls": me_calls + eval_me,
        },
    )


def _main(argv=None) -> None:  # pragma: no cover - manual check
    import argparse

    from nis.config import load_config
    from nis.integrands import make_integrand

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("config")
    ap.add_argument("--train", type=int, default=20_000)
    ap.add_argument("--eval", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--nitn", type=int, default=10)
    ap.add_argument("--bins", type=int, default=None, help="VEGAS bins per axis (default: from the budget)")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    cfg = load_config(a.config)
    integ = make_integrand(cfg.integrand, name=cfg.process)
    r = run_madspace(integ, a.train, a.eval, a.seed, nitn=a.nitn, bins=a.bins)
    print(f"{cfg.process}: {r.integral:.6g} +- {r.error:.3g} pb  rel_std {r.rel_std_per_point:.4g}  "
          f"eff {r.unweighting_efficiency:.4g}  calls {r.train_calls}+{r.eval_calls}  "
          f"time {r.train_seconds:.2f}+{r.eval_seconds:.2f} s")
    print(f"  training: {r.vegas_training_result}")
    print(f"  {r.extra}")


if __name__ == "__main__":  # pragma: no cover
    _main()
