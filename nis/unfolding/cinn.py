"""Unfolding with a conditional invertible network (cINN): the posterior p(truth | detector).

A :class:`nis.flows.Flow` models the density of the standardised truth features z
(:class:`~nis.unfolding.features.TruthFeatures`, or any vector) given an embedding of the
detector-level event. The flow lives on the unit cube; z is taken there by the logistic
function ``u = sigmoid(z)``, so ``log p(z | c) = log q(u | e(c)) + sum log sigmoid'(z)``
(the log-Jacobian helper of :mod:`nis.generative.inn`).

Posteriors are often much narrower than the prior (a 2% muon resolution pins pT_Z to a few
percent of its spread), which a spline flow on the cube reaches only slowly. So, with
``affine=True`` (the default), the condition first sets a location and scale per feature,
``z' = (z - mu(e)) exp(-s(e))`` (a linear layer on the embedding, starting at the identity;
|s| held below 8 by a tanh), and the flow models z' given the embedding:
``log p(z | c) = log p(z' | c) - sum s``.

The condition network e(c) (:class:`ConditionNet`) is a deep set over the detector objects
(:class:`~nis.unfolding.features.ConditionLayout`): each real object's standardised features
and type one-hot go through one MLP, the outputs are summed over the real objects (padded slots
are masked out, so any number of jets from 0 to J is handled and the padding values never
matter), and a second MLP maps the sum, the global features and the jet-multiplicity one-hot to
the flow's condition. It is trained jointly with the flow.

Training maximises the (event-weighted) likelihood of the truth given the detector on the
simulation, with the trainer of the generative INN (:class:`nis.generative.inn.Trainer`: Adam,
one-cycle learning rate, a validation split, the best validation state kept, a NaN loss stops
training with the last good state). :meth:`CINN.posterior` then draws, for every detector
event, samples of the truth features and, through the features' inverse map, of the physical
observables (:func:`~nis.unfolding.features.truth_observables`). The posterior is that of the
simulation's prior: truth distributions far from the simulation's are pulled towards it where
the detector resolves little. Nor can it reach beyond the simulation's truth: draws that land
more than one standard deviation outside the training range of a feature (the flow's far tails:
about 1e-4 of the draws, some at absurd pT) are drawn again. Model files:
:mod:`nis.generative.model_io`, kind ``cinn``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nis.flows import Flow
from nis.generative.inn import Trainer, _logistic_log_jacobian
from nis.generative.model_io import ModelFileError, load_model_file, save_model
from nis.unfolding.features import ConditionLayout, FeatureScaler, TruthFeatures, truth_observables

__all__ = ["CINNSettings", "ConditionNet", "CINN", "Posterior", "train_cinn", "save_cinn", "load_cinn", "KIND"]

KIND = "cinn"
MAX_LOG_SCALE = 8.0  #: |s| of the conditional affine layer stays below this
SUPPORT_MARGIN = 1.0  #: posterior draws beyond the training range by more than this (standardised) are redrawn
REDRAWS = 20


@dataclass
class CINNSettings:
    """Network and training settings (the ``cinn`` key of an unfolding config)."""

    bins: int = 10  #: spline bins per dimension
    hidden: int = 64  #: width of the coupling MLPs
    layers: int = 2  #: hidden layers per coupling MLP
    blocks: int = 6  #: coupling blocks (each two couplings)
    embed_hidden: int = 64  #: width of the condition network's MLPs
    embed_dims: int = 32  #: per-object embedding summed over the objects
    condition_dims: int = 32  #: what the flow sees of the condition
    affine: bool = True  #: a conditional location and scale in front of the flow
    epochs: int = 20
    batch_size: int = 1024
    learning_rate: float = 1e-3  #: peak of the one-cycle schedule
    validation_fraction: float = 0.1
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self):
        from nis.config import ConfigError

        for name in ("bins", "hidden", "layers", "blocks", "embed_hidden", "embed_dims", "condition_dims", "epochs",
                     "batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"cinn.{name} must be positive; got {getattr(self, name)}")
        if not self.learning_rate > 0:
            raise ConfigError(f"cinn.learning_rate must be positive; got {self.learning_rate}")
        if not 0.0 < self.validation_fraction < 1.0:
            raise ConfigError(f"cinn.validation_fraction must lie in (0, 1); got {self.validation_fraction}")


def _mlp(d_in: int, hidden: int, d_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_in, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(),
                         nn.Linear(hidden, d_out))


class ConditionNet(nn.Module):
    """Deep-set embedding of a standardised flat condition (see the module docstring):
    ``rho(sum over real objects of phi(object, type), global, one-hot)``, shape (N, out_dims)."""

    def __init__(self, layout: ConditionLayout, hidden: int, embed_dims: int, out_dims: int) -> None:
        super().__init__()
        self.layout = layout
        width = layout.global_features + layout.onehot_features
        if layout.n_objects:
            types = torch.as_tensor(layout.object_types, dtype=torch.long)
            self.register_buffer("types", F.one_hot(types, layout.n_types).to(torch.get_default_dtype()))
            self.phi = _mlp(layout.object_features + layout.n_types, hidden, embed_dims)
            width += embed_dims
        self.rho = _mlp(width, hidden, out_dims)

    def forward(self, condition: Tensor) -> Tensor:
        obj, mask, glob, onehot = self.layout.split(condition)
        parts = []
        if self.layout.n_objects:
            types = self.types.to(condition).expand(condition.shape[0], -1, -1)
            real = mask.unsqueeze(-1) > 0
            e = self.phi(torch.cat([obj, types], dim=-1))
            parts.append(torch.where(real, e, torch.zeros((), dtype=e.dtype, device=e.device)).sum(dim=1))
        return self.rho(torch.cat(parts + [glob, onehot], dim=1))


@dataclass
class Posterior:
    """Posterior samples of N detector events: ``features`` (N, M, d) truth features;
    ``observables`` name -> (N, M) (with a truth map); ``momenta`` (N, M, k, 4) if asked for."""

    features: np.ndarray
    observables: dict
    momenta: np.ndarray | None = None
    labels: list | None = None


class CINN(nn.Module):
    """The conditional flow, its condition network and the standardisations (buffers).

    truth_dims: d; layout: the condition's :class:`ConditionLayout`; truth_map: the
    :class:`TruthFeatures` that turn features into momenta (None: plain vectors, no observables).
    """

    def __init__(self, truth_dims: int, layout: ConditionLayout, settings: CINNSettings,
                 truth_map: TruthFeatures | None = None) -> None:
        super().__init__()
        if truth_map is not None and truth_map.dims != truth_dims:
            raise ValueError(f"truth_dims {truth_dims} but the truth map has {truth_map.dims} features")
        self.settings, self.layout, self.truth_map, self.truth_dims = settings, layout, truth_map, truth_dims
        s = settings
        self.truth_scaler = FeatureScaler(ConditionLayout(global_features=truth_dims))
        self.condition_scaler = FeatureScaler(layout)
        self.embedding = ConditionNet(layout, s.embed_hidden, s.embed_dims, s.condition_dims)
        self.flow = Flow(truth_dims, s.condition_dims, bins=s.bins, hidden=s.hidden, layers=s.layers, blocks=s.blocks)
        # the standardised training range: the posterior cannot reach beyond the prior's support
        self.register_buffer("support_lo", torch.full((truth_dims,), -float("inf")))
        self.register_buffer("support_hi", torch.full((truth_dims,), float("inf")))
        if s.affine:
            self.affine = nn.Linear(s.condition_dims, 2 * truth_dims)
            nn.init.zeros_(self.affine.weight)
            nn.init.zeros_(self.affine.bias)

    @property
    def device(self) -> torch.device:
        return self.flow.device

    def fit_scalers(self, truth: np.ndarray, condition: np.ndarray, weights: np.ndarray | None = None) -> None:
        """Fit both standardisations to training truth (N, d) and conditions (N, C), and the
        truth's standardised range."""
        self.truth_scaler.fit(truth, weights)
        self.condition_scaler.fit(condition, weights)
        with torch.no_grad():
            z = self.truth_scaler(self._tensor(truth))
            self.support_lo.copy_(z.min(dim=0).values - SUPPORT_MARGIN)
            self.support_hi.copy_(z.max(dim=0).values + SUPPORT_MARGIN)

    def _tensor(self, a) -> Tensor:
        return torch.as_tensor(np.asarray(a, dtype=np.float64)).to(device=self.device, dtype=self.flow.dtype)

    def prepare(self, truth: np.ndarray | None, condition: np.ndarray) -> tuple[Tensor | None, Tensor]:
        """Standardised truth (or None) and condition as tensors of the flow's dtype and device."""
        c = self.condition_scaler(self._tensor(condition))
        return (None if truth is None else self.truth_scaler(self._tensor(truth))), c

    def _location_scale(self, emb: Tensor) -> tuple[Tensor, Tensor]:
        """(mu, s) of the conditional affine layer; (0, 0) without it."""
        if not self.settings.affine:
            zero = emb.new_zeros(emb.shape[0], self.truth_dims)
            return zero, zero
        mu, s = self.affine(emb).chunk(2, dim=1)
        return mu, MAX_LOG_SCALE * torch.tanh(s / MAX_LOG_SCALE)

    def log_prob(self, z: Tensor, condition: Tensor, extra: Tensor | None = None) -> Tensor:
        """log p(z | c) of standardised truth z (N, d) given standardised conditions (N, C)
        (the signature :class:`nis.generative.inn.Trainer` calls; ``extra`` is unused)."""
        emb = self.embedding(condition)
        mu, s = self._location_scale(emb)
        z = (z - mu) * torch.exp(-s)
        return self.flow.log_prob(torch.sigmoid(z), emb) + _logistic_log_jacobian(z) - s.sum(dim=1)

    def log_density(self, truth: np.ndarray, condition: np.ndarray) -> np.ndarray:
        """log p(x | c) of physical truth features x (N, d) given raw conditions (N, C)."""
        with torch.no_grad():
            z, c = self.prepare(truth, condition)
            lp = self.log_prob(z, c).double().cpu().numpy()
        return lp - float(torch.log(self.truth_scaler.global_std).sum())

    @torch.no_grad()
    def sample_features(self, condition: np.ndarray, n_samples: int, generator: torch.Generator,
                        chunk: int = 200_000) -> np.ndarray:
        """``n_samples`` draws of the truth features for each raw condition (N, C): (N, M, d)."""
        self.eval()
        _, c = self.prepare(None, condition)
        emb = self.embedding(c)
        n, m = emb.shape[0], int(n_samples)
        out = np.empty((n, m, self.truth_dims))
        step = max(1, chunk // max(m, 1))
        eps = torch.finfo(self.flow.dtype).eps
        lo, hi = self.support_lo.to(emb), self.support_hi.to(emb)
        for start in range(0, n, step):
            e = emb[start:start + step].repeat_interleave(m, dim=0)
            mu, s = self._location_scale(e)
            z = torch.empty(e.shape[0], self.truth_dims, dtype=e.dtype, device=e.device)
            todo = torch.arange(e.shape[0], device=e.device)
            for _ in range(REDRAWS):  # redraw the rare far-tail draws outside the training range
                u = self.flow.sample(len(todo), e[todo], generator=generator)[0]
                z[todo] = torch.logit(u, eps=eps) * torch.exp(s[todo]) + mu[todo]
                todo = todo[((z[todo] < lo) | (z[todo] > hi)).any(dim=1)]
                if not len(todo):
                    break
            x = self.truth_scaler.inverse(z.double())
            out[start:start + step] = x.cpu().numpy().reshape(-1, m, self.truth_dims)
        return out

    def posterior(self, condition: np.ndarray, n_samples: int, generator: torch.Generator,
                  azimuth: np.ndarray | None = None, momenta: bool = False) -> Posterior:
        """Posterior samples for raw conditions (N, C) (e.g. of
        :func:`~nis.unfolding.features.detector_condition`): the truth features and, with a truth
        map, the observables of :func:`~nis.unfolding.features.truth_observables` per sample and,
        with ``momenta``, the momenta (N, M, k, 4). The overall azimuth is a symmetry the network
        does not learn; momenta take ``azimuth`` (N,) (e.g. the detector dimuon's) as phi_Z,
        default 0."""
        x = self.sample_features(condition, n_samples, generator)
        n, m = x.shape[:2]
        if self.truth_map is None:
            return Posterior(features=x, observables={})
        az = np.zeros(n) if azimuth is None else np.asarray(azimuth, dtype=np.float64)
        obs: dict[str, list] = {}
        moms = []
        step = max(1, 200_000 // m)
        for start in range(0, n, step):
            rows = x[start:start + step].reshape(-1, self.truth_dims)
            p = self.truth_map.from_features(rows, np.repeat(az[start:start + step], m))
            for name, v in truth_observables(p, self.truth_map.labels).items():
                obs.setdefault(name, []).append(v.reshape(-1, m))
            if momenta:
                moms.append(p.reshape(-1, m, *p.shape[1:]))
        return Posterior(features=x, observables={k: np.concatenate(v) for k, v in obs.items()},
                         momenta=np.concatenate(moms) if momenta else None, labels=list(self.truth_map.labels))


def train_cinn(truth: np.ndarray, condition: np.ndarray, layout: ConditionLayout, settings: CINNSettings,
               weights: np.ndarray | None = None, truth_map: TruthFeatures | None = None,
               progress: bool = False) -> tuple[CINN, list[dict]]:
    """Train a cINN on truth features (N, d) and raw conditions (N, C) with event weights;
    returns the model (best validation state) and the per-epoch history."""
    truth, condition = np.asarray(truth, dtype=np.float64), np.asarray(condition, dtype=np.float64)
    if truth.ndim != 2 or condition.shape != (len(truth), layout.width):
        raise ValueError(f"truth (N, d) and condition (N, {layout.width}); got {truth.shape} and {condition.shape}")
    w = np.ones(len(truth)) if weights is None else np.asarray(weights, dtype=np.float64)
    for name, a in (("truth", truth), ("condition", condition), ("weights", w)):
        if not np.isfinite(a).all():
            rows = np.nonzero(~np.isfinite(a.reshape(len(a), -1)).all(axis=1))[0]
            raise ValueError(f"{name} has non-finite values (in {len(rows)} events, first rows {rows[:5].tolist()})")
    if w.shape != (len(truth),) or not w.sum() > 0:
        raise ValueError(f"weights must have shape ({len(truth)},) and a positive sum")
    torch.manual_seed(settings.seed)
    model = CINN(truth.shape[1], layout, settings, truth_map).to(settings.device)
    model.fit_scalers(truth, condition, w)
    z, c = model.prepare(truth, condition)
    data = {"z": z, "n": c, "w": torch.as_tensor(w / np.mean(w)).to(z)}
    generator = torch.Generator(device="cpu").manual_seed(settings.seed)
    history = Trainer(model, data, settings, generator).fit(progress)
    model.eval()
    return model, history


def save_cinn(model: CINN, path: str | Path, extra: dict | None = None) -> Path:
    """Write a cINN model file (kind ``cinn``; see :mod:`nis.generative.model_io`)."""
    info = {"truth_dims": model.truth_dims, "layout": model.layout.as_dict(),
            "truth_map": None if model.truth_map is None else model.truth_map.as_dict(), **(extra or {})}
    return save_model(path, KIND, model.state_dict(), asdict(model.settings), info)


def load_cinn(path: str | Path) -> tuple[CINN, dict]:
    """A cINN and its file's dict; a file of another kind, format or nis version is refused
    (:class:`~nis.generative.model_io.ModelFileError`)."""
    if not Path(path).is_file():
        raise ModelFileError(f"{path}: no such model file (nis unfold CONFIG writes cinn.pt to its output directory)")
    data = load_model_file(path, (KIND,))
    settings = CINNSettings(**data["settings"])
    settings.device = "cpu"
    extra = data["extra"]
    truth_map = None if extra["truth_map"] is None else TruthFeatures(**extra["truth_map"])
    model = CINN(int(extra["truth_dims"]), ConditionLayout.from_dict(extra["layout"]), settings, truth_map)
    model.load_state_dict(data["state_dict"])
    model.eval()
    return model, data
