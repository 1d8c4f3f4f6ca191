"""Plots and histogram numbers of an unfolding: unfolded against true, and the calibration.

The histograms reuse :func:`nis.generative.plots.histograms` (unit-area densities, per-bin
ratios to the truth) and :func:`nis.generative.plots.plot_comparison` (distribution, ratio and
relative-deviation panels). :func:`unfolding_histograms` adds posterior samples (N events x M
draws, each draw weighted w/M) with the statistical error of the events rather than of the
draws: the M draws of one event move together, so the error of bin b is
``sqrt(sum_e (w_e c_eb / M)^2)`` with c_eb the event's draws in the bin. :func:`chi2` compares
one entry with the truth, :func:`plot_calibration` draws the curves of
:func:`nis.unfolding.calibration.calibration`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nis.generative.plots import COLOURS, histograms, plot_comparison

__all__ = ["unfolding_histograms", "chi2", "plot_unfolded", "plot_calibration"]


def _finite(values: np.ndarray, weights: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    values = np.asarray(values, dtype=np.float64)
    keep = np.isfinite(values)
    return values[keep], (None if weights is None else np.asarray(weights, dtype=np.float64)[keep])


def _event_errors(samples: np.ndarray, weights: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Per-bin error of the posterior density with events (not draws) as the independent units."""
    n, m = samples.shape
    bins = len(edges) - 1
    idx = np.digitize(samples, edges) - 1
    inside = (idx >= 0) & (idx < bins) & np.isfinite(samples)
    rows = np.broadcast_to(np.arange(n)[:, None], samples.shape)
    counts = np.bincount((rows * bins + idx)[inside], minlength=n * bins).reshape(n, bins)
    per_event = weights[:, None] * counts / m
    norm = weights.sum() * np.diff(edges)
    return np.sqrt((per_event**2).sum(axis=0)) / np.where(norm > 0, norm, 1.0)


def unfolding_histograms(truth: np.ndarray, edges: np.ndarray, truth_weights: np.ndarray | None = None,
                         models: dict | None = None, posteriors: dict | None = None) -> dict:
    """Numbers of one observable (JSON-ready, the layout of :func:`nis.generative.plots.histograms`).

    truth (N,) with weights; models: name -> (values (K,), weights (K,) or None), e.g. the
    OmniFold-weighted simulation truth or the detector-level distribution; posteriors: name ->
    (samples (N', M), event weights (N',) or None), listed first. Non-finite values are left out.
    """
    edges = np.asarray(edges, dtype=np.float64)
    t, tw = _finite(truth, truth_weights)
    values, weights, errors = {}, {}, {}
    for name, (samples, w) in (posteriors or {}).items():
        samples = np.asarray(samples, dtype=np.float64)
        w = np.ones(len(samples)) if w is None else np.asarray(w, dtype=np.float64)
        m = samples.shape[1]
        values[name], weights[name] = _finite(samples.reshape(-1), np.repeat(w / m, m))
        errors[name] = _event_errors(samples, w, edges)
    for name, (v, w) in (models or {}).items():
        values[name], weights[name] = _finite(v, w)
    given = {k: v for k, v in weights.items() if v is not None}
    numbers = histograms(t, values, edges, truth_weights=tw, model_weights=given)
    for name, err in errors.items():
        numbers["models"][name]["error"] = err.tolist()
    return numbers


def chi2(numbers: dict, name: str) -> dict:
    """chi2 of entry ``name`` against the truth over the bins where the truth is filled, with
    both statistical errors; returns {"chi2", "ndf", "chi2_per_ndf"}."""
    t, te = np.asarray(numbers["truth"]), np.asarray(numbers["truth_error"])
    m = numbers["models"][name]
    h, he = np.asarray(m["density"]), np.asarray(m["error"])
    var = te**2 + he**2
    use = (t > 0) & (var > 0)
    value = float(np.sum((h[use] - t[use]) ** 2 / var[use]))
    ndf = int(use.sum())
    return {"chi2": value, "ndf": ndf, "chi2_per_ndf": value / ndf if ndf else float("nan")}


def plot_unfolded(numbers: dict, path: str | Path, xlabel: str, title: str = "", logy: bool = False) -> Path:
    """Unfolded (and reference) distributions against the truth, with ratio and relative
    deviation panels (:func:`nis.generative.plots.plot_comparison`); PNG at ``path``."""
    return plot_comparison(numbers, path, xlabel, logy=logy, title=title)


def plot_calibration(curves: dict, path: str | Path, title: str = "") -> Path:
    """Calibration curves (name -> result of :func:`~nis.unfolding.calibration.calibration`):
    the fraction of truths below the posterior q-quantile (solid) and inside the central q
    interval (dashed) against q, with the diagonal of a calibrated posterior; PNG at ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.6, 4.4))
    ax.plot([0, 1], [0, 1], color="black", lw=0.8)
    for colour, (name, c) in zip(COLOURS, curves.items()):
        q = np.asarray(c["quantiles"])
        ax.plot(q, c["below"], color=colour, label=f"{name}: below ({c['max_deviation_below']:.3f})")
        ax.plot(q, c["central"], color=colour, ls="--", label=f"{name}: central ({c['max_deviation_central']:.3f})")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("posterior probability q")
    ax.set_ylabel("fraction of events")
    ax.legend(frameon=False, fontsize=7, title="max |coverage - q|", title_fontsize=7)
    if title:
        ax.set_title(title, fontsize=9)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path
