"""Classifier-based iterative unfolding (OmniFold; Andreassen, Komiske, Metodiev, Nachman,
Thaler, Phys. Rev. Lett. 124 (2020) 182001, arXiv:1911.09107).

The simulation comes as pairs (truth t_i, detector r_i) with weights w_i; the data as detector
events with weights. A classifier trained to separate sample A (label 1) from sample B (label 0),
both normalised to the same total weight, gives ``D / (1 - D) = exp(logit) = p_A(x) / p_B(x)``.
Starting from ``nu_0(t) = 1``, iteration n does

1. **push / step 1** (detector level): classify data (A) against the simulation weighted by
   ``w nu_{n-1}`` (B); ``omega_n = nu_{n-1} * p_data / p_sim(r)`` reweights the simulation to the
   data at detector level;
2. **pull / step 2** (truth level): the weights ``omega_n`` live on the detector events; pull them
   back to truth by classifying the simulation truth weighted by ``w omega_n`` (A) against the
   same truth weighted by ``w nu_{n-1}`` (B); ``nu_n(t) = nu_{n-1}(t) * p_A / p_B(t)`` is a
   function of the truth alone.

After a few iterations ``w nu_n`` reweights the simulation truth to an estimate of the data's
truth (the output: per-event truth weights of the simulation). Each classifier is a torch MLP on
the standardised flattened features (:class:`~nis.unfolding.features.FeatureScaler`: padded jets
are zeros, the mask and the multiplicity one-hot are inputs), trained with class-balanced
weighted binary cross entropy, keeping the state of lowest validation loss. Each step's ratio is
clipped to ``[1/weight_clip, weight_clip]`` (default 10: a classifier output near 0 or 1 is
noise, not a density ratio), and after each step the weights are normalised so that
``sum w omega = sum w nu = sum w``. Only events that pass the detector selection take part: the
result is the truth of selected events (no efficiency or fake correction).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from nis.classifier import fit_binary_classifier
from nis.unfolding.features import ConditionLayout, FeatureScaler

__all__ = ["OmniFoldSettings", "Classifier", "train_classifier", "OmniFoldResult", "omnifold"]


@dataclass
class OmniFoldSettings:
    """The ``omnifold`` key of an unfolding config."""

    iterations: int = 4
    hidden: int = 64  #: width of the classifiers' hidden layers
    layers: int = 3  #: hidden layers
    epochs: int = 10  #: per classifier
    batch_size: int = 2048
    learning_rate: float = 1e-3
    validation_fraction: float = 0.2
    weight_clip: float = 10.0  #: each step's ratio is clipped to [1/weight_clip, weight_clip]
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self):
        from nis.config import ConfigError

        for name in ("iterations", "hidden", "layers", "epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"omnifold.{name} must be positive; got {getattr(self, name)}")
        if not self.learning_rate > 0:
            raise ConfigError(f"omnifold.learning_rate must be positive; got {self.learning_rate}")
        if not 0.0 < self.validation_fraction < 1.0:
            raise ConfigError(f"omnifold.validation_fraction must lie in (0, 1); got {self.validation_fraction}")
        if not self.weight_clip > 1.0:
            raise ConfigError(f"omnifold.weight_clip must be above 1; got {self.weight_clip}")


class Classifier(nn.Module):
    """Standardisation (buffers) and an MLP giving the logit of label 1."""

    def __init__(self, layout: ConditionLayout, hidden: int, layers: int) -> None:
        super().__init__()
        self.scaler = FeatureScaler(layout)
        modules: list[nn.Module] = []
        width = layout.width
        for _ in range(layers):
            modules += [nn.Linear(width, hidden), nn.LeakyReLU()]
            width = hidden
        self.net = nn.Sequential(*modules, nn.Linear(width, 1))

    def logit(self, x: Tensor) -> Tensor:
        """Logits (n,) of raw flat inputs x (n, width)."""
        return self.net(self.scaler(x)).squeeze(1)

    @torch.no_grad()
    def ratio(self, x: np.ndarray, clip: float, chunk: int = 100_000) -> np.ndarray:
        """``p_1 / p_0 = exp(logit)`` of raw inputs (n, width), clipped to [1/clip, clip]."""
        self.eval()
        ref = next(self.net.parameters())
        out = []
        for start in range(0, len(x), chunk):
            t = torch.as_tensor(np.asarray(x[start:start + chunk], dtype=np.float64)).to(ref)
            out.append(self.logit(t).double().cpu().numpy())
        return np.clip(np.exp(np.concatenate(out) if out else np.zeros(0)), 1.0 / clip, clip)


def train_classifier(x1: np.ndarray, w1: np.ndarray, x0: np.ndarray, w0: np.ndarray, layout: ConditionLayout,
                     settings: OmniFoldSettings, seed: int = 0, progress: bool = False,
                     desc: str = "classifier") -> tuple[Classifier, list[dict]]:
    """A classifier of x1 (label 1, weights w1) against x0 (label 0, weights w0), the two classes
    weighted to equal totals; returns it (lowest validation loss) and the per-epoch losses."""
    s = settings
    torch.manual_seed(seed)
    clf = Classifier(layout, s.hidden, s.layers).to(s.device)
    x = np.concatenate([x1, x0]).astype(np.float64)
    w = np.concatenate([np.asarray(w1, dtype=np.float64) / np.sum(w1), np.asarray(w0, dtype=np.float64) / np.sum(w0)])
    w *= len(x) / 2
    clf.scaler.fit(x, w)
    ref = next(clf.net.parameters())
    history = fit_binary_classifier(
        clf, clf.logit, torch.as_tensor(x).to(ref), torch.cat([torch.ones(len(x1)), torch.zeros(len(x0))]).to(ref),
        torch.as_tensor(w).to(ref), epochs=s.epochs, batch_size=s.batch_size, learning_rate=s.learning_rate,
        validation_fraction=s.validation_fraction, seed=seed, progress=progress, desc=desc,
    )
    return clf, history


@dataclass
class OmniFoldResult:
    """``weights``: the final truth weights nu (N,) of the simulation events (multiply by the
    simulation's event weights); ``push``: omega_n (detector level) and ``pull``: nu_n (truth
    level) of every iteration; ``history``: per iteration and step, the classifier losses."""

    weights: np.ndarray
    push: list = field(default_factory=list)
    pull: list = field(default_factory=list)
    history: list = field(default_factory=list)


def _normalise(w_sim: np.ndarray, factor: np.ndarray) -> np.ndarray:
    return factor * (w_sim.sum() / (w_sim * factor).sum())


def omnifold(sim_truth: np.ndarray, sim_detector: np.ndarray, data_detector: np.ndarray, *,
             truth_layout: ConditionLayout | None = None, detector_layout: ConditionLayout | None = None,
             sim_weights: np.ndarray | None = None, data_weights: np.ndarray | None = None,
             settings: OmniFoldSettings | None = None, progress: bool = False) -> OmniFoldResult:
    """OmniFold (see the module docstring). sim_truth (N, d) and sim_detector (N, C): the
    simulation's truth features and detector inputs, row by row; data_detector (M, C). Layouts
    default to plain vectors; weights to ones."""
    from tqdm.auto import tqdm

    s = settings or OmniFoldSettings()
    sim_truth = np.asarray(sim_truth, dtype=np.float64)
    sim_detector = np.asarray(sim_detector, dtype=np.float64)
    data_detector = np.asarray(data_detector, dtype=np.float64)
    if sim_truth.ndim == 1:
        sim_truth = sim_truth[:, None]
    if sim_detector.ndim == 1:
        sim_detector, data_detector = sim_detector[:, None], data_detector.reshape(-1, 1)
    n = len(sim_truth)
    if len(sim_detector) != n or data_detector.shape[1:] != sim_detector.shape[1:]:
        raise ValueError(f"sim_truth (N, d), sim_detector (N, C), data_detector (M, C); got {sim_truth.shape},"
                         f" {sim_detector.shape}, {data_detector.shape}")
    truth_layout = truth_layout or ConditionLayout(global_features=sim_truth.shape[1])
    detector_layout = detector_layout or ConditionLayout(global_features=sim_detector.shape[1])
    w_sim = np.ones(n) if sim_weights is None else np.asarray(sim_weights, dtype=np.float64)
    w_data = np.ones(len(data_detector)) if data_weights is None else np.asarray(data_weights, dtype=np.float64)
    nu = np.ones(n)
    result = OmniFoldResult(weights=nu)
    for it in tqdm(range(s.iterations), desc="omnifold", unit="iteration", disable=not progress):
        clf, h1 = train_classifier(data_detector, w_data, sim_detector, w_sim * nu, detector_layout, s,
                                   seed=s.seed + 2 * it, progress=progress, desc=f"step 1, iteration {it + 1}")
        omega = _normalise(w_sim, nu * clf.ratio(sim_detector, s.weight_clip))
        clf, h2 = train_classifier(sim_truth, w_sim * omega, sim_truth, w_sim * nu, truth_layout, s,
                                   seed=s.seed + 2 * it + 1, progress=progress, desc=f"step 2, iteration {it + 1}")
        nu = _normalise(w_sim, nu * clf.ratio(sim_truth, s.weight_clip))
        result.push.append(omega)
        result.pull.append(nu)
        result.history.append({"iteration": it + 1, "step1": h1, "step2": h2})
    result.weights = nu
    return result
