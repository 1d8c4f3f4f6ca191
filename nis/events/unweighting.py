"""w_max, the unweighting efficiency, and hit-or-miss unweighting.

Event weights ``w`` (shape (n,), possibly signed) come from one sampler. Unweighting keeps an
event with probability ``|w| / w_max``, so the expected fraction kept is the *unweighting
efficiency* ``<|w|> / w_max``. The true maximum of the weights is useless as ``w_max``: it
grows with the sample and one outlier ruins it. Two robust estimators are offered:

``wmax_median_of_maxima`` (the default)
    Split the sample into ``n_chunks`` random chunks (default 50), take each chunk's maximum, use the
    median of those maxima. It estimates the maximum expected in a sample of ``n / n_chunks``
    events and is insensitive to single outliers. This is the estimator the MadNIS paper
    quotes (median of 50 chunk maxima over 1e5 points), so numbers compare directly.

``wmax_quantile``
    The smallest ``w_max`` whose *overweight fraction*
    ``sum(max(|w| - w_max, 0)) / sum(|w|)`` -- the share of the cross section carried by the
    part of the weights above ``w_max`` -- does not exceed ``eps`` (default 1e-3). It fixes the
    bias one accepts rather than the number of chunks.

Both depend on the sample size: 50 chunks of a 5000-point sample hold 100 points each, whose
maxima sit far below those of the 2000-point chunks of a 1e5-point sample. To compare samplers
on a small sample as they will be judged on a large one, ``wmax_projected`` estimates the median
of the maxima of chunks of a given size from the sample's own distribution: the maximum of m
independent weights lies below t with probability F(t)^m, so its median is the quantile of |w|
at level 0.5^(1/m) (``unweighting_stats(..., chunk=m)`` uses it in place of the chunk maxima).

Either way the overweight fraction left by the chosen ``w_max`` is reported: events with
``|w| > w_max`` are kept with weight ``|w| / w_max > 1`` (so the unweighted sample stays
unbiased), and that fraction says how much of the cross section such events carry.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor


def wmax_median_of_maxima(w: Tensor, n_chunks: int = 50) -> Tensor:
    """Median of the maxima of ``n_chunks`` equal chunks of ``|w|`` (shape (n,)); a 0-dim tensor.

    The chunks are random subsets (a permutation with a fixed seed, so the same weights give the
    same ``w_max``), not runs of consecutive weights: a stratified multi-channel sample comes
    channel by channel, and chunks of one channel each would see that channel's maximum only."""
    a = w.abs()
    n_chunks = max(1, min(int(n_chunks), a.numel()))
    size = a.numel() // n_chunks
    order = torch.randperm(a.numel(), generator=torch.Generator(a.device).manual_seed(0), device=a.device)
    maxima = a[order[: size * n_chunks]].reshape(n_chunks, size).amax(dim=1)
    return maxima.median()


def wmax_projected(w: Tensor, chunk: int) -> Tensor:
    """Median of the maximum of ``chunk`` independent weights distributed like ``|w|``: the
    quantile of ``|w|`` at level ``0.5 ** (1 / chunk)`` (linear interpolation; the sample maximum
    when the level lies beyond the last point)."""
    if int(chunk) < 1:
        raise ValueError(f"chunk must be >= 1 points; got {chunk}")
    return torch.quantile(w.abs(), 0.5 ** (1.0 / int(chunk)))


def wmax_quantile(w: Tensor, eps: float = 1e-3) -> Tensor:
    """Smallest ``w_max`` with overweight fraction ``<= eps`` (exact, by sorting ``|w|``)."""
    if not 0.0 <= eps < 1.0:
        raise ValueError(f"overweight fraction eps must lie in [0, 1); got {eps}")
    s = w.abs().sort(descending=True).values
    total = s.sum()
    if eps == 0.0 or s.numel() < 2:
        return s[0]
    cum = torch.cumsum(s, 0)
    k = torch.arange(s.numel(), device=s.device, dtype=s.dtype)
    # overweight fraction if w_max were s[j]: the j weights above it exceed it by cum[j-1] - j s[j]
    over = torch.cat([s.new_zeros(1), cum[:-1] - k[1:] * s[1:]])
    j = torch.searchsorted(over, eps * total, right=True)  # first index whose overweight > eps
    if int(j) >= s.numel():
        return s[-1]
    # between s[j] and s[j-1] the overweight is linear in w_max with j weights above it
    return (cum[j - 1] - eps * total) / j


def overweight_fraction(w: Tensor, w_max: Tensor | float) -> Tensor:
    """Share of ``sum |w|`` carried above ``w_max``: ``sum(max(|w| - w_max, 0)) / sum |w|``."""
    a = w.abs()
    return (a - w_max).clamp(min=0).sum() / a.sum()


@dataclass
class UnweightingStats:
    """Figures of merit of one weighted sample (see the module docstring for the estimators)."""

    efficiency: float  # <|w|> / w_max, w_max median of chunk maxima
    w_max: float
    overweight_fraction: float
    efficiency_quantile: float  # <|w|> / w_max with the quantile-truncated w_max
    w_max_quantile: float
    overweight_fraction_quantile: float
    effective_sample_size: float  # (sum w)^2 / sum w^2
    relative_std: float  # std(w) / |mean(w)|: the variance per point, relative
    negative_fraction: float  # share of sum |w| carried by negative weights
    n: int

    def as_dict(self) -> dict:
        return asdict(self)


def unweighting_stats(w: Tensor, n_chunks: int = 50, eps: float = 1e-3, chunk: int | None = None) -> UnweightingStats:
    """All figures of merit of weights ``w`` (shape (n,)); one host synchronisation at the end.

    chunk: if given, ``w_max`` (and the efficiency) is the median of the maxima of chunks of this
    many points projected from ``w`` (:func:`wmax_projected`) instead of ``n_chunks`` chunks of ``w``."""
    w = w.to(torch.float64)
    a = w.abs()
    mean_abs = a.mean()
    wm = wmax_median_of_maxima(w, n_chunks) if chunk is None else wmax_projected(w, chunk)
    wq = wmax_quantile(w, eps)
    figures = torch.stack(
        [
            mean_abs / wm,
            wm,
            overweight_fraction(w, wm),
            mean_abs / wq,
            wq,
            overweight_fraction(w, wq),
            w.sum() ** 2 / (w * w).sum(),
            w.std() / w.mean().abs(),
            a[w < 0].sum() / a.sum(),
        ]
    ).tolist()
    return UnweightingStats(*figures, n=int(w.numel()))


def unweight(w: Tensor, w_max: Tensor | float, generator: torch.Generator | None = None):
    """Hit-or-miss unweighting of weights ``w`` (shape (n,)) against ``w_max``.

    Returns ``(keep, event_weight)``: a boolean mask (n,) and, for every event, the weight it
    carries if kept: ``sign(w) * max(1, |w| / w_max)`` (overweight events keep their excess, so
    the unweighted sample is unbiased; the overweight fraction says how much that is).
    """
    a = w.abs()
    r = torch.rand(a.shape, generator=generator, device=a.device, dtype=a.dtype)
    keep = r * w_max < a
    return keep, torch.sign(w) * (a / w_max).clamp(min=1.0)
