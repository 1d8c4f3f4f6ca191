"""The INN event generator for Z (-> mu mu) + 1, 2, 3 jets, built from :class:`nis.flows.Flow`.

Three conditional flows share the work, in the blocks of :mod:`nis.generative.features`::

    p(z | n) = p_base(z_base | n) * p_2(z_j2 | z_base, n)^[n >= 2] * p_3(z_j3 | z_base, z_j2)^[n = 3]

one base network (muons and the leading jet's direction, every multiplicity, conditioned on the
one-hot n) plus small networks for the second and third jet, conditioned on what came before.
The flows live on the unit cube; the whitened features z are taken there by the logistic
function ``u = sigmoid(z)``, so ``log p(z) = log q(u) + sum log sigmoid'(z)``.
An optional extra condition (the nuisance parameter of :mod:`nis.generative.bayesian` training)
is appended to every network's condition.

:class:`Trainer` maximises the (event-weighted) likelihood with Adam and a one-cycle learning
rate, keeps the state with the best validation loss, and stops with the last good state when a
loss turns NaN. :func:`generate` draws events of chosen multiplicities, applies the generation
cuts and undoes the Delta R magic transformation (:mod:`nis.generative.data`).
"""

from __future__ import annotations

import copy
import math
import warnings
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nis.flows import Flow
from nis.generative.data import ZJetsSample, magic_keep_probability, magic_weights, passes_cuts
from nis.generative.features import (
    BLOCK_DIMS, MULTIPLICITIES, Whitening, feature_dims, from_features, min_jet_delta_r, to_features,
)

__all__ = ["INNSettings", "ZJetsINN", "Trainer", "training_tensors", "generate", "TrainingStopped"]

D_MAX = sum(BLOCK_DIMS)


@dataclass
class INNSettings:
    """Network and training settings (the ``model`` and ``training`` keys of a generative config)."""

    bins: int = 10  #: spline bins
    hidden: int = 64  #: width of the base network's coupling MLPs
    layers: int = 2  #: hidden layers per coupling MLP
    blocks: int = 6  #: coupling blocks of the base network
    jet_hidden: int = 48  #: width of the second and third jet's networks
    jet_blocks: int = 4  #: their coupling blocks
    epochs: int = 30
    batch_size: int = 1024
    learning_rate: float = 1e-3  #: peak of the one-cycle schedule
    validation_fraction: float = 0.1
    magic: bool = True  #: the Delta R magic transformation
    r_minus: float = 0.2
    r_plus: float = 1.5
    seed: int = 0
    device: str = "cpu"


#: rows a flow draws at a time when generating
DRAW_CHUNK = 16_384


class TrainingStopped(RuntimeError):
    """Training met a NaN or inf loss; the model holds the last good state."""


def _flow(dims: int, condition_dims: int, hidden: int, blocks: int, s: INNSettings) -> Flow:
    return Flow(dims, condition_dims, bins=s.bins, hidden=hidden, layers=s.layers, blocks=blocks)


def _logistic_log_jacobian(z: Tensor) -> Tensor:
    return (F.logsigmoid(z) + F.logsigmoid(-z)).sum(dim=1)


class ZJetsINN(nn.Module):
    """The three flows, the whitening and the sample's constants (all in the state_dict)."""

    def __init__(self, settings: INNSettings, extra_dims: int = 0) -> None:
        super().__init__()
        self.settings, self.extra_dims = settings, extra_dims
        s, e = settings, extra_dims
        self.whitening = Whitening()
        self.base = _flow(BLOCK_DIMS[0], len(MULTIPLICITIES) + e, s.hidden, s.blocks, s)
        self.jet2 = _flow(BLOCK_DIMS[1], BLOCK_DIMS[0] + 2 + e, s.jet_hidden, s.jet_blocks, s)
        self.jet3 = _flow(BLOCK_DIMS[2], BLOCK_DIMS[0] + BLOCK_DIMS[1] + e, s.jet_hidden, s.jet_blocks, s)
        self.register_buffer("fractions", torch.full((3,), 1 / 3, dtype=torch.float64))
        self.register_buffer("lead_plus", torch.full((3,), 0.5, dtype=torch.float64))
        self.cuts: dict = {}

    @property
    def device(self) -> torch.device:
        return self.base.device

    def _extra(self, extra: Tensor | None, rows: Tensor | slice) -> list[Tensor]:
        return [] if extra is None else [extra[rows]]

    @staticmethod
    def _block(flow: Flow, z: Tensor, cond: Tensor) -> Tensor:
        return flow.log_prob(torch.sigmoid(z), cond) + _logistic_log_jacobian(z)

    def log_prob(self, z: Tensor, n: Tensor, extra: Tensor | None = None) -> Tensor:
        """log p(z | n) of whitened features z (N, 12; zero-padded), multiplicities n (N,)."""
        onehot = F.one_hot(n - 1, len(MULTIPLICITIES)).to(z.dtype)
        b0, b1 = BLOCK_DIMS[0], BLOCK_DIMS[0] + BLOCK_DIMS[1]
        lp = self._block(self.base, z[:, :b0], torch.cat([onehot] + self._extra(extra, slice(None)), 1))
        two = torch.nonzero(n >= 2).squeeze(1)
        if two.numel():
            cond = torch.cat([z[two, :b0], onehot[two, 1:]] + self._extra(extra, two), 1)
            lp = lp.index_add(0, two, self._block(self.jet2, z[two, b0:b1], cond))
        three = torch.nonzero(n == 3).squeeze(1)
        if three.numel():
            cond = torch.cat([z[three, :b1]] + self._extra(extra, three), 1)
            lp = lp.index_add(0, three, self._block(self.jet3, z[three, b1:], cond))
        return lp

    @staticmethod
    def _draw(flow: Flow, cond: Tensor, generator: torch.Generator) -> Tensor:
        # in chunks: a flow's activations for 10^5 rows outgrow the CPU's caches (2x slower); the
        # chunks draw the same random numbers as one call would
        u = torch.cat([flow.sample(c.shape[0], c, generator=generator)[0] for c in cond.split(DRAW_CHUNK)])
        eps = torch.finfo(u.dtype).eps
        u = u.clamp(eps, 1 - eps)
        return torch.log(u) - torch.log1p(-u)

    @torch.no_grad()
    def sample_whitened(self, n_jets: int, count: int, generator: torch.Generator, extra: Tensor | None = None) -> Tensor:
        """Whitened features (count, 6 + 3(n-1)) of events with ``n_jets`` jets."""
        feature_dims(n_jets)
        ref = next(self.parameters())
        onehot = torch.zeros(count, len(MULTIPLICITIES), dtype=ref.dtype, device=ref.device)
        onehot[:, n_jets - 1] = 1
        if extra is None and self.extra_dims:  # the nominal value of the extra condition
            extra = torch.zeros(count, self.extra_dims, dtype=ref.dtype, device=ref.device)
        ex = [] if extra is None else [extra]
        z = self._draw(self.base, torch.cat([onehot] + ex, 1), generator)
        if n_jets >= 2:
            z = torch.cat([z, self._draw(self.jet2, torch.cat([z, onehot[:, 1:]] + ex, 1), generator)], 1)
        if n_jets == 3:
            z = torch.cat([z, self._draw(self.jet3, torch.cat([z] + ex, 1), generator)], 1)
        return z

    def pt_minima(self) -> tuple[float, float]:
        return float(self.cuts.get("muon", {}).get("pt_min", 0.0)), float(self.cuts.get("jet", {}).get("pt_min", 0.0))

    def events(self, z: Tensor, n_jets: int, rng: np.random.Generator) -> tuple[np.ndarray, list[str]]:
        """Momenta (N, 2 + n, 4) and labels of whitened features z: a uniform overall azimuth,
        mu+ leading with the training frequency."""
        x = self.whitening.inverse(z.detach(), n_jets).cpu().numpy()
        lead = rng.random(len(x)) < float(self.lead_plus[n_jets - 1])
        return from_features(x, n_jets, *self.pt_minima(), rng.uniform(-np.pi, np.pi, len(x)), lead)


def training_tensors(model: ZJetsINN, sample: ZJetsSample, split: str = "train", fit: bool = False) -> dict:
    """Whitened, padded features, multiplicities and weights of a sample's events (on the
    model's device). ``fit``: first fit the whitening and the sample constants to them."""
    s = model.settings
    pt_mu, pt_j = (float(sample.cuts["muon"].get("pt_min", 0.0)), float(sample.cuts["jet"].get("pt_min", 0.0)))
    zs, ns, ws, drs = [], [], [], []
    for n, ev in sorted(getattr(sample, split).items()):
        x, _, lead_plus = to_features(ev.momenta, ev.labels, pt_mu, pt_j)
        dr = min_jet_delta_r(ev.momenta, ev.labels)
        w = ev.weights * (magic_weights(dr, s.r_minus, s.r_plus) if s.magic else 1.0)
        w = w / w.mean()
        if fit:
            model.whitening.fit(n, x, w)
            model.lead_plus[n - 1] = float(lead_plus.mean())
        z = model.whitening(torch.from_numpy(x), n)
        zs.append(F.pad(z, (0, D_MAX - z.shape[1])))
        ns.append(torch.full((len(x),), n, dtype=torch.long))
        ws.append(torch.from_numpy(w))
        drs.append(torch.from_numpy(dr))
    if fit:
        frac = torch.tensor([sample.fractions.get(n, 0.0) for n in MULTIPLICITIES], dtype=torch.float64)
        model.fractions.copy_(frac / frac.sum())
        model.cuts = sample.cuts
    ref = next(model.parameters())
    return {
        "z": torch.cat(zs).to(ref), "n": torch.cat(ns).to(ref.device), "w": torch.cat(ws).to(ref),
        "dr": torch.cat(drs).to(ref),
    }


class Trainer:
    """Weighted maximum likelihood for a :class:`ZJetsINN` (and, through ``weight_fn`` and
    ``extra_loss``, for DiscFlow and the Bayesian INN)."""

    def __init__(self, model: ZJetsINN, data: dict, settings: INNSettings, generator: torch.Generator):
        self.model, self.s, self.generator = model, settings, generator
        n = data["z"].shape[0]
        perm = torch.randperm(n, generator=generator).to(data["z"].device)
        k = max(1, int(settings.validation_fraction * n))
        self.val = {key: v[perm[:k]] for key, v in data.items()}
        self.train = {key: v[perm[k:]] for key, v in data.items()}
        self.n_train = self.train["z"].shape[0]
        self.steps_per_epoch = max(1, math.ceil(self.n_train / settings.batch_size))
        self.optimizer = torch.optim.Adam(model.parameters(), lr=settings.learning_rate)
        self.schedule = torch.optim.lr_scheduler.OneCycleLR(
            self.optimizer, max_lr=settings.learning_rate, total_steps=self.steps_per_epoch * settings.epochs
        )
        self.history: list[dict] = []
        self.best: tuple[float, dict] | None = None

    def loss(self, batch: dict, weight: Tensor | None = None, extra: Tensor | None = None) -> Tensor:
        w = batch["w"] if weight is None else batch["w"] * weight
        nll = -self.model.log_prob(batch["z"], batch["n"], extra)
        return (w * nll).sum() / w.sum()

    def epoch(self, weight_fn=None, extra_fn=None, extra_loss=None) -> float:
        """One pass over the training events; returns the mean loss. ``weight_fn(batch)``: extra
        per-event weights; ``extra_fn(batch)``: the extra condition; ``extra_loss()``: a term
        added to each step's loss (the Bayesian KL)."""
        self.model.train()
        perm = torch.randperm(self.n_train, generator=self.generator).to(self.train["z"].device)
        total = 0.0
        for i in range(self.steps_per_epoch):
            rows = perm[i * self.s.batch_size:(i + 1) * self.s.batch_size]
            batch = {key: v[rows] for key, v in self.train.items()}
            extra = extra_fn(batch) if extra_fn else None
            loss = self.loss(batch, weight_fn(batch) if weight_fn else None, extra)
            if extra_loss is not None:
                loss = loss + extra_loss()
            if not torch.isfinite(loss):
                self.restore()
                raise TrainingStopped(f"the training loss became {loss.item()} at epoch {len(self.history) + 1}")
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(self.model.parameters(), 10.0)
            self.optimizer.step()
            if self.schedule.last_epoch + 1 < self.schedule.total_steps:
                self.schedule.step()
            total += loss.item()
        return total / self.steps_per_epoch

    @torch.no_grad()
    def validate(self, weight_fn=None, extra_fn=None, extra_loss=None) -> float:
        """The loss on the validation events (with the same hooks as :meth:`epoch`)."""
        self.model.eval()
        extra = extra_fn(self.val) if extra_fn else None
        loss = self.loss(self.val, weight_fn(self.val) if weight_fn else None, extra)
        return float(loss + extra_loss()) if extra_loss is not None else float(loss)

    def record(self, train_loss: float, val_loss: float, **more) -> None:
        self.history.append({"epoch": len(self.history) + 1, "train_loss": train_loss, "val_loss": val_loss, **more})
        if math.isfinite(val_loss) and (self.best is None or val_loss < self.best[0]):
            self.best = (val_loss, copy.deepcopy(self.model.state_dict()))

    def restore(self) -> None:
        """Back to the best state so far (the last good one)."""
        if self.best is not None:
            self.model.load_state_dict(self.best[1])

    def fit(self, progress: bool = False, **hooks) -> list[dict]:
        from tqdm.auto import tqdm

        bar = tqdm(range(self.s.epochs), desc="training", unit="epoch", disable=not progress)
        for _ in bar:
            try:
                train_loss = self.epoch(**hooks)
            except TrainingStopped as exc:
                warnings.warn(f"{exc}; kept the best state before it", RuntimeWarning, stacklevel=2)
                break
            val_loss = self.validate(**hooks)
            self.record(train_loss, val_loss)
            bar.set_postfix(loss=f"{train_loss:.4f}", val=f"{val_loss:.4f}")
        self.restore()
        return self.history


def train_inn(sample: ZJetsSample, settings: INNSettings, progress: bool = False) -> tuple[ZJetsINN, list[dict]]:
    """Train the INN on a sample's training events; returns the model (best validation state)
    and the per-epoch history."""
    torch.manual_seed(settings.seed)
    model = ZJetsINN(settings).to(settings.device)
    data = training_tensors(model, sample, fit=True)
    generator = torch.Generator(device="cpu").manual_seed(settings.seed)
    trainer = Trainer(model, data, settings, generator)
    return model, trainer.fit(progress)


@torch.no_grad()
def generate(model: ZJetsINN, n_jets: int, count: int, seed: int, extra_fn=None, max_rounds: int = 100) -> dict:
    """``count`` events with ``n_jets`` jets that pass the generation cuts, the magic
    transformation undone. ``extra_fn(k) -> (k, e)``: the extra condition of k draws.

    Returns {"momenta" (count, 2 + n, 4), "labels", "features" (count, d) whitened,
    "cut_efficiency", "magic_acceptance"}.
    """
    s = model.settings
    generator = torch.Generator(device=model.device).manual_seed(seed)
    rng = np.random.default_rng(seed)
    r_cut = float(model.cuts.get("jet_by_n", {}).get(n_jets, model.cuts.get("jet", {})).get("delta_r_min", 0.0))
    kept_p, kept_z, drawn, passed = [], [], 0, 0
    labels = None
    for _ in range(max_rounds):
        have = sum(len(p) for p in kept_p)
        if have >= count:
            break
        k = max(1000, int(1.3 * (count - have) / max(passed / drawn if drawn else 0.5, 0.05)))
        extra = extra_fn(k) if extra_fn else None
        z = model.sample_whitened(n_jets, k, generator, extra)
        p, labels = model.events(z, n_jets, rng)
        keep = passes_cuts(p, labels, model.cuts, n_jets) & np.isfinite(p).all(axis=(1, 2))
        drawn += k
        passed += int(keep.sum())
        if s.magic and n_jets > 1:
            prob = magic_keep_probability(min_jet_delta_r(p, labels), r_cut, s.r_minus, s.r_plus)
            keep &= rng.random(k) < prob
        kept_p.append(p[keep])
        kept_z.append(z.cpu().numpy()[keep])
    momenta = np.concatenate(kept_p)[:count]
    if len(momenta) < count:
        raise RuntimeError(f"only {len(momenta)} of {count} generated events passed the cuts in {max_rounds} rounds")
    return {
        "momenta": momenta, "labels": labels, "features": np.concatenate(kept_z)[:count],
        "cut_efficiency": passed / drawn, "magic_acceptance": len(np.concatenate(kept_p)) / max(passed, 1),
    }
