"""The Bayesian INN: the Z + jets INN with variational Bayesian coupling networks.

Every linear layer of the three flows becomes a :class:`nis.generative.bayesian.BayesianLinear`
(Gaussian posterior per weight, Gaussian prior of width ``prior_std``); training minimises the
negative ELBO per event, the weighted NLL plus ``KL / N_train``. Sampling the network weights
gives an ensemble of generators: the spread of their histograms is the per-bin uncertainty of
the learned density, large where training data are sparse (the tails). The nominal generator
uses the posterior means.

**A systematic carried through generation**: with ``nuisance: a_max > 0`` every training event
gets, at every step, a fresh ``a ~ U(0, a_max)`` as an extra condition and the augmented weight
``1 + a ((pT_j1 - pT_min) / 100 GeV)^2`` (a shape uncertainty growing in the leading jet's pT
tail). The network learns the whole family p(x | a); generating at a given a reproduces the
truth reweighted with that a (:func:`nuisance_check`), and drawing a from its prior
propagates the systematic into the generated sample.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from nis.generative.bayesian import bayesianize, kl_divergence, set_mode, weight_draw
from nis.generative.config import BayesianSettings
from nis.generative.data import ZJetsSample
from nis.generative.features import observables
from nis.generative.inn import INNSettings, Trainer, ZJetsINN, generate, training_tensors

__all__ = ["make_bayesian", "train_binn", "ensemble_generator", "nuisance_check", "NUISANCE_SCALE"]

NUISANCE_SCALE = 100.0  #: GeV, the scale of the augmented weight's pT dependence


def make_bayesian(model: ZJetsINN, b: BayesianSettings) -> ZJetsINN:
    """Make the three flows Bayesian (in place); posterior means in use ("mean" mode)."""
    for flow in (model.base, model.jet2, model.jet3):
        bayesianize(flow, b.prior_std)
    set_mode(model, "mean")
    return model


def _augmentation(pt_j1: np.ndarray, pt_min: float) -> np.ndarray:
    return ((pt_j1 - pt_min) / NUISANCE_SCALE) ** 2


def train_binn(sample: ZJetsSample, settings: INNSettings, b: BayesianSettings, progress: bool = False):
    """Train the Bayesian INN; returns (model in "mean" mode, history)."""
    torch.manual_seed(settings.seed)
    nuisance = b.nuisance > 0
    model = make_bayesian(ZJetsINN(settings, extra_dims=1 if nuisance else 0), b).to(settings.device)
    data = training_tensors(model, sample, fit=True)
    if nuisance:
        pt_min = model.pt_minima()[1]
        g = np.concatenate([_augmentation(observables(ev.momenta, ev.labels)["pt_j1"], pt_min)
                            for _, ev in sorted(sample.train.items())])
        data["g"] = torch.from_numpy(g).to(data["w"])
    generator = torch.Generator().manual_seed(settings.seed)
    trainer = Trainer(model, data, settings, generator)
    hooks = {"extra_loss": lambda: kl_divergence(model) / trainer.n_train}
    if nuisance:
        def extra_fn(batch):
            batch["a"] = b.nuisance * torch.rand(len(batch["w"]), 1, generator=generator).to(batch["w"])
            return batch["a"] / b.nuisance

        hooks["extra_fn"] = extra_fn
        hooks["weight_fn"] = lambda batch: 1.0 + batch["a"][:, 0] * batch["g"]
    set_mode(model, "sample", generator)
    history = trainer.fit(progress, **hooks)
    set_mode(model, "mean")
    return model, history


def ensemble_generator(model: ZJetsINN, b: BayesianSettings):
    """``fn(n_jets, count, seed) -> [momenta per weight draw]`` (``b.draws`` draws, nominal a)."""

    def fn(n_jets: int, count: int, seed: int) -> list[np.ndarray]:
        out = []
        for k in range(b.draws):
            with weight_draw(model, torch.Generator().manual_seed(seed + k)):
                out.append(generate(model, n_jets, count, seed=seed + k)["momenta"])
        return out

    return fn


def nuisance_check(model: ZJetsINN, sample: ZJetsSample, b: BayesianSettings, n_jets: int, seed: int,
                   out: Path) -> dict:
    """pT_j1 generated at a = 0, a_max/2, a_max against the truth reweighted with the same a."""
    from nis.generative.plots import histograms, plot_comparison

    truth = sample.test[n_jets]
    t = observables(truth.momenta, truth.labels)["pt_j1"]
    g_truth = _augmentation(t, model.pt_minima()[1])
    edges = np.linspace(model.pt_minima()[1], np.quantile(t, 0.995), 31)
    result = {}
    for a in (0.0, 0.5 * b.nuisance, b.nuisance):
        cond = lambda k, a=a: torch.full((k, 1), a / b.nuisance, dtype=next(model.parameters()).dtype)  # noqa: E731
        gen = generate(model, n_jets, len(truth), seed=seed, extra_fn=cond)
        values = observables(gen["momenta"], gen["labels"])["pt_j1"]
        numbers = histograms(t, {f"BINN a = {a:g}": values}, edges, truth_weights=truth.weights * (1 + a * g_truth))
        plot_comparison(numbers, out / f"{n_jets}j_nuisance_a{a:g}.png", r"$p_{T,j_1}$ [GeV]",
                        title=f"nuisance a = {a:g}: truth reweighted by 1 + a g(pT)")
        result[f"{a:g}"] = numbers
    return result
