"""Physics baselines for W tagging and the figures of merit every classifier is compared with.

Figures of merit, all with optional per-jet weights (signal = label 1):

* :func:`roc_curve`: signal efficiency eps_S and background efficiency (mistag rate) eps_B of the
  cut ``score > t`` for every threshold t (equal scores are one threshold), from (0, 0) to (1, 1);
* :func:`auc`: the area under eps_S(eps_B), the probability that a random signal jet scores above
  a random background jet (ties count one half): 1 perfect, 0.5 no separation;
* :func:`auc_error`: the AUC's statistical error from bootstrap resamples of the test jets;
* :func:`rejection_at`: background rejection 1 / eps_B at a given eps_S (50% by default),
  linearly interpolated between the neighbouring thresholds.

Baselines, each seeing only the jet mass and tau_21 (:mod:`nis.jetimages.substructure`):

* :func:`mass_window_roc`: the cut ``m_lo < m < m_hi``. Every window on a grid is scanned on the
  *training* jets, the windows that are Pareto-optimal there (no other window has more signal
  and less background) are applied to the test jets, and the ROC is their lower envelope;
* the tau_21 cut ``tau_21 < t``: :func:`roc_curve` of the score ``-tau_21``;
* :class:`MassTau21MLP`: a fully connected network on (m, tau_21), standardised, trained like the
  CNN (:func:`nis.jetimages.cnn.fit_classifier`): the best any function of these two can do.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from nis.flows.subnet import MLP
from nis.jetimages.cnn import ClassifierTraining, fit_classifier

__all__ = [
    "roc_curve", "auc", "rejection_at", "roc_summary", "auc_error", "mass_window_roc", "MLPSettings", "MassTau21MLP",
    "train_mlp", "mlp_scores",
]


def _weights(labels: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    return np.ones(len(labels)) if weights is None else np.asarray(weights, dtype=np.float64)


def roc_curve(scores: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(eps_s, eps_b)`` of ``score > t`` for all thresholds, both non-decreasing, from 0 to 1."""
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels).astype(bool)
    w = _weights(labels, weights)
    if len(scores) != len(labels) or len(w) != len(labels):
        raise ValueError(f"scores, labels and weights must have one entry per jet; got {len(scores)}, {len(labels)}, {len(w)}")
    order = np.argsort(-scores, kind="stable")
    s, ws, lab = scores[order], w[order], labels[order]
    cum_s = np.cumsum(np.where(lab, ws, 0.0))
    cum_b = np.cumsum(np.where(lab, 0.0, ws))
    last = np.r_[s[1:] != s[:-1], True]  # the last jet of every group of equal scores
    tot_s, tot_b = cum_s[-1] if len(s) else 0.0, cum_b[-1] if len(s) else 0.0
    if tot_s <= 0 or tot_b <= 0:
        raise ValueError("a ROC curve needs signal and background jets of positive total weight")
    eps_s = np.r_[0.0, cum_s[last] / tot_s]
    eps_b = np.r_[0.0, cum_b[last] / tot_b]
    return eps_s, eps_b


def auc(eps_s: np.ndarray, eps_b: np.ndarray) -> float:
    """Area under eps_S as a function of eps_B (trapezoids)."""
    return float(np.trapezoid(np.asarray(eps_s), np.asarray(eps_b)))


def rejection_at(eps_s: np.ndarray, eps_b: np.ndarray, efficiency: float = 0.5) -> float:
    """1 / eps_B at eps_S = ``efficiency`` (inf when no background passes)."""
    eps_s, eps_b = np.asarray(eps_s), np.asarray(eps_b)
    i = int(np.searchsorted(eps_s, efficiency, side="left"))
    if i >= len(eps_s):
        return float("nan")
    if eps_s[i] == efficiency or i == 0:
        b = eps_b[i]
    else:
        f = (efficiency - eps_s[i - 1]) / (eps_s[i] - eps_s[i - 1])
        b = eps_b[i - 1] + f * (eps_b[i] - eps_b[i - 1])
    return float("inf") if b <= 0 else float(1.0 / b)


def roc_summary(eps_s: np.ndarray, eps_b: np.ndarray) -> dict:
    """``{"auc", "rejection_50"}`` of a ROC curve."""
    return {"auc": auc(eps_s, eps_b), "rejection_50": rejection_at(eps_s, eps_b, 0.5)}


def auc_error(scores: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None, draws: int = 100,
              seed: int = 0, reference: np.ndarray | None = None) -> float:
    """Statistical error of the AUC of ``scores``: the standard deviation over ``draws`` bootstrap
    resamples of the jets (each class resampled with its own size). With ``reference`` (another
    classifier's scores of the same jets): the error of the difference AUC(scores) - AUC(reference)
    on the same resamples (the two are correlated, so this is smaller than either error)."""
    scores, labels = np.asarray(scores), np.asarray(labels).astype(bool)
    w = _weights(labels, weights)
    rng = np.random.default_rng(seed)
    sig, bkg = np.flatnonzero(labels), np.flatnonzero(~labels)
    values = []
    for _ in range(draws):
        idx = np.r_[rng.choice(sig, len(sig)), rng.choice(bkg, len(bkg))]
        a = auc(*roc_curve(scores[idx], labels[idx], w[idx]))
        if reference is not None:
            a -= auc(*roc_curve(np.asarray(reference)[idx], labels[idx], w[idx]))
        values.append(a)
    return float(np.std(values, ddof=1))


def _window_efficiencies(mass, labels, weights, edges):
    """eps_S and eps_B (K+1, K+1) of every window [edges[i], edges[j]) (zero unless i < j)."""
    labels = np.asarray(labels).astype(bool)
    w = _weights(labels, weights)
    out = []
    for cls in (True, False):
        h, _ = np.histogram(np.asarray(mass)[labels == cls], edges, weights=w[labels == cls])
        c = np.r_[0.0, np.cumsum(h)] / max(w[labels == cls].sum(), 1e-300)  # jets outside the grid never pass
        out.append(np.triu(c[None, :] - c[:, None], 1))
    return out


def mass_window_roc(
    mass_train: np.ndarray, labels_train: np.ndarray, mass_test: np.ndarray, labels_test: np.ndarray,
    weights_train: np.ndarray | None = None, weights_test: np.ndarray | None = None,
    edges: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC of the mass-window cut (module docstring): ``(eps_s, eps_b, windows)`` on the test jets,
    windows (k, 2) in GeV the Pareto-optimal training windows in order of the curve.
    ``edges``: the grid of window ends (default 0 to 300 GeV in 2 GeV steps)."""
    edges = np.arange(0.0, 302.0, 2.0) if edges is None else np.asarray(edges, dtype=np.float64)
    es, eb = _window_efficiencies(mass_train, labels_train, weights_train, edges)
    i, j = np.triu_indices(len(edges), 1)
    es, eb = es[i, j], eb[i, j]
    order = np.lexsort((eb, -es))  # decreasing eps_S, then increasing eps_B
    running = np.minimum.accumulate(eb[order])
    pareto = order[np.r_[True, running[1:] < running[:-1]]]
    ts, tb = _window_efficiencies(mass_test, labels_test, weights_test, edges)
    ts, tb = ts[i[pareto], j[pareto]], tb[i[pareto], j[pareto]]
    windows = np.stack([edges[i[pareto]], edges[j[pareto]]], axis=1)
    order = np.argsort(ts, kind="stable")
    ts, tb, windows = ts[order], tb[order], windows[order]
    tb = np.minimum.accumulate(tb[::-1])[::-1]  # lower envelope: eps_B non-decreasing in eps_S
    return np.r_[0.0, ts, 1.0], np.r_[0.0, tb, 1.0], windows


@dataclass
class MLPSettings(ClassifierTraining):
    """The (mass, tau_21) network and its training."""

    section: typing.ClassVar[str] = "mlp"

    epochs: int = 30  #: passes over the training jets
    batch_size: int = 256  #: jets per step
    learning_rate: float = 2e-3  #: Adam's step size (cosine decay to 5% of it)
    hidden: int = 64  #: width of the hidden layers
    layers: int = 3  #: hidden layers

    def __post_init__(self):
        self.check_positive("hidden", "layers")


class MassTau21MLP(nn.Module):
    """(N, 2) features (mass in GeV, tau_21) -> signal logits (N,), inputs standardised with
    buffers fitted to the training features."""

    def __init__(self, settings: MLPSettings | None = None) -> None:
        super().__init__()
        self.settings = settings or MLPSettings()
        self.net = MLP(2, 1, hidden=self.settings.hidden, layers=self.settings.layers, activation="relu")
        self.register_buffer("mean", torch.zeros(2))
        self.register_buffer("std", torch.ones(2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 2 or x.shape[1] != 2:
            raise ValueError(f"features must have shape (N, 2) (mass, tau21); got shape {tuple(x.shape)}")
        return self.net((x - self.mean) / self.std).squeeze(1)


def train_mlp(features: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None,
              settings: MLPSettings | None = None, progress: bool = False) -> tuple[MassTau21MLP, list[dict]]:
    """Train a :class:`MassTau21MLP` on features (N, 2) = (mass, tau21), labels (N,) (1 = signal)
    and optional per-jet weights; returns it (best validation epoch, eval mode) and its history."""
    model = MassTau21MLP(settings)
    x = np.asarray(features, dtype=np.float32)
    model.mean.copy_(torch.from_numpy(x.mean(0)))
    model.std.copy_(torch.from_numpy(np.maximum(x.std(0), 1e-6)))
    history = fit_classifier(model, x, labels, weights, model.settings, progress, "MLP (m, tau21)")
    return model, history


def mlp_scores(model: MassTau21MLP, features: np.ndarray) -> np.ndarray:
    """P(signal) of features (N, 2) -> (N,) numpy."""
    model.eval()
    with torch.no_grad():
        return torch.sigmoid(model(torch.from_numpy(np.asarray(features, dtype=np.float32)))).numpy().astype(np.float64)
