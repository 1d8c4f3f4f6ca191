"""What a set returns outside its grid, per its ``Extrapolator`` key, batched without host syncs.

Every point costs one interpolation (:class:`nis.pdf.interpolate.LogBicubic`) at the point clamped
into the grid, plus elementwise work; which branch applies is chosen per point with
``torch.where``, so the cost does not depend on how many points lie outside.

``continuation`` (LHAPDF's ``ContinuationExtrapolator``, the MSTW/LHAPDF5 extrapolation; the
LHAPDF default). With the first two x knots x_0 < x_1, the last two Q^2 knots Q2_m1 < Q2_max and
``lin(v; a, b, f_a, f_b)`` = the straight line through (log a, f_a), (log b, f_b) at log v, taken
in ``log f`` when both f_a and f_b exceed 1e-3 (keeps f positive), in f otherwise:

* x < x_0, Q^2 inside: ``lin(x; x_0, x_1, f(x_0, Q^2), f(x_1, Q^2))``;
* x inside, Q^2 > Q2_max: ``lin(Q^2; Q2_max, Q2_m1, f(x, Q2_max), f(x, Q2_m1))``;
* x < x_0 and Q^2 > Q2_max: the Q^2 extrapolation at x_0 and at x_1, then the x one;
* Q^2 < Q2_min (x <= x_max): f_0 = f(x, Q2_min) (x-extrapolated as above when x < x_0), its
  anomalous dimension ``g = max(-2.5, (f(x, 1.01 Q2_min) - f_0) / f_0 / 0.01)`` (``g = 1`` when
  ``|f_0| < 1e-5``), and ``f_0 (Q^2/Q2_min)^(g r + 1 - r)`` with ``r = Q^2/Q2_min``: the power
  ``g`` near Q2_min, fading to ``Q^2/Q2_min`` as Q^2 -> 0 (so x*f -> 0);
* x > x_max: LHAPDF raises an error; here NaN.

``nearest`` (``NearestPointExtrapolator``): the value at the nearest grid point (x and Q^2 clamped
to the grid edges). ``error`` (``ErrExtrapolator``): LHAPDF raises; here NaN, with
:meth:`nis.pdf.GridPDF.check_range` to raise explicitly where a sync is acceptable.

For all three, an unphysical point (x < 0, x > 1, Q^2 < 0 or NaN) gives NaN, where LHAPDF raises.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .errors import PDFFormatError
from .interpolate import LogBicubic

EXTRAPOLATORS = ("continuation", "nearest", "error")
_ALIASES = {"continuation": "continuation", "nearest": "nearest", "error": "error", "err": "error",
            "nearestpoint": "nearest"}


def extrapolator_name(name: str) -> str:
    """The canonical name of an ``Extrapolator`` setting (case-insensitive, LHAPDF's aliases)."""
    key = str(name).strip().lower()
    if key not in _ALIASES:
        raise PDFFormatError(f"Extrapolator {name!r} is not supported; use one of {', '.join(EXTRAPOLATORS)} "
                             "(set it in the set's .info or pass extrapolator= to load_pdf)")
    return _ALIASES[key]


def _lin(v, a, b, fa, fb):
    """LHAPDF's _extrapolateLinear: straight line in log(v) through (a, fa), (b, fb); in log f when
    both fa and fb exceed 1e-3. a, b: Python floats; v, fa, fb broadcast."""
    s = (torch.log(v) - math.log(a)) / (math.log(b) - math.log(a))
    pos = (fa > 1e-3) & (fb > 1e-3)
    tiny = torch.finfo(fa.dtype).tiny
    la, lb = torch.log(fa.clamp(min=tiny)), torch.log(fb.clamp(min=tiny))
    return torch.where(pos, torch.exp(la + s * (lb - la)), fa + s * (fb - fa))


class Extrapolator(nn.Module):
    """Evaluates a :class:`LogBicubic` anywhere: inside the grid, and outside per ``mode``.

    Constants needed by the continuation (the interpolated values at the grid corners, and at
    1.01 Q2_min) are computed once, in float64, by the same interpolator, and kept as a buffer.
    """

    def __init__(self, ipol: LogBicubic, mode: str):
        super().__init__()
        self.mode = extrapolator_name(mode)
        x = ipol.x_knots.double()
        q2 = ipol.q2_knots.double()
        self.x_min, self.x_min1, self.x_max = float(x[0]), float(x[1]), float(x[-1])
        self.q2_min, self.q2_max1, self.q2_max = float(q2[0]), float(q2[-2]), float(q2[-1])
        self.q2_low = 1.01 * self.q2_min  # LHAPDF's second point for the anomalous dimension
        iq, t = ipol.interval_of(self.q2_low) if self.q2_low <= self.q2_max else (-1, 0.0)
        #: f(x, 1.01 Q2_min) comes from the same rows as f(x, Q2_min) (true unless the first two
        #: Q knots are within 0.5%); otherwise a second interpolation is made for every point
        self.low_same_interval = iq == 0
        self.low_t = t
        pts_x = [self.x_min, self.x_min, self.x_min1, self.x_min1, self.x_min, self.x_min1, self.x_min, self.x_min1]
        pts_q = [self.q2_max, self.q2_max1, self.q2_max, self.q2_max1, self.q2_min, self.q2_min,
                 min(self.q2_low, self.q2_max), min(self.q2_low, self.q2_max)]
        with torch.no_grad():
            corners = ipol(torch.tensor(pts_x, dtype=torch.float64, device=x.device),
                           torch.tensor(pts_q, dtype=torch.float64, device=x.device)).value
        #: interpolated x*f at (x_0|x_1, Q2_max|Q2_m1|Q2_min|1.01 Q2_min), shape (8, n_flavours)
        self.register_buffer("corners", corners.to(ipol.xf.dtype))

    def forward(self, ipol: LogBicubic, x: torch.Tensor, q2: torch.Tensor, column: int | None,
                sync_free: bool = True) -> torch.Tensor:
        """x*f at (x, q2), both shape (n,) in the module's dtype; shape (n, m).

        sync_free: evaluate every branch for every point and select with ``torch.where`` (no host
        synchronisation: for GPUs). False: interpolate every point, then redo the continuation
        only for the points outside the grid, found with ``nonzero`` (cheaper on the CPU, where
        finding them costs no synchronisation).
        """
        physical = (x >= 0) & (x <= 1) & (q2 >= 0)  # False for NaN too
        xs = torch.where(physical, x, torch.full_like(x, self.x_min)).clamp(self.x_min, self.x_max)
        qs = torch.where(physical, q2, torch.full_like(q2, self.q2_min)).clamp(self.q2_min, self.q2_max)
        inside = (x >= self.x_min) & (x <= self.x_max) & (q2 >= self.q2_min) & (q2 <= self.q2_max)
        if self.mode != "continuation":
            out = ipol(xs, qs, column).value
            if self.mode == "error":
                out = torch.where(inside[:, None], out, torch.full_like(out, float("nan")))
        elif sync_free:
            out = self._continuation(ipol, x, q2, xs, qs, column)
        else:
            out = ipol(xs, qs, column).value
            outside = (~inside & physical).nonzero().squeeze(1)
            if outside.numel():
                fix = self._continuation(ipol, x[outside], q2[outside], xs[outside], qs[outside], column)
                out = out.index_put((outside,), fix)
        return torch.where(physical[:, None], out, torch.full_like(out, float("nan")))

    def _continuation(self, ipol, x, q2, xs, qs, column):
        """The continuation for points (x, q2) of shape (n,), clamped to (xs, qs): shape (n, m)."""
        probe = ipol(xs, qs, column, low=True, next_x=True, alt_t=self.low_t if self.low_same_interval else None)
        c = self.corners if column is None else self.corners[:, column:column + 1]
        f_x0_qmax, f_x0_qm1, f_x1_qmax, f_x1_qm1, f_x0_qmin, f_x1_qmin, f_x0_qlow, f_x1_qlow = c.unbind(0)
        xlo, xhi = (x < self.x_min)[:, None], (x > self.x_max)[:, None]
        qlo, qhi = (q2 < self.q2_min)[:, None], (q2 > self.q2_max)[:, None]
        inside = ~(xlo | xhi | qlo | qhi)
        x, q2 = x[:, None], q2[:, None]
        # x < x_0, Q^2 inside: the probe sits at (x_0, Q^2); next_x is (x_1, Q^2)
        small_x = _lin(x, self.x_min, self.x_min1, probe.value, probe.next_x)
        # x inside, Q^2 > Q2_max: the probe sits at (x, Q2_max), its low row is (x, Q2_m1)
        large_q = _lin(q2, self.q2_max, self.q2_max1, probe.value, probe.low)
        # both: from the corner values only
        f0 = _lin(q2, self.q2_max, self.q2_max1, f_x0_qmax, f_x0_qm1)
        f1 = _lin(q2, self.q2_max, self.q2_max1, f_x1_qmax, f_x1_qm1)
        both = _lin(x, self.x_min, self.x_min1, f0, f1)
        # Q^2 < Q2_min: f at Q2_min and at 1.01 Q2_min (x-extrapolated from corners when x < x_0)
        if probe.alt_q is not None:
            at_low = probe.alt_q
        else:
            at_low = ipol(xs, torch.full_like(xs, min(self.q2_low, self.q2_max)), column).value
        fq = torch.where(xlo, _lin(x, self.x_min, self.x_min1, f_x0_qmin, f_x1_qmin), probe.value)
        fq1 = torch.where(xlo, _lin(x, self.x_min, self.x_min1, f_x0_qlow, f_x1_qlow), at_low)
        big = fq.abs() >= 1e-5
        anom = torch.where(big, ((fq1 - fq) / torch.where(big, fq, torch.ones_like(fq)) / 0.01).clamp(min=-2.5),
                           torch.ones_like(fq))
        small_q = fq * torch.pow(q2 / self.q2_min, anom * q2 / self.q2_min + 1.0 - q2 / self.q2_min)

        out = torch.where(xlo & qhi, both, torch.where(qhi, large_q, small_x))
        out = torch.where(qlo, small_q, out)
        out = torch.where(xhi, torch.full_like(out, float("nan")), out)
        return torch.where(inside, probe.value, out)
