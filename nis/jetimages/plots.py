"""Plots of the jet-image study: ROC curves, average images, mass and tau_21 distributions.

* :func:`plot_rocs`: background rejection 1 / eps_B (log scale) against signal efficiency eps_S
  for every classifier, with the AUC in the legend and the no-separation line 1 / eps_S;
* :func:`plot_average_images`: the average signal image, the average background image (log colour
  scale) and their difference (signal - background, diverging map symmetric about 0, symmetric-log
  scale so the structure away from the centre shows), in the (eta', phi') frame of
  :mod:`nis.jetimages.images` (leading subjet at the origin, the second below it);
* :func:`plot_distributions`: the jet mass and tau_21 of both classes, normalised, and with
  weights (the decorrelation) the weighted ones dashed.

All write a PNG and return its path (matplotlib's Agg backend, no display needed).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nis.generative.plots import COLOURS

__all__ = ["plot_rocs", "plot_average_images", "plot_distributions"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    _pyplot().close(fig)
    return path


def plot_rocs(curves: dict[str, tuple[np.ndarray, np.ndarray]], path: str | Path, title: str = "",
              aucs: dict[str, float] | None = None) -> Path:
    """curves: name -> (eps_s, eps_b) (:func:`nis.jetimages.baselines.roc_curve`)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.4, 4.4))
    x = np.linspace(0.02, 1.0, 100)
    ax.plot(x, 1.0 / x, color="grey", ls=":", lw=1, label="no separation")
    styles = ("-", "--", "-.", ":")
    for k, (name, (es, eb)) in enumerate(curves.items()):
        es, eb = np.asarray(es), np.asarray(eb)
        ok = (eb > 0) & (es > 0.02)
        label = name if not aucs or name not in aucs else f"{name} (AUC {aucs[name]:.3f})"
        ax.plot(es[ok], 1.0 / eb[ok], color=COLOURS[k % len(COLOURS)], ls=styles[(k // len(COLOURS)) % 4], label=label)
    ax.set_yscale("log")
    ax.set_xlim(0, 1)
    ax.set_ylim(0.9, None)
    ax.set_xlabel(r"signal efficiency $\varepsilon_S$")
    ax.set_ylabel(r"background rejection $1/\varepsilon_B$")
    ax.axvline(0.5, color="black", lw=0.5, alpha=0.4)
    ax.legend(frameon=False, fontsize=7)
    if title:
        ax.set_title(title, fontsize=9)
    return _save(fig, path)


def plot_average_images(mean_signal: np.ndarray, mean_background: np.ndarray, path: str | Path,
                        pixel_size: float = 0.1, title: str = "") -> Path:
    """Three panels: average signal, average background, signal - background."""
    from matplotlib.colors import LogNorm, SymLogNorm

    plt = _pyplot()
    half = 0.5 * pixel_size * mean_signal.shape[0]
    extent = (-half, half, -half, half)
    fig, axes = plt.subplots(1, 3, figsize=(15.0, 4.4), constrained_layout=True)
    positive = np.concatenate([mean_signal[mean_signal > 0], mean_background[mean_background > 0]])
    lo = max(float(positive.min()), 1e-6) if positive.size else 1e-6
    hi = float(positive.max()) if positive.size else 1.0
    for ax, img, name in ((axes[0], mean_signal, "W jets (signal)"), (axes[1], mean_background, "QCD jets (background)")):
        im = ax.imshow(np.where(img > 0, img, np.nan), origin="lower", extent=extent, norm=LogNorm(lo, hi), cmap="viridis")
        fig.colorbar(im, ax=ax, label=r"$p_T$ fraction per pixel", shrink=0.9)
        ax.set_title(f"average image: {name}", fontsize=9)
    diff = mean_signal - mean_background
    m = float(np.abs(diff).max()) or 1.0
    im = axes[2].imshow(diff, origin="lower", extent=extent, cmap="RdBu_r",
                        norm=SymLogNorm(linthresh=1e-3 * m, vmin=-m, vmax=m, base=10))
    decades = 10.0 ** np.arange(np.ceil(np.log10(1e-2 * m)), np.floor(np.log10(m)) + 1)
    fig.colorbar(im, ax=axes[2], label="signal - background", shrink=0.9, ticks=np.r_[-decades[::-1], 0.0, decades])
    axes[2].set_title("difference (red: more signal)", fontsize=9)
    for ax in axes:
        ax.set_xlabel(r"$\eta'$ (translated, rotated, flipped)")
        ax.set_ylabel(r"$\phi'$ (translated, rotated)")
    if title:
        fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def plot_distributions(mass: np.ndarray, tau21: np.ndarray, labels: np.ndarray, path: str | Path,
                       weights: np.ndarray | None = None, title: str = "") -> Path:
    """Jet mass and tau_21 of signal (label 1) and background, normalised; with ``weights``
    the weighted distributions are added dashed."""
    plt = _pyplot()
    labels = np.asarray(labels).astype(bool)
    fig, axes = plt.subplots(1, 2, figsize=(10.5, 3.8))
    for ax, x, edges, xlabel in ((axes[0], mass, np.linspace(0, 250, 51), r"jet mass $m_J$ [GeV]"),
                                 (axes[1], tau21, np.linspace(0, 1.2, 49), r"$\tau_{21} = \tau_2/\tau_1$")):
        x = np.asarray(x)
        for cls, colour, name in ((True, COLOURS[1], "W jets"), (False, COLOURS[0], "QCD jets")):
            ax.hist(x[labels == cls], edges, density=True, histtype="step", color=colour, label=name)
            if weights is not None:
                ax.hist(x[labels == cls], edges, weights=np.asarray(weights)[labels == cls], density=True, histtype="step",
                        color=colour, ls="--", label=f"{name}, decorrelation weights")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("normalised")
        ax.legend(frameon=False, fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    return _save(fig, path)
