"""Histograms of generated events against truth: distribution, ratio and relative deviation.

:func:`histograms` makes the numbers (normalised histograms with statistical errors, per-bin
ratios to truth; for a model with an ensemble of weight draws, the mean and spread per bin) and
:func:`plot_comparison` draws them in three panels: the distributions (with uncertainty bands
where there are ensembles), model / truth with the truth's statistical band, and
``delta = |model - truth| / truth`` in percent.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["histograms", "plot_comparison"]

COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def _hist(x: np.ndarray, edges: np.ndarray, w: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Normalised to unit area over the edges; returns (density, its statistical error)."""
    w = np.ones_like(x) if w is None else w
    h, _ = np.histogram(x, edges, weights=w)
    h2, _ = np.histogram(x, edges, weights=w * w)
    norm = w.sum() * np.diff(edges)
    norm = np.where(norm > 0, norm, 1.0)
    return h / norm, np.sqrt(h2) / norm


def histograms(
    truth: np.ndarray,
    models: dict[str, np.ndarray],
    edges: np.ndarray,
    truth_weights: np.ndarray | None = None,
    model_weights: dict[str, np.ndarray] | None = None,
    ensembles: dict[str, list[np.ndarray]] | None = None,
) -> dict:
    """Per-bin numbers of an observable.

    truth: (N,) values; models: name -> (M,) values (weights in ``model_weights``, e.g. a
    discriminator's); ensembles: name -> list of value arrays, one per draw of a Bayesian
    network's weights (its band: mean and standard deviation over the draws).
    Returns {"edges", "truth", "truth_error", "models": {name: {"density", "error", "ratio",
    "delta_percent", "band"?}}} as lists (JSON-ready).
    """
    edges = np.asarray(edges, dtype=np.float64)
    t, t_err = _hist(np.asarray(truth), edges, truth_weights)
    safe = np.where(t > 0, t, np.nan)
    out = {"edges": edges.tolist(), "truth": t.tolist(), "truth_error": t_err.tolist(), "models": {}}
    for name, values in models.items():
        w = (model_weights or {}).get(name)
        h, h_err = _hist(np.asarray(values), edges, w)
        entry = {
            "density": h.tolist(),
            "error": h_err.tolist(),
            "ratio": (h / safe).tolist(),
            "delta_percent": (100.0 * np.abs(h - t) / safe).tolist(),
        }
        if ensembles and name in ensembles:
            draws = np.stack([_hist(np.asarray(v), edges, None)[0] for v in ensembles[name]])
            entry["band"] = {"mean": draws.mean(0).tolist(), "std": draws.std(0, ddof=1).tolist()}
        out["models"][name] = entry
    return out


def _steps(edges: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return edges, np.append(y, y[-1])


def plot_comparison(numbers: dict, path: str | Path, xlabel: str, logy: bool = False, title: str = "") -> Path:
    """Three panels from :func:`histograms`' numbers, saved as PNG at ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    edges = np.asarray(numbers["edges"])
    t, t_err = np.asarray(numbers["truth"]), np.asarray(numbers["truth_error"])
    fig, (ax, ar, ad) = plt.subplots(
        3, 1, figsize=(5.2, 6.0), sharex=True, gridspec_kw={"height_ratios": [3, 1, 1], "hspace": 0.06}
    )
    ax.step(*_steps(edges, t), where="post", color="black", label="truth")
    rel = np.divide(t_err, t, out=np.zeros_like(t), where=t > 0)
    ar.fill_between(edges, *[np.append(1 + s * rel, 1 + s * rel[-1]) for s in (-1, 1)], step="post",
                    color="grey", alpha=0.3, lw=0)
    ar.axhline(1.0, color="black", lw=0.8)
    for colour, (name, m) in zip(COLOURS, numbers["models"].items()):
        h = np.asarray(m["density"])
        ax.step(*_steps(edges, h), where="post", color=colour, label=name)
        ar.step(*_steps(edges, np.asarray(m["ratio"])), where="post", color=colour)
        ad.step(*_steps(edges, np.asarray(m["delta_percent"])), where="post", color=colour)
        if "band" in m:
            mean, std = np.asarray(m["band"]["mean"]), np.asarray(m["band"]["std"])
            ax.fill_between(edges, np.append(mean - std, mean[-1] - std[-1]), np.append(mean + std, mean[-1] + std[-1]),
                            step="post", color=colour, alpha=0.25, lw=0)
            safe = np.where(t > 0, t, np.nan)
            lo, hi = (mean - std) / safe, (mean + std) / safe
            ar.fill_between(edges, np.append(lo, lo[-1]), np.append(hi, hi[-1]), step="post", color=colour,
                            alpha=0.25, lw=0)
    if logy:
        ax.set_yscale("log")
    ax.set_ylabel("normalised")
    ax.legend(frameon=False, fontsize=8)
    if title:
        ax.set_title(title, fontsize=9)
    ar.set_ylim(0.8, 1.2)
    ar.set_ylabel("model / truth")
    ad.set_ylim(0.1, 100)
    ad.set_yscale("log")
    ad.set_ylabel(r"$\delta$ [%]")
    ad.set_xlabel(xlabel)
    ad.set_xlim(edges[0], edges[-1])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path
