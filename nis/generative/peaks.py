"""Width of a resonance peak in a sample of masses: the histogram's full width at half maximum, and
a maximum-likelihood Breit-Wigner (Cauchy in the mass) fit on a window. Both give the FWHM, in
the units of the masses (a Breit-Wigner of width Gamma has FWHM Gamma)."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["fwhm", "fit_breit_wigner"]


def fwhm(values: np.ndarray, lo: float, hi: float, bins: int = 160) -> float:
    """FWHM of the histogram of ``values`` on ``[lo, hi]`` (smoothed by a 1-2-1 filter, the
    half-maximum crossings interpolated linearly); NaN if the peak does not fall to half inside."""
    h, edges = np.histogram(np.asarray(values), bins=bins, range=(lo, hi))
    h = np.convolve(np.pad(h.astype(float), 1, mode="edge"), [0.25, 0.5, 0.25], mode="valid")
    centres = 0.5 * (edges[1:] + edges[:-1])
    top = int(np.argmax(h))
    half = 0.5 * h[top]
    left = np.nonzero(h[:top] < half)[0]
    right = np.nonzero(h[top:] < half)[0]
    if h[top] <= 0 or not len(left) or not len(right):
        return float("nan")
    i, j = left[-1], top + right[0]
    x_left = centres[i] + (half - h[i]) / (h[i + 1] - h[i]) * (centres[i + 1] - centres[i])
    x_right = centres[j - 1] + (h[j - 1] - half) / (h[j - 1] - h[j]) * (centres[j] - centres[j - 1])
    return float(x_right - x_left)


def fit_breit_wigner(values: np.ndarray, lo: float, hi: float) -> tuple[float, float]:
    """``(mass, width)`` of a Cauchy density ``(Gamma / 2 pi) / ((m - M)^2 + Gamma^2 / 4)``
    truncated to ``[lo, hi]``, fitted by maximum likelihood to the values inside the window (the
    mass kept in the window, the width in ``[1e-4, 100] (hi - lo)``: a flat sample gives a width
    far above the window)."""
    from scipy.optimize import minimize

    m = np.asarray(values, dtype=np.float64)
    m = m[(m >= lo) & (m <= hi)]
    if len(m) < 10:
        return float("nan"), float("nan")

    def nll(params):
        centre, log_width = params
        g = math.exp(log_width)
        norm = (math.atan(2 * (hi - centre) / g) - math.atan(2 * (lo - centre) / g)) / math.pi
        return -np.sum(np.log(g / (2 * math.pi) / ((m - centre) ** 2 + g * g / 4) / norm))

    q1, q2, q3 = np.quantile(m, [0.25, 0.5, 0.75])
    span = hi - lo
    bounds = [(lo, hi), (math.log(1e-4 * span), math.log(100 * span))]
    start = [q2, min(max(math.log(max(q3 - q1, 1e-3 * span)), bounds[1][0]), bounds[1][1])]
    options = {"xatol": 1e-6, "fatol": 1e-8, "maxiter": 4000}
    res = minimize(nll, start, method="Nelder-Mead", bounds=bounds, options=options)
    return float(res.x[0]), float(math.exp(res.x[1]))
