"""Monotone rational-quadratic splines on [0, 1] (Durkan et al. 2019, "Neural Spline Flows").

The spline maps [0, 1] onto [0, 1] with ``bins`` bins; it has no tails because flows in nis live
on the unit hypercube. Its parameters arrive unnormalised (straight from a network) and are
normalised here:

* bin widths and heights: ``min + (1 - min * bins) * softmax(u)``,
* knot derivatives: ``min_derivative + softplus(u + shift)`` with ``softplus(shift) = 1 - min``.

So all-zero parameters give uniform bins and unit derivatives everywhere: the identity map
(exact in the formulas; in floating point to within rounding, a few ulp of the dtype).
Everything is elementwise: each entry of ``x``, shape (n, k), has its own spline.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["rq_spline", "normalise_bins", "normalise_derivatives"]

MIN_BIN_WIDTH = 1e-3
MIN_BIN_HEIGHT = 1e-3
MIN_DERIVATIVE = 1e-3


def _softmax(x: Tensor) -> Tensor:
    """Softmax over the last dimension. On the CPU spelled out: torch's kernel is slow for rows as
    short as a spline's bins (10 bins: forward and backward about twice as fast, a third of the
    time of sampling a flow); elsewhere torch's fused one."""
    if x.device.type != "cpu":
        return torch.softmax(x, dim=-1)
    e = torch.exp(x - x.detach().amax(dim=-1, keepdim=True))
    return e / e.sum(dim=-1, keepdim=True)


def normalise_bins(unnormalised: Tensor, min_size: float = MIN_BIN_WIDTH) -> tuple[Tensor, Tensor]:
    """Knots and bin sizes of a partition of [0, 1] from unnormalised sizes.

    unnormalised: shape (..., bins). Returns ``knots`` (..., bins + 1) with ``knots[..., 0] == 0``
    and ``knots[..., -1] == 1`` exactly, and ``sizes`` (..., bins) = the differences of the knots,
    each at least about ``min_size``.
    """
    bins = unnormalised.shape[-1]
    if not 0.0 <= min_size * bins < 1.0:
        raise ValueError(f"minimum bin size {min_size} times {bins} bins must be below 1; lower it or use fewer bins")
    sizes = min_size + (1.0 - min_size * bins) * _softmax(unnormalised)
    inner = torch.cumsum(sizes, dim=-1)[..., :-1]
    knots = torch.cat([torch.zeros_like(inner[..., :1]), inner, torch.ones_like(sizes[..., :1])], dim=-1)
    # differences of the knots, so that sizes and knots agree to the last bit
    return knots, knots[..., 1:] - knots[..., :-1]


def normalise_derivatives(unnormalised: Tensor, min_derivative: float = MIN_DERIVATIVE) -> Tensor:
    """Positive knot derivatives, ``min_derivative + softplus(u + shift)``; zero input gives 1.

    unnormalised: any shape; returns the same shape.
    """
    if not 0.0 < min_derivative < 1.0:
        raise ValueError(f"min_derivative must lie in (0, 1), got {min_derivative}")
    shift = math.log(math.expm1(1.0 - min_derivative))
    return min_derivative + F.softplus(unnormalised + shift)


def _gather(values: Tensor, index: Tensor) -> Tensor:
    """values (n, k, m), index (n, k, 1) -> (n, k)."""
    return values.gather(-1, index).squeeze(-1)


def _root_in_unit_interval(a: Tensor, b: Tensor, c: Tensor) -> Tensor:
    """The root in [0, 1] of ``a t^2 + b t + c = 0`` where ``c <= 0``, free of cancellation.

    With ``q = -(b + sign(b) sqrt(b^2 - 4ac)) / 2`` the roots are ``c / q`` and ``q / a``; the one
    in [0, 1] is ``c / q`` for ``b >= 0`` and ``q / a`` for ``b < 0`` (then ``a >= |b| > 0``). Both
    divisions are formed with safe denominators, so neither values nor gradients become NaN
    where float32 rounding pushes the discriminant to zero.
    """
    disc = b * b - 4.0 * a * c
    positive = disc > 0
    root = torch.where(positive, torch.sqrt(torch.where(positive, disc, torch.ones_like(disc))), 0.0)
    b_pos = b >= 0
    q = -0.5 * (b + torch.where(b_pos, root, -root))
    num, den = torch.where(b_pos, c, q), torch.where(b_pos, q, a)
    # a root in [0, 1] has |num| <= |den|; anything else is rounding noise at a bin edge
    ok = (num.abs() <= 2.0 * den.abs()) & (den.abs() > 1e-30)
    fallback = (num.abs() > 2.0 * den.abs()).to(num.dtype)
    theta = torch.where(ok, num / torch.where(ok, den, 1.0), fallback)
    return theta.clamp(0.0, 1.0)


def rq_spline(
    x: Tensor,
    widths: Tensor,
    heights: Tensor,
    derivatives: Tensor,
    inverse: bool = False,
    *,
    min_bin_width: float = MIN_BIN_WIDTH,
    min_bin_height: float = MIN_BIN_HEIGHT,
    min_derivative: float = MIN_DERIVATIVE,
) -> tuple[Tensor, Tensor]:
    """Elementwise monotone rational-quadratic spline on [0, 1], or its inverse.

    x: points, shape (n, k), clamped into [0, 1] first.
    widths, heights: unnormalised bin widths and heights, shape (n, k, bins).
    derivatives: unnormalised derivatives at the bins + 1 knots, shape (n, k, bins + 1).
    inverse: False evaluates ``y = s(x)``; True solves ``x = s(y)`` for the given ``x``.

    Returns ``(y, logabsdet)``, both (n, k): the image in [0, 1] and ``log|dy/dx|`` of the map
    actually applied (for ``inverse=True`` that is ``-log s'`` at the solution). Zero parameters
    give the identity. Safe at the ends of [0, 1] in float32 and float64: no NaN or inf in values
    or gradients. NaN parameters give NaN in ``logabsdet`` only; ``y`` is then ``x`` (clamped), so
    the output is in [0, 1] whenever ``x`` is not NaN.

    >>> x = torch.tensor([[0.0, 0.3, 1.0]], dtype=torch.float64)
    >>> p = torch.zeros(1, 3, 4, dtype=torch.float64)
    >>> y, lad = rq_spline(x, p, p, torch.zeros(1, 3, 5, dtype=torch.float64))
    >>> bool(torch.allclose(y, x, atol=1e-15)), bool(torch.allclose(lad, torch.zeros_like(lad), atol=1e-15))
    (True, True)
    """
    bins = widths.shape[-1]
    if x.dim() != 2:
        raise ValueError(f"x must have shape (n, k), got {tuple(x.shape)}")
    want = (*x.shape, bins)
    if widths.shape != want or heights.shape != want or derivatives.shape != (*x.shape, bins + 1):
        raise ValueError(
            f"spline parameters must have shapes {want}, {want}, {(*x.shape, bins + 1)} for x of shape "
            f"{tuple(x.shape)}; got {tuple(widths.shape)}, {tuple(heights.shape)}, {tuple(derivatives.shape)}"
        )
    x_knots, w_all = normalise_bins(widths, min_bin_width)
    y_knots, h_all = normalise_bins(heights, min_bin_height)
    d_all = normalise_derivatives(derivatives, min_derivative)

    x = x.clamp(0.0, 1.0)
    knots = y_knots if inverse else x_knots
    # bin index in [0, bins - 1]: count the inner knots at or below the point
    index = (x.unsqueeze(-1) >= knots[..., 1:-1]).sum(dim=-1, keepdim=True)

    x0, x1, w = _gather(x_knots, index), _gather(x_knots, index + 1), _gather(w_all, index)
    y0, y1, h = _gather(y_knots, index), _gather(y_knots, index + 1), _gather(h_all, index)
    d0, d1 = _gather(d_all, index), _gather(d_all, index + 1)
    s = h / w

    if inverse:
        # theta solves a theta^2 + b theta + c = 0 (Durkan et al. 2019, eq. 6-8)
        dy = torch.minimum((x - y0).clamp(min=0.0), h)
        delta = d0 + d1 - 2.0 * s
        theta = _root_in_unit_interval(h * (s - d0) + dy * delta, h * d0 - dy * delta, -s * dy)
        theta = torch.where(dy >= h, 1.0, theta)  # exact at the upper knot
    else:
        theta = ((x - x0) / w).clamp(0.0, 1.0)

    one_minus = 1.0 - theta
    t1 = theta * one_minus
    # s + (d0 + d1 - 2 s) theta (1 - theta), written as a sum of non-negative terms
    denominator = s * (theta * theta + one_minus * one_minus) + (d0 + d1) * t1
    slope = d1 * theta * theta + 2.0 * s * t1 + d0 * one_minus * one_minus
    logabsdet = 2.0 * torch.log(s) + torch.log(slope) - 2.0 * torch.log(denominator)

    # theta == 1 lands exactly on the upper knot (so 1 maps to 1 in both directions)
    if inverse:
        y = torch.where(theta >= 1.0, x1, x0 + w * theta)
        logabsdet = -logabsdet
    else:
        y = torch.where(theta >= 1.0, y1, y0 + h * (s * theta * theta + d0 * t1) / denominator)
    # parameters that are NaN (a diverged training step) leave the point where it was; the NaN
    # shows in logabsdet, so densities and weights report it, but the point stays in [0, 1]
    return torch.where(torch.isnan(y), x, y).clamp(0.0, 1.0), logabsdet
