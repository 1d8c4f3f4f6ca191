"""The strong coupling alpha_s(Q^2) of a set from its own table (``AlphaS_Type: ipol``), as LHAPDF's
``AlphaS_Ipol`` interpolates it, batched in torch.

The set lists ``AlphaS_Qs`` (Q in GeV, increasing) and ``AlphaS_Vals``. A Q value listed twice
marks a flavour threshold and splits the table into subgrids. Then, for Q^2 = Q*Q:

* inside [Q2_first, Q2_last]: the subgrid whose first knot is the last one <= Q^2 (at a threshold:
  the upper subgrid), the knot interval below Q^2 there, and a cubic Hermite in log Q^2 whose
  slopes d(alpha_s)/d(log Q^2) are the mean of the two neighbouring difference quotients inside a
  subgrid and one-sided at its first and last knot; a result with |alpha_s| >= 2 becomes the
  largest float (LHAPDF's guard against a blown-up interpolation);
* below the first knot: the power law through the first two distinct knots,
  ``alpha_0 (Q^2/Q2_0)^g`` with ``g = log10(alpha_1/alpha_0) / log10(Q2_1/Q2_0)``;
* above the last knot: the last value, constant;
* Q^2 < 0 or NaN: NaN (LHAPDF asserts).

A subgrid of only two knots (LHAPDF reads past it) is linear here.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from .errors import PDFFormatError
from .interpolate import hermite, knot_below


class AlphaSIpol(nn.Module):
    """alpha_s interpolated from a table. qs: Q knots in GeV (a repeat marks a threshold);
    values: alpha_s at them. Buffers in float64; ``.to(dtype)`` converts."""

    def __init__(self, qs, values):
        super().__init__()
        q = np.asarray(qs, dtype=np.float64)
        a = np.asarray(values, dtype=np.float64)
        if q.ndim != 1 or q.shape != a.shape or len(q) < 2:
            raise PDFFormatError(f"AlphaS_Qs ({q.size} values) and AlphaS_Vals ({a.size} values) must be lists of "
                                 "the same length, at least 2; fix the set's .info")
        if not np.all(q > 0) or not np.all(np.diff(q) >= 0) or not np.all(np.isfinite(a)):
            raise PDFFormatError("AlphaS_Qs must be positive and non-decreasing and AlphaS_Vals finite; "
                                 "fix the set's .info")
        q2 = q * q
        lq = np.log(q2)
        n = len(q2)
        eps = np.finfo(np.float64).eps
        starts = [0] + [i for i in range(1, n) if abs(q2[i] - q2[i - 1]) < eps]
        ends = [s - 1 for s in starts[1:]] + [n - 1]
        lo, dl, a_lo, a_hi, d_lo, d_hi = (np.ones(n - 1) for _ in range(6))

        def fwd(k):
            return (a[k + 1] - a[k]) / (lq[k + 1] - lq[k])

        def bwd(k):
            return (a[k] - a[k - 1]) / (lq[k] - lq[k - 1])

        def cen(k):
            return 0.5 * (fwd(k) + bwd(k))

        for first, last in zip(starts, ends):
            if last - first < 1:
                raise PDFFormatError(f"AlphaS_Qs has a subgrid with a single knot at Q = {q[first]:g}; "
                                     "each threshold must be followed by at least two knots")
            for i in range(first, last):
                if i == first:
                    s0, s1 = fwd(i), (cen(i + 1) if last - first > 1 else bwd(i + 1))
                elif i == last - 1:
                    s0, s1 = cen(i), bwd(i + 1)
                else:
                    s0, s1 = cen(i), cen(i + 1)
                w = lq[i + 1] - lq[i]
                lo[i], dl[i], a_lo[i], a_hi[i], d_lo[i], d_hi[i] = lq[i], w, a[i], a[i + 1], s0 * w, s1 * w
        nxt = next(i for i in range(1, n) if q2[i] != q2[0]) if np.any(q2 != q2[0]) else 1
        #: exponent of the power law below the first knot
        self.low_power = math.log10(a[nxt] / a[0]) / math.log10(q2[nxt] / q2[0])
        self.q2_first, self.alpha_first = float(q2[0]), float(a[0])
        self.q2_last, self.alpha_last = float(q2[-1]), float(a[-1])
        t = torch.as_tensor
        self.register_buffer("q2_knots", t(q2))
        self.register_buffer("interval", t(np.stack([lo, dl, a_lo, a_hi, d_lo, d_hi], axis=1)))  # (n-1, 6)

    def forward(self, q2: torch.Tensor) -> torch.Tensor:
        """alpha_s at q2 (GeV^2), any shape, in the module's dtype and device."""
        q2 = q2.to(self.interval.dtype)
        inside = q2.clamp(self.q2_first, self.q2_last)
        i = knot_below(self.q2_knots, inside)
        lo, dl, a_lo, a_hi, d_lo, d_hi = self.interval[i].unbind(-1)
        t = (torch.log(inside) - lo) / dl
        v = hermite(t, a_lo, d_lo, a_hi, d_hi)
        v = torch.where(v.abs() < 2.0, v, torch.full_like(v, torch.finfo(v.dtype).max))
        below = self.alpha_first * torch.pow(q2 / self.q2_first, self.low_power)
        v = torch.where(q2 > self.q2_last, torch.full_like(v, self.alpha_last), v)
        v = torch.where(q2 < self.q2_first, below, v)
        return torch.where(q2 >= 0, v, torch.full_like(v, float("nan")))
