"""LHAPDF's log-bicubic interpolation (``LogBicubicInterpolator``, the ``logcubic`` default), batched
in torch: per point, one gather of 16 coefficients per flavour and one small contraction.

The algorithm, as LHAPDF 6.4+ does it (``nx`` x knots, ``nq`` Q^2 knots with all Q subgrids
joined along Q^2 and each boundary knot repeated):

1. Knots below the point: ``ix`` = largest ``i`` with ``x_i <= x`` (``upper_bound - 1``), at most
   ``nx - 2`` so that the last interval includes ``x_max``; the same for ``iq`` on Q^2. At a
   subgrid boundary the repeated knot makes ``iq`` the first knot of the *upper* subgrid.
   ``tx``, ``tq``: the point's fractional position in the interval in ``log x``, ``log Q^2``.
2. In ``log x``: on each Q^2 row ``iq-1 .. iq+2`` a cubic Hermite between ``x_ix`` and ``x_ix+1``,
   with slopes ``d(xf)/d(log x)`` at the knots from finite differences along that row: the mean
   of the left and right difference quotients inside, one-sided at the first and last x knot.
3. In ``log Q^2``: a cubic Hermite between rows ``iq`` and ``iq+1``, with slopes from the
   x-interpolated rows: the mean of the two neighbouring quotients where the neighbour row is in
   the same subgrid, one-sided at a subgrid edge ("lower": ``iq`` is its subgrid's first knot,
   "upper": ``iq+1`` its last).
4. An interval that is both (a subgrid of only 2 Q knots) falls back to log-bilinear: linear in
   ``log x`` and in ``log Q^2``. A 3-knot subgrid stays cubic with one-sided slopes, as in LHAPDF
   6.4+ (LHAPDF 6.3 and older went log-bilinear below 4 Q knots).

Steps 2-4 are linear in the grid values, and for a given cell (x interval, Q^2 interval) the
slopes' weights are constants, so the result is a bicubic polynomial in (tx, tq) per cell and
flavour: ``sum_ij C_ij tx^i tq^j``. :class:`LogBicubic` computes the 16 ``C_ij`` of every cell
once, in float64, at load time; evaluating is then a gather and a dot product, with no branch per
point. This is the same function as LHAPDF's, summed in another order: results agree to
rounding (about 1e-15 relative where x*f is not near a zero crossing), and at a knot with
``tx = tq = 0`` the grid value comes out exactly.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .errors import PDFFormatError


def hermite(t: torch.Tensor, vl, vdl, vh, vdh):
    """Cubic Hermite on [0, 1] with end values vl, vh and end slopes vdl, vdh (already times the
    interval width), summed in LHAPDF's order. Broadcasts; exact at t = 0 and t = 1."""
    t2 = t * t
    t3 = t * t2
    return (2 * t3 - 3 * t2 + 1) * vl + (t3 - 2 * t2 + t) * vdl + (-2 * t3 + 3 * t2) * vh + (t3 - t2) * vdh


#: rows: power of t (1, t, t^2, t^3); columns: Hermite data (value low, slope low, value high, slope high)
HERMITE_TO_POWERS = torch.tensor([[1.0, 0.0, 0.0, 0.0],
                                  [0.0, 1.0, 0.0, 0.0],
                                  [-3.0, -2.0, 3.0, -1.0],
                                  [2.0, 1.0, -2.0, 1.0]], dtype=torch.float64)


def knot_below(knots: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """LHAPDF's ``indexbelow``: largest i with knots[i] <= value, capped at len(knots) - 2 (so that
    i + 1 is a knot); values must lie in [knots[0], knots[-1]]. Long tensor, shape of values."""
    n = knots.shape[0]
    return (torch.searchsorted(knots, values, right=True).clamp(max=n - 1) - 1).clamp(min=0)


def powers(t: torch.Tensor) -> torch.Tensor:
    """(1, t, t^2, t^3) along a new last axis."""
    t2 = t * t
    return torch.stack([torch.ones_like(t), t, t2, t2 * t], dim=-1)


def contract_all(coefficients: torch.Tensor, cell: torch.Tensor, w: torch.Tensor, embedding_bag: bool) -> torch.Tensor:
    """sum_c w[n, k, c] * coefficients[cell[n], c, f] -> shape (n, K, nf).

    coefficients: (cells, 16, nf); cell: (n,); w: (n, K, 16). With ``embedding_bag`` (the CPU
    default, about twice as fast there) the gathered rows are never materialised; otherwise a
    gather and a batched matmul (kernels that never synchronise with the host).
    """
    n, k, _ = w.shape
    nf = coefficients.shape[-1]
    if embedding_bag:
        rows = (cell[:, None] * 16 + torch.arange(16, device=cell.device)).unsqueeze(1).expand(n, k, 16)
        return F.embedding_bag(rows.reshape(n * k, 16), coefficients.view(-1, nf),
                               per_sample_weights=w.reshape(n * k, 16), mode="sum").view(n, k, nf)
    return torch.bmm(w, coefficients[cell])


class Probe(NamedTuple):
    """What one interpolation returns, each of shape (n, m) for m flavours.

    value: x*f at the point. Only when asked for (else None): low, the value at the same x on
    the Q^2 knot below (tq = 0); next_x, the value at the next x knot, same Q^2 (tx = 1); alt_q,
    the value at the same x and the Q^2 parameter ``alt_t`` of the same interval.
    """

    value: torch.Tensor
    low: torch.Tensor | None
    next_x: torch.Tensor | None
    alt_q: torch.Tensor | None


def _x_powers(xf: torch.Tensor, dlogx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per x interval, Q^2 row and flavour: power coefficients in tx of the log-x cubic Hermite
    (LHAPDF's _ddx slopes) and of the log-x straight line. Both shape (nx-1, nq, 4, nf)."""
    quot = (xf[1:] - xf[:-1]) / dlogx[:, None, None]  # (nx-1, nq, nf)
    ddx = torch.empty_like(xf)
    ddx[0], ddx[-1] = quot[0], quot[-1]
    ddx[1:-1] = (quot[:-1] + quot[1:]) / 2.0
    w = dlogx[:, None, None]
    herm = torch.stack([xf[:-1], ddx[:-1] * w, xf[1:], ddx[1:] * w], dim=2)  # (nx-1, nq, 4 data, nf)
    cubic = torch.einsum("pd,xqdf->xqpf", HERMITE_TO_POWERS, herm)
    zero = torch.zeros_like(xf[1:])
    linear = torch.stack([xf[:-1], xf[1:] - xf[:-1], zero, zero], dim=2)
    return cubic, linear


def _q_weights(q2: torch.Tensor, logq2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per Q^2 interval iq: the power coefficients in tq of the result as a combination of the
    x-interpolated rows iq-1 .. iq+2, shape (nq-1, 4 powers, 4 rows); the linear-fallback flag;
    and the zero-width flag (the repeated boundary knot between two subgrids)."""
    nq = q2.shape[0]
    same = q2[1:] == q2[:-1]
    idx = torch.arange(nq - 1)
    lower = (idx == 0) | torch.cat([torch.tensor([True]), same[:-1]])
    upper = (idx == nq - 2) | torch.cat([same[1:], torch.tensor([True])])
    dq = logq2[1:] - logq2[:-1]
    safe = torch.where(same, torch.ones_like(dq), dq)
    prev = torch.cat([safe[:1], safe[:-1]])
    nxt = torch.cat([safe[1:], safe[-1:]])
    rho0 = torch.where(lower, torch.zeros_like(dq), safe * (1.0 / prev))  # dlogq_1 / dlogq_0
    rho2 = torch.where(upper, torch.zeros_like(dq), safe * (1.0 / nxt))  # dlogq_1 / dlogq_2
    one, zero = torch.ones_like(dq), torch.zeros_like(dq)
    vl = torch.stack([zero, one, zero, zero], -1)
    vh = torch.stack([zero, zero, one, zero], -1)
    diff = vh - vl
    # slope at the low knot: vh - vl one-sided, else ((vh - vl) + (vl - vll) * rho0) / 2
    vdl = torch.where(lower[:, None], diff, 0.5 * (diff + rho0[:, None] * torch.stack([-one, one, zero, zero], -1)))
    # slope at the high knot: vh - vl one-sided, else ((vh - vl) + (vhh - vh) * rho2) / 2
    vdh = torch.where(upper[:, None], diff, 0.5 * (diff + rho2[:, None] * torch.stack([zero, zero, -one, one], -1)))
    herm = torch.stack([vl, vdl, vh, vdh], dim=1)  # (nq-1, 4 data, 4 rows)
    cubic = torch.einsum("pd,qdr->qpr", HERMITE_TO_POWERS, herm)
    linear = torch.stack([vl, diff, torch.zeros_like(vl), torch.zeros_like(vl)], dim=1)
    fallback = lower & upper & ~same
    weights = torch.where(fallback[:, None, None], linear, cubic)
    return torch.where(same[:, None, None], torch.zeros_like(weights), weights), fallback, same


class LogBicubic(nn.Module):
    """Log-bicubic interpolation of one member as per-cell polynomial coefficients (buffers).

    x_knots: shape (nx,). q2_knots: shape (nq,), subgrids joined, boundary knots repeated.
    xf: x*f values, shape (nx, nq, n_flavours). Built in float64; ``.to(dtype)`` converts.
    Buffers: the knots, the grid values ``xf`` and ``coefficients`` of shape (cells, 16, nf),
    cell = ix * (nq - 1) + iq, coefficient k = 4 i + j of tx^i tq^j (also kept per flavour,
    ``coefficients_by_flavour`` (nf, cells, 16), for one-flavour calls).
    """

    def __init__(self, x_knots: np.ndarray, q2_knots: np.ndarray, xf: np.ndarray):
        super().__init__()
        x = torch.as_tensor(np.asarray(x_knots, dtype=np.float64))
        q2 = torch.as_tensor(np.asarray(q2_knots, dtype=np.float64))
        v = torch.as_tensor(np.asarray(xf, dtype=np.float64))
        nx, nq, nf = v.shape
        if x.shape != (nx,) or q2.shape != (nq,) or nx < 4 or nq < 2:
            raise PDFFormatError(f"grid of shape {tuple(v.shape)} does not match {nx} x knots and {nq} Q^2 knots "
                                 "(log-bicubic needs at least 4 x and 2 Q knots)")
        logx, logq2 = torch.log(x), torch.log(q2)
        dlogx = logx[1:] - logx[:-1]
        dlogq2 = logq2[1:] - logq2[:-1]
        cubic_x, linear_x = _x_powers(v, dlogx)
        qw, fallback, same = _q_weights(q2, logq2)
        rows = (torch.arange(nq - 1)[:, None] + torch.arange(-1, 3)).clamp(0, nq - 1)  # (nq-1, 4)
        # x-power coefficients of the 4 rows around every cell: (nx-1, nq-1, 4 rows, 4 powers, nf)
        ax = torch.where(fallback[None, :, None, None, None], linear_x[:, rows], cubic_x[:, rows])
        coeff = torch.einsum("qjr,xqrif->xqijf", qw, ax).reshape((nx - 1) * (nq - 1), 16, nf)

        self.register_buffer("x_knots", x)
        self.register_buffer("logx", logx)
        self.register_buffer("dlogx", dlogx)
        self.register_buffer("q2_knots", q2)
        self.register_buffer("logq2", logq2)
        self.register_buffer("dlogq2", torch.where(same, torch.ones_like(dlogq2), dlogq2))
        self.register_buffer("xf", v)
        self.register_buffer("coefficients", coeff.contiguous())
        self.register_buffer("coefficients_by_flavour", coeff.permute(2, 0, 1).contiguous())
        self.nx, self.nq, self.n_flavours = nx, nq, nf

    def forward(self, x: torch.Tensor, q2: torch.Tensor, column: int | None = None, *, low: bool = False,
                next_x: bool = False, alt_t: float | None = None) -> Probe:
        """Interpolate at points inside the grid.

        x, q2: shape (n,), in the module's dtype and device, within [x_min, x_max] x
        [q2_min, q2_max] (the caller clamps). column: flavour column, or None for all. low,
        next_x, alt_t: also return those values (see :class:`Probe`; each costs a little more).
        Returns a :class:`Probe` of (n, m) tensors.
        """
        ix = knot_below(self.x_knots, x)
        iq = knot_below(self.q2_knots, q2)
        tx = (torch.log(x) - self.logx[ix]) / self.dlogx[ix]
        tq = (torch.log(q2) - self.logq2[iq]) / self.dlogq2[iq]
        # on a knot t is 0 exactly, whatever log implementation the device uses (vectorised or not)
        tx = torch.where(x == self.x_knots[ix], torch.zeros_like(tx), tx)
        tq = torch.where(q2 == self.q2_knots[iq], torch.zeros_like(tq), tq)
        px, pq = powers(tx), powers(tq)  # (n, 4) each
        weights = [px[:, :, None] * pq[:, None, :]]
        if low:  # tq = 0: only the tq^0 coefficients
            weights.append(torch.cat([px[:, :, None], torch.zeros_like(px)[:, :, None].expand(-1, -1, 3)], dim=2))
        if next_x:  # tx = 1: every power of tx is 1
            weights.append(pq[:, None, :].expand(-1, 4, -1))
        if alt_t is not None:
            weights.append(px[:, :, None] * powers(tq.new_full((1,), alt_t)))
        n, k = x.shape[0], len(weights)
        w = torch.stack(weights, dim=1).reshape(n, k, 16)
        cell = ix * (self.nq - 1) + iq
        if column is None:
            out = contract_all(self.coefficients, cell, w, embedding_bag=cell.device.type == "cpu")
        else:
            out = (w * self.coefficients_by_flavour[column][cell][:, None, :]).sum(-1, keepdim=True)  # (n, K, 1)
        parts = iter(out.unbind(1))
        value = next(parts)
        return Probe(value, next(parts) if low else None, next(parts) if next_x else None,
                     next(parts) if alt_t is not None else None)

    def interval_of(self, q2: float) -> tuple[int, float]:
        """Host-side: (iq, tq) of one Q^2 value inside the grid (used for constants at load time)."""
        knots = self.q2_knots.detach().cpu().double()
        iq = int(knot_below(knots, torch.tensor([q2], dtype=torch.float64))[0])
        t = (math.log(q2) - float(self.logq2[iq])) / float(self.dlogq2[iq])
        return iq, t
