"""An independent, scalar transcription of LHAPDF for the tests of nis.pdf (plain Python floats).

It follows LHAPDF's own structure rather than nis.pdf's: a list of subgrids (LHAPDF <= 6.3's
``KnotArray1F``), the subgrid chosen by its first Q^2, slopes recomputed at every call, the log-x
and log-Q^2 cubic Hermite in LHAPDF's ``_interpolateCubic`` form, the 6.4+ rule for subgrids of
2 Q knots (log-bilinear), ``ContinuationExtrapolator`` and ``AlphaS_Ipol`` line by line. It
shares no code with nis.pdf, so an agreement to rounding checks the batched implementation.
"""

from __future__ import annotations

import bisect
import math
from pathlib import Path

import yaml


def _below(knots, v):
    """LHAPDF's iq2below/ixbelow: upper_bound - 1, never the last knot."""
    i = bisect.bisect_right(knots, v)
    if i == len(knots):
        i -= 1
    return i - 1


def _cubic(t, vl, vdl, vh, vdh):
    t2 = t * t
    t3 = t2 * t
    return (2 * t3 - 3 * t2 + 1) * vl + (t3 - 2 * t2 + t) * vdl + (-2 * t3 + 3 * t2) * vh + (t3 - t2) * vdh


class Subgrid:
    def __init__(self, xs, qs, pids, rows):
        self.xs, self.q2s = xs, [q * q for q in qs]
        self.logxs = [math.log(v) for v in self.xs]
        self.logq2s = [math.log(v) for v in self.q2s]
        nq = len(qs)
        self.col = {p: k for k, p in enumerate(pids)}
        self.xf = [[rows[ix * nq + iq] for iq in range(nq)] for ix in range(len(xs))]

    def v(self, ix, iq, f):
        return self.xf[ix][iq][f]

    def ddlogx(self, ix, iq, f):
        n = len(self.xs)
        if ix == 0:
            return (self.v(1, iq, f) - self.v(0, iq, f)) / (self.logxs[1] - self.logxs[0])
        if ix == n - 1:
            return (self.v(ix, iq, f) - self.v(ix - 1, iq, f)) / (self.logxs[ix] - self.logxs[ix - 1])
        lo = (self.v(ix, iq, f) - self.v(ix - 1, iq, f)) / (self.logxs[ix] - self.logxs[ix - 1])
        hi = (self.v(ix + 1, iq, f) - self.v(ix, iq, f)) / (self.logxs[ix + 1] - self.logxs[ix])
        return (lo + hi) / 2.0

    def interpolate(self, f, x, q2):
        ix, iq = _below(self.xs, x), _below(self.q2s, q2)
        nq = len(self.q2s)
        logx, logq2 = math.log(x), math.log(q2)
        dx = self.logxs[ix + 1] - self.logxs[ix]
        tx = (logx - self.logxs[ix]) / dx
        dq1 = self.logq2s[iq + 1] - self.logq2s[iq]
        tq = (logq2 - self.logq2s[iq]) / dq1
        if nq == 2:  # LHAPDF 6.4+: a subgrid that is both lower and upper edge -> log-bilinear
            lo = self.v(ix, iq, f) + tx * (self.v(ix + 1, iq, f) - self.v(ix, iq, f))
            hi = self.v(ix, iq + 1, f) + tx * (self.v(ix + 1, iq + 1, f) - self.v(ix, iq + 1, f))
            return lo + tq * (hi - lo)

        def row(j):
            return _cubic(tx, self.v(ix, j, f), self.ddlogx(ix, j, f) * dx,
                          self.v(ix + 1, j, f), self.ddlogx(ix + 1, j, f) * dx)

        vl, vh = row(iq), row(iq + 1)
        if iq == 0:
            vdl = (vh - vl) / dq1
            dq2 = self.logq2s[iq + 2] - self.logq2s[iq + 1]
            vdh = (vdl + (row(iq + 2) - vh) / dq2) / 2.0
        elif iq + 1 == nq - 1:
            vdh = (vh - vl) / dq1
            dq0 = self.logq2s[iq] - self.logq2s[iq - 1]
            vdl = (vdh + (vl - row(iq - 1)) / dq0) / 2.0
        else:
            dq0 = self.logq2s[iq] - self.logq2s[iq - 1]
            dq2 = self.logq2s[iq + 2] - self.logq2s[iq + 1]
            vdl = ((vh - vl) / dq1 + (vl - row(iq - 1)) / dq0) / 2.0
            vdh = ((vh - vl) / dq1 + (row(iq + 2) - vh) / dq2) / 2.0
        return _cubic(tq, vl, vdl * dq1, vh, vdh * dq1)


def _extrapolate_linear(x, xl, xh, yl, yh):
    if yl > 1e-3 and yh > 1e-3:
        s = (math.log(x) - math.log(xl)) / (math.log(xh) - math.log(xl))
        return math.exp(math.log(yl) + s * (math.log(yh) - math.log(yl)))
    return yl + (math.log(x) - math.log(xl)) / (math.log(xh) - math.log(xl)) * (yh - yl)


class ScalarLHAPDF:
    """One member of a set, read from ``set_dir``; ``xfxQ2(pid, x, q2)`` and ``alphasQ2(q2)``."""

    def __init__(self, set_dir, member=0):
        set_dir = Path(set_dir)
        self.info = yaml.safe_load((set_dir / f"{set_dir.name}.info").read_text())
        text = (set_dir / f"{set_dir.name}_{member:04d}.dat").read_text()
        blocks = [b.strip() for b in text.split("\n---")]
        self.subgrids = []
        for block in blocks[1:]:
            lines = [ln for ln in block.splitlines() if ln.strip() and not ln.startswith("#")]
            if not lines:
                continue
            xs = [float(t) for t in lines[0].split()]
            qs = [float(t) for t in lines[1].split()]
            pids = [int(t) for t in lines[2].split()]
            rows = [[float(t) for t in ln.split()] for ln in lines[3:]]
            self.subgrids.append(Subgrid(xs, qs, pids, rows))
        self.starts = [s.q2s[0] for s in self.subgrids]
        self.xs = self.subgrids[0].xs
        self.q2s = [q for s in self.subgrids for q in s.q2s]
        self.mode = self.info.get("Extrapolator", "continuation")

    def interpolate(self, pid, x, q2):
        sub = self.subgrids[max(0, bisect.bisect_right(self.starts, q2) - 1)]
        return sub.interpolate(sub.col[21 if pid == 0 else pid], x, q2)

    def xfxQ2(self, pid, x, q2):
        xmin, xmax = self.xs[0], self.xs[-1]
        q2min, q2max = self.q2s[0], self.q2s[-1]
        if xmin <= x <= xmax and q2min <= q2 <= q2max:
            return self.interpolate(pid, x, q2)
        if self.mode == "nearest":
            return self.interpolate(pid, min(max(x, xmin), xmax), min(max(q2, q2min), q2max))
        if self.mode == "error":
            raise ValueError("outside the grid")
        return self.continuation(pid, x, q2)

    def continuation(self, pid, x, q2):
        """LHAPDF's ContinuationExtrapolator::extrapolateXQ2, branch by branch."""
        ip = self.interpolate
        xMin, xMin1, xMax = self.xs[0], self.xs[1], self.xs[-1]
        q2Min, q2Max1, q2Max = self.q2s[0], self.q2s[-2], self.q2s[-1]
        if x < xMin and q2Min <= q2 <= q2Max:
            return _extrapolate_linear(x, xMin, xMin1, ip(pid, xMin, q2), ip(pid, xMin1, q2))
        if xMin <= x <= xMax and q2 > q2Max:
            return _extrapolate_linear(q2, q2Max, q2Max1, ip(pid, x, q2Max), ip(pid, x, q2Max1))
        if x < xMin and q2 > q2Max:
            fxMin = _extrapolate_linear(q2, q2Max, q2Max1, ip(pid, xMin, q2Max), ip(pid, xMin, q2Max1))
            fxMin1 = _extrapolate_linear(q2, q2Max, q2Max1, ip(pid, xMin1, q2Max), ip(pid, xMin1, q2Max1))
            return _extrapolate_linear(x, xMin, xMin1, fxMin, fxMin1)
        if q2 < q2Min and x <= xMax:
            if x < xMin:
                fq2Min = _extrapolate_linear(x, xMin, xMin1, ip(pid, xMin, q2Min), ip(pid, xMin1, q2Min))
                fq2Min1 = _extrapolate_linear(x, xMin, xMin1, ip(pid, xMin, 1.01 * q2Min), ip(pid, xMin1, 1.01 * q2Min))
            else:
                fq2Min, fq2Min1 = ip(pid, x, q2Min), ip(pid, x, 1.01 * q2Min)
            anom = max(-2.5, (fq2Min1 - fq2Min) / fq2Min / 0.01) if abs(fq2Min) >= 1e-5 else 1.0
            return fq2Min * math.pow(q2 / q2Min, anom * q2 / q2Min + 1.0 - q2 / q2Min)
        raise ValueError("x > xMax")

    def alphasQ2(self, q2):
        """LHAPDF's AlphaS_Ipol::alphasQ2."""
        q2s = [q * q for q in self.info["AlphaS_Qs"]]
        als = list(self.info["AlphaS_Vals"])
        if q2 < q2s[0]:
            nxt = 1
            while q2s[0] == q2s[nxt]:
                nxt += 1
            grad = math.log10(als[nxt] / als[0]) / math.log10(q2s[nxt] / q2s[0])
            return als[0] * math.pow(q2 / q2s[0], grad)
        if q2 > q2s[-1]:
            return als[-1]
        grids, cur = [], [0]  # subgrids as lists of knot indices, split at repeated Q2
        for i in range(1, len(q2s)):
            if abs(q2s[i] - q2s[i - 1]) < 2.220446049250313e-16:
                grids.append(cur)
                cur = []
            cur.append(i)
        grids.append(cur)
        g = [gr for gr in grids if q2s[gr[0]] <= q2][-1]
        q, a = [q2s[k] for k in g], [als[k] for k in g]
        lq = [math.log(v) for v in q]
        i = _below(q, q2)

        def fwd(k):
            return (a[k + 1] - a[k]) / (lq[k + 1] - lq[k])

        def bwd(k):
            return (a[k] - a[k - 1]) / (lq[k] - lq[k - 1])

        def cen(k):
            return 0.5 * (fwd(k) + bwd(k))

        if i == 0:
            d0, d1 = fwd(i), cen(i + 1)
        elif i == len(lq) - 2:
            d0, d1 = cen(i), bwd(i + 1)
        else:
            d0, d1 = cen(i), cen(i + 1)
        dl = lq[i + 1] - lq[i]
        v = _cubic((math.log(q2) - lq[i]) / dl, a[i], d0 * dl, a[i + 1], d1 * dl)
        return v if abs(v) < 2.0 else 1.7976931348623157e308
