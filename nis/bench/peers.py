"""Peer integrators (VEGAS and MadNIS) run on a plain function on the unit hypercube.

Both peers get the same budget of integrand calls for training and then draw a fresh
evaluation sample whose weights give the figures we compare with nis:

* integral = mean(w), error = std(w)/sqrt(n)
* rel_std_per_point = std(w)/mean(w)  (its square is the relative variance per point)
* unweighting_efficiency = mean(w)/w_max, w_max = median of the maxima of 50 chunks of w

``fn`` is a batch function: it takes a torch float64 tensor of shape (n, dims) with points in
[0, 1]^dims and returns n non-negative values (a tensor, or anything ``torch.as_tensor`` takes).

VEGAS (``vegas`` by G. P. Lepage): the adaptive map is trained with the whole training budget
(``nitn`` iterations of ``train_calls // nitn`` evaluations, vegas' usual adaptive importance +
stratified sampling). The evaluation then samples the adapted *map only*: uniform y in the map's
y-space, x = map(y), w = f(x) * jac(y) -- the way the MadNIS papers quote VEGAS unweighting
efficiencies (stratification cannot be used for unweighted event generation). vegas' own
stratified training estimate is kept in ``vegas_training_result``.

MadNIS (``madnis`` 1.0.0): ``madnis.integrator.Integrator`` with the library's defaults except
the batch size and device: a rational-quadratic-spline coupling flow on [0,1]^d with a uniform
latent space, KL-divergence loss, Adam with learning rate 1e-3 and no scheduler, no buffered
training. It is trained for ``train_calls // batch_size`` steps; every integrand call is counted
and reported. The evaluation draws ``eval_calls`` fresh samples with weights f(x)/q(x).
Given a multi-channel nis :class:`~nis.integrator.integrand.Integrand` instead of a function,
MadNIS sees the same channels: one flow per channel, the channel mappings as its "remapped"
space (the integrand's features), the integrand's prior channel weights as its prior and its
learned channel weights on top (madnis' defaults), in float64; its evaluation sample gives every
channel its share of points by variance, with the weights normalised accordingly.

Run as a script for a quick check on a camel function::

    python -m nis.bench.peers --dims 8 --width 0.1 --train 400000 --eval 100000 --seed 0
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from nis.events import unweighting_stats
from nis.integrator.integrand import Integrand, checked_evaluate

__all__ = ["PeerResult", "run_vegas", "run_madnis"]

BatchFn = Callable[[torch.Tensor], Any]

_EVAL_CHUNK = 100_000  # points per call of fn during the evaluation


@dataclass
class PeerResult:
    peer: str  # "vegas" or "madnis"
    integral: float  # estimate from the evaluation sample, mean(w)
    error: float  # its one-sigma error, std(w)/sqrt(n)
    rel_std_per_point: float  # std(w)/mean(w) of the evaluation weights
    unweighting_efficiency: float  # mean(w)/w_max, w_max = median of 50 chunk maxima
    overweight_fraction: float  # share of the cross section above w_max
    train_calls: int  # integrand calls actually spent training
    eval_calls: int  # integrand calls of the evaluation sample
    train_seconds: float
    eval_seconds: float
    weights: np.ndarray = field(repr=False)  # evaluation weights
    vegas_training_result: str = ""  # vegas' own (stratified, all-iterations) training estimate
    extra: dict = field(default_factory=dict)  # settings actually used, for the record

    @classmethod
    def from_weights(cls, peer: str, w: np.ndarray, **rest) -> "PeerResult":
        """Score evaluation weights ``w`` with the same code as nis' own results
        (:func:`nis.events.unweighting_stats`); ``rest`` fills the other fields."""
        w = np.asarray(w, dtype=np.float64)
        if not np.all(np.isfinite(w)):
            bad = int(np.count_nonzero(~np.isfinite(w)))
            raise FloatingPointError(f"{bad} of {w.size} evaluation weights are not finite")
        stats = unweighting_stats(torch.from_numpy(w))
        error = float(w.std(ddof=1)) / math.sqrt(w.size) if w.size > 1 else 0.0
        return cls(peer=peer, integral=float(w.mean()), error=error, rel_std_per_point=stats.relative_std,
                   unweighting_efficiency=stats.efficiency, overweight_fraction=stats.overweight_fraction,
                   weights=w, **rest)


class _Counter:
    """Wraps a batch function on torch tensors and counts the points it is called on."""

    def __init__(self, fn: BatchFn):
        self.fn = fn
        self.calls = 0

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += int(x.shape[0])
        f = self.fn(x)
        f = torch.as_tensor(f, device=x.device)
        return f.reshape(x.shape[0])


def _check_sizes(dims: int, train_calls: int, eval_calls: int) -> None:
    if int(dims) < 1:
        raise ValueError(f"dims must be >= 1, got {dims}")
    if int(train_calls) < 1 or int(eval_calls) < 2:
        raise ValueError(f"need train_calls >= 1 and eval_calls >= 2, got {train_calls}, {eval_calls}")


# --------------------------------------------------------------------------------------------
# VEGAS
# --------------------------------------------------------------------------------------------


def run_vegas(
    fn: BatchFn,
    dims: int,
    train_calls: int,
    eval_calls: int,
    seed: int,
    *,
    nitn: int = 10,
    **opts: Any,
) -> PeerResult:
    """Adapt a VEGAS map with ``train_calls`` calls, then sample ``eval_calls`` points from the map.

    ``opts`` go to ``vegas.Integrator`` (e.g. ``alpha``, ``beta``, ``maxinc_axis``). Seeding: the
    training draws its random numbers from ``numpy.random.default_rng`` streams spawned from
    ``seed`` (vegas' ``ran_array_generator``; ``gvar.RNG``, which vegas uses only to pick a test
    point when it is built, is swapped for a seeded generator meanwhile and restored after);
    the evaluation's y points come from another stream of the same seed.
    """
    import gvar
    import vegas

    _check_sizes(dims, train_calls, eval_calls)
    dims, train_calls, eval_calls, nitn = int(dims), int(train_calls), int(eval_calls), int(nitn)
    nitn = max(1, min(nitn, train_calls // 2))
    neval = train_calls // nitn

    ss_init, ss_train, ss_eval = np.random.SeedSequence(int(seed)).spawn(3)
    train_rng = np.random.default_rng(ss_train)
    eval_rng = np.random.default_rng(ss_eval)

    counter = _Counter(fn)

    @vegas.lbatchintegrand
    def integrand(x):
        xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64))
        return counter(xt).detach().to("cpu", torch.float64).numpy()

    settings = dict(opts)
    settings["ran_array_generator"] = train_rng.random
    saved_rng = gvar.RNG
    gvar.RNG = np.random.default_rng(ss_init)
    try:
        integ = vegas.Integrator([[0.0, 1.0]] * dims, **settings)
        t0 = time.perf_counter()
        training = integ(integrand, nitn=nitn, neval=neval)
        train_seconds = time.perf_counter() - t0
    finally:
        gvar.RNG = saved_rng
    train_calls_made = counter.calls
    try:
        training_str = f"{training} (Q = {training.Q:.2f}, nitn = {nitn}, neval/itn = {neval})"
    except Exception:  # pragma: no cover - cosmetic only
        training_str = str(training)

    # evaluation: map only, uniform y -> x, jacobian
    counter.calls = 0
    amap = integ.map
    t0 = time.perf_counter()
    parts = []
    for start in range(0, eval_calls, _EVAL_CHUNK):
        n = min(_EVAL_CHUNK, eval_calls - start)
        y = eval_rng.random((n, dims))
        x = np.empty_like(y)
        jac = np.empty(n, dtype=np.float64)
        amap.map(y, x, jac)
        f = counter(torch.from_numpy(x)).detach().to("cpu", torch.float64).numpy()
        parts.append(f * jac)
    w = np.concatenate(parts)
    eval_seconds = time.perf_counter() - t0

    return PeerResult.from_weights(
        "vegas",
        w,
        train_calls=train_calls_made,
        eval_calls=counter.calls,
        train_seconds=train_seconds,
        eval_seconds=eval_seconds,
        vegas_training_result=training_str,
        extra={
            "nitn": nitn,
            "neval_per_itn": neval,
            "ninc": [int(v) for v in np.asarray(amap.ninc)],
            "nstrat": [int(v) for v in np.asarray(integ.nstrat)],
            "alpha": integ.alpha,
            "beta": integ.beta,
            "vegas_version": vegas.__version__,
        },
    )


# --------------------------------------------------------------------------------------------
# MadNIS
# --------------------------------------------------------------------------------------------


def _import_madnis():
    try:
        from madnis.integrator import Integrator
    except Exception as exc:  # ImportError, or a broken install
        raise RuntimeError(f"madnis is not importable ({exc!r}): pip install madnis==1.0.0") from exc
    return Integrator


def run_madnis(
    fn: BatchFn | Integrand,
    dims: int,
    train_calls: int,
    eval_calls: int,
    seed: int,
    *,
    batch_size: int = 1024,
    device: str | torch.device = "cpu",
    **opts: Any,
) -> PeerResult:
    """Train a MadNIS integrator for ``train_calls // batch_size`` steps (on a nis integrand: while
    the calls stay within ``train_calls``), then draw ``eval_calls`` fresh weighted samples.

    ``opts`` go to ``madnis.integrator.Integrator`` (e.g. ``flow_kwargs``, ``learning_rate``,
    ``dtype``, ``buffer_capacity``/``buffered_steps``); left out, madnis' defaults apply. The
    function receives float64 points on ``device``; during training its values are cast to the
    integrator's dtype (madnis default: torch's default dtype, float32), during the evaluation
    they are kept in float64 so w = f/q is formed in float64. Seeding: ``torch.manual_seed(seed)``
    inside ``torch.random.fork_rng`` (network initialisation, flow sampling and buffer sampling
    all use torch's generator; the caller's RNG state is left untouched).
    """
    MadnisIntegrator = _import_madnis()

    _check_sizes(dims, train_calls, eval_calls)
    dims, train_calls, eval_calls, batch_size = int(dims), int(train_calls), int(eval_calls), int(batch_size)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    steps = max(1, train_calls // batch_size)
    device = torch.device(device)

    counter = _Counter(fn)
    state = {"keep_f64": False}

    if isinstance(fn, Integrand):
        integrand, counter = _multichannel(fn, device)
        opts.setdefault("dtype", torch.float64)
    else:
        def integrand(x: torch.Tensor) -> torch.Tensor:
            f = counter(x.to(torch.float64))
            return f.to(torch.float64 if state["keep_f64"] else x.dtype)

    fork_devices = []
    if device.type == "cuda":
        fork_devices = [device.index if device.index is not None else torch.cuda.current_device()]
    with torch.random.fork_rng(devices=fork_devices):
        torch.manual_seed(int(seed))
        integ = MadnisIntegrator(integrand, dims=dims, batch_size=batch_size, device=device, **opts)

        t0 = time.perf_counter()
        if isinstance(fn, Integrand):
            # madnis on an integrand draws more than batch_size points in some steps (multi-channel:
            # every channel gets a minimum): step until the next step would pass the budget
            done = 0
            while done < steps:
                before = counter.calls
                integ.train(1)
                done += 1
                if counter.calls + (counter.calls - before) > train_calls:
                    break
            steps = done
        else:
            integ.train(steps)
        _sync(device)
        train_seconds = time.perf_counter() - t0
        train_calls_made = counter.calls

        counter.calls = 0
        state["keep_f64"] = True
        t0 = time.perf_counter()
        with torch.no_grad():
            batch = integ.sample(eval_calls, batch_size=_EVAL_CHUNK)
            w_t = batch.func_vals.to(torch.float64) / batch.q_sample.to(torch.float64)
        _sync(device)
        w = w_t.cpu().numpy()
        eval_seconds = time.perf_counter() - t0

    flow = integ.flow
    return PeerResult.from_weights(
        "madnis",
        w,
        train_calls=train_calls_made,
        eval_calls=counter.calls,
        train_seconds=train_seconds,
        eval_seconds=eval_seconds,
        extra={
            "steps": steps,
            "batch_size": batch_size,
            "dtype": str(integ.dummy.dtype),
            "device": str(device),
            "flow": type(flow).__name__,
            "coupling_blocks": len(getattr(flow, "subnets", [])),
            "spline_bins": getattr(flow, "bins", None),
            "trainable_parameters": sum(p.numel() for p in flow.parameters() if p.requires_grad),
            "loss": getattr(integ.loss, "__name__", type(integ.loss).__name__),
            "learning_rate": integ.optimizer.param_groups[0]["lr"],
            "buffered_steps": integ.buffered_steps,
        },
    )


def _multichannel(integrand: Integrand, device: torch.device):
    """A nis integrand as a madnis one: ``(x, c) -> (f, features, prior)``, and a call counter."""
    from madnis.integrator import Integrand as MadnisIntegrand

    counter = _Counter(lambda u: u)  # counts points; the evaluation below is per channel
    n_channels = integrand.n_channels

    def function(x: torch.Tensor, channels: torch.Tensor):
        counter(x[:, 0])
        u = x.to(torch.float64)
        f = torch.zeros(len(u), dtype=torch.float64, device=u.device)
        y = torch.zeros(len(u), integrand.feature_dims, dtype=torch.float64, device=u.device)
        prior = torch.full((len(u), n_channels), 1.0 / n_channels, dtype=torch.float64, device=u.device)
        for c in torch.unique(channels).tolist():
            rows = channels == c
            batch = checked_evaluate(integrand, u[rows], int(c))
            f[rows] = batch.value
            y[rows] = batch.features.to(torch.float64)
            if batch.prior is not None:
                prior[rows] = batch.prior.to(torch.float64)
        return f.to(x.dtype), y.to(x.dtype), prior.to(x.dtype)

    if n_channels == 1:
        wrapped = MadnisIntegrand(lambda x: function(x, torch.zeros(len(x), dtype=torch.long))[0], integrand.dims)
    else:
        wrapped = MadnisIntegrand(function, integrand.dims, channel_count=n_channels,
                                  remapped_dim=integrand.feature_dims, has_channel_weight_prior=True)
    return wrapped.to(device), counter


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# --------------------------------------------------------------------------------------------
# quick self-check on a camel function
# --------------------------------------------------------------------------------------------


def _camel(dims: int, width: float) -> tuple[BatchFn, float]:
    """0.5 * (N(x; 1/3, width) + N(x; 2/3, width)) product Gaussians, and its exact integral."""
    norm = (width * math.sqrt(2.0 * math.pi)) ** -dims

    def fn(x: torch.Tensor) -> torch.Tensor:
        e1 = ((x - 1.0 / 3.0) ** 2).sum(dim=1)
        e2 = ((x - 2.0 / 3.0) ** 2).sum(dim=1)
        s = -0.5 / width**2
        return 0.5 * norm * (torch.exp(s * e1) + torch.exp(s * e2))

    def phi(z: float) -> float:
        return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))

    one_dim = phi((1.0 - 1.0 / 3.0) / width) - phi((0.0 - 1.0 / 3.0) / width)  # same for 2/3 by symmetry
    return fn, one_dim**dims  # 0.5 * 2 * prod_d one_dim


def _main(argv=None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description="Run the VEGAS and MadNIS peers on a camel function.")
    ap.add_argument("--dims", type=int, default=2)
    ap.add_argument("--width", type=float, default=0.1)
    ap.add_argument("--train", type=int, default=200_000)
    ap.add_argument("--eval", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--peers", nargs="*", default=["vegas", "madnis"])
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args(argv)

    fn, exact = _camel(args.dims, args.width)
    print(f"camel {args.dims}D width {args.width}: exact {exact:.8f}; torch threads {torch.get_num_threads()}")
    for peer in args.peers:
        if peer == "vegas":
            r = run_vegas(fn, args.dims, args.train, args.eval, args.seed)
        elif peer == "madnis":
            r = run_madnis(fn, args.dims, args.train, args.eval, args.seed, batch_size=args.batch, device=args.device)
        else:
            raise SystemExit(f"unknown peer {peer}")
        pull = (r.integral - exact) / r.error
        print(
            f"{r.peer:6s} I = {r.integral:.6f} +- {r.error:.6f} (pull {pull:+.2f})  rel_std {r.rel_std_per_point:.4f}"
            f"  uweff {r.unweighting_efficiency:.4f}  calls {r.train_calls}+{r.eval_calls}"
            f"  time {r.train_seconds:.1f}+{r.eval_seconds:.1f} s"
        )
        if r.vegas_training_result:
            print(f"       vegas training: {r.vegas_training_result}")
        print(f"       {r.extra}")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
