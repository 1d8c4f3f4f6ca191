"""Does the CNN learn more than the jet mass and tau_21? Reweight so those two carry no information.

Jets are binned in 2D bins of (m, tau_21) (:func:`bin_edges`: quantiles of the pooled jets per
axis, so every row and column is populated; values beyond the outer edges fall into the outer
bins). Per class c the weights are ``w = t(b) / H_c(b)`` (H_c: the class's jet count in the bin
b of the jet), scaled to mean 1 per class, with the common target distribution ``t``:

* ``signal``: t = H_s (background reweighted to the signal's (m, tau_21) distribution; signal
  weights 1),
* ``background``: t = H_b (signal reweighted to the background's),
* ``overlap``: t = min(H_s / N_s, H_b / N_b) (both reweighted to their overlap: no weight above
  the larger of the class ratios, the smallest loss of statistics).

For W against QCD jets the classes overlap little in (m, tau_21): with ``signal`` the few QCD
jets at the W mass and small tau_21 carry weights of hundreds (of 30000 QCD jets, about 700
effective ones remain, Kish's (sum w)^2 / sum w^2, in 20 x 20 bins), with ``overlap`` about
13000 of each class do, at weights below 4: the default.

Bins empty in either class get weight 0 in both (no common support there). Afterwards the two
classes' weighted (m, tau_21) histograms are identical (:func:`weighted_histograms`), so any
classifier that sees only the bin of (m, tau_21) has AUC 0.5 on the weighted jets; what is left
for a function of (m, tau_21) is the variation within a bin (finer bins: less of it, noisier
weights). A CNN trained and evaluated with these weights that has AUC above 0.5 uses information
in the image beyond m and tau_21 (Cogan et al., arXiv:1407.5675; de Oliveira et al.,
arXiv:1511.05190, section 5).
"""

from __future__ import annotations

import numpy as np

__all__ = ["TARGETS", "bin_edges", "bin_index", "decorrelation_weights", "weighted_histograms", "effective_size"]

TARGETS = ("signal", "background", "overlap")


def bin_edges(mass: np.ndarray, tau21: np.ndarray, mass_bins: int = 20, tau21_bins: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """Edges (mass_bins + 1,), (tau21_bins + 1,) at quantiles of the pooled ``mass`` and ``tau21``
    (repeated quantiles merged)."""
    def edges(x, n):
        e = np.unique(np.quantile(np.asarray(x, dtype=np.float64), np.linspace(0.0, 1.0, n + 1)))
        return e if len(e) > 1 else np.array([e[0] - 0.5, e[0] + 0.5])
    return edges(mass, mass_bins), edges(tau21, tau21_bins)


def bin_index(mass: np.ndarray, tau21: np.ndarray, edges: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Flat 2D bin number of every jet (values beyond the outer edges in the outer bins)."""
    em, et = edges
    i = np.clip(np.searchsorted(em, mass, side="right") - 1, 0, len(em) - 2)
    j = np.clip(np.searchsorted(et, tau21, side="right") - 1, 0, len(et) - 2)
    return i * (len(et) - 1) + j


def _counts(b: np.ndarray, labels: np.ndarray, n_bins: int, weights: np.ndarray | None = None):
    w = np.ones(len(b)) if weights is None else np.asarray(weights, dtype=np.float64)
    return (np.bincount(b[labels], w[labels], minlength=n_bins), np.bincount(b[~labels], w[~labels], minlength=n_bins))


def decorrelation_weights(
    mass: np.ndarray, tau21: np.ndarray, labels: np.ndarray, edges: tuple[np.ndarray, np.ndarray],
    target: str = "signal",
) -> np.ndarray:
    """Per-jet weights (N,) that give both classes the same (m, tau_21) distribution in the bins
    of ``edges`` (module docstring); labels: 1 = signal."""
    if target not in TARGETS:
        raise ValueError(f"decorrelation target must be one of {', '.join(TARGETS)}; got {target!r}")
    labels = np.asarray(labels).astype(bool)
    b = bin_index(mass, tau21, edges)
    n_bins = (len(edges[0]) - 1) * (len(edges[1]) - 1)
    h_s, h_b = _counts(b, labels, n_bins)
    common = (h_s > 0) & (h_b > 0)
    if not common.any():
        raise ValueError("signal and background share no (mass, tau21) bin: nothing to reweight")
    p_s = np.where(common, h_s, 0.0) / h_s[common].sum()
    p_b = np.where(common, h_b, 0.0) / h_b[common].sum()
    t = {"signal": p_s, "background": p_b, "overlap": np.minimum(p_s, p_b)}[target]
    w = np.zeros(len(b))
    for cls, h in ((True, h_s), (False, h_b)):
        rows = labels == cls
        per_bin = np.divide(t, h, out=np.zeros(n_bins), where=h > 0)
        w[rows] = per_bin[b[rows]]
        total = w[rows].sum()
        if total > 0:
            w[rows] *= rows.sum() / total
    return w


def weighted_histograms(
    mass: np.ndarray, tau21: np.ndarray, labels: np.ndarray, weights: np.ndarray | None,
    edges: tuple[np.ndarray, np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """The signal's and the background's weighted 2D histograms (mass bins, tau21 bins) in the bins
    of ``edges``, each normalised to unit sum."""
    labels = np.asarray(labels).astype(bool)
    shape = (len(edges[0]) - 1, len(edges[1]) - 1)
    h_s, h_b = _counts(bin_index(mass, tau21, edges), labels, shape[0] * shape[1], weights)
    return (h_s / h_s.sum()).reshape(shape), (h_b / h_b.sum()).reshape(shape)


def effective_size(weights: np.ndarray) -> float:
    """Kish's effective number of jets ``(sum w)^2 / sum w^2``."""
    w = np.asarray(weights, dtype=np.float64)
    s2 = float((w * w).sum())
    return float(w.sum() ** 2 / s2) if s2 > 0 else 0.0
