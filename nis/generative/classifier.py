"""Discriminators between truth and generated events, and the weights they give.

A classifier per multiplicity n learns D(x) = P(truth | x) on the whitened features of
:mod:`nis.generative.features` plus the observables a flow finds hard (m_mumu, pT_mumu and the
Delta R of jet pairs), with balanced binary cross entropy. For a well-trained D,
``w_D = D / (1 - D)`` approximates p_truth(x) / p_model(x): generated events weighted by w_D
reproduce the truth, and histograms of the average w_D per bin show where the generator is off.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from nis.classifier import fit_binary_classifier
from nis.flows.subnet import MLP
from nis.generative.features import MULTIPLICITIES, feature_dims, observables

__all__ = ["DiscriminatorSettings", "Discriminator", "discriminator_inputs", "train_discriminator", "weights_from"]

#: observables added to the features as the discriminator's inputs
HARD_OBSERVABLES = ("m_mumu", "pt_mumu")


@dataclass
class DiscriminatorSettings:
    hidden: int = 64
    layers: int = 3
    epochs: int = 10
    batch_size: int = 1024
    learning_rate: float = 1e-3
    weight_clip: float = 10.0  #: w_D is clipped to [1/clip, clip] (D near 0 or 1 is noise)
    seed: int = 0



def _n_inputs(n: int) -> int:
    return feature_dims(n) + len(HARD_OBSERVABLES) + n * (n - 1) // 2


def discriminator_inputs(features: np.ndarray, momenta: np.ndarray, labels: list[str]) -> np.ndarray:
    """Whitened features (N, d) and the hard observables (m_mumu, pT_mumu, Delta R of every jet
    pair) as one (N, d + k) array."""
    obs = observables(momenta, labels)
    extra = [obs[k] for k in HARD_OBSERVABLES] + [v for k, v in obs.items() if k.startswith("dr_")]
    return np.concatenate([features, np.stack(extra, axis=1)], axis=1)


class Discriminator(nn.Module):
    """One MLP per multiplicity; inputs standardised with buffers fitted to the truth."""

    def __init__(self, settings: DiscriminatorSettings) -> None:
        super().__init__()
        self.settings = settings
        self.nets = nn.ModuleDict()
        for n in MULTIPLICITIES:
            d = _n_inputs(n)
            net = MLP(d, 1, hidden=settings.hidden, layers=settings.layers, activation="leaky_relu")
            self.nets[str(n)] = net
            self.register_buffer(f"mean_{n}", torch.zeros(d))
            self.register_buffer(f"std_{n}", torch.ones(d))

    def logit(self, x: Tensor, n: int) -> Tensor:
        return self.nets[str(n)]((x - getattr(self, f"mean_{n}")) / getattr(self, f"std_{n}")).squeeze(1)

    @torch.no_grad()
    def weights(self, x: Tensor, n: int) -> Tensor:
        """``w_D = D / (1 - D) = exp(logit)``, clipped to [1/clip, clip]."""
        c = self.settings.weight_clip
        return torch.exp(self.logit(x, n)).clamp(1.0 / c, c)


def train_discriminator(
    disc: Discriminator, n: int, truth: np.ndarray, generated: np.ndarray, progress: bool = False,
    epochs: int | None = None, fit_scaling: bool = True, truth_weights: np.ndarray | None = None,
) -> list[float]:
    """Train the multiplicity-n network on inputs of truth (label 1, event weights
    ``truth_weights``) and generated (label 0) events, the two classes weighted equally; returns
    the per-epoch mean loss."""
    s = disc.settings
    ref = next(disc.parameters())
    t = torch.as_tensor(truth, dtype=ref.dtype, device=ref.device)
    g = torch.as_tensor(generated, dtype=ref.dtype, device=ref.device)
    if fit_scaling:
        getattr(disc, f"mean_{n}").copy_(t.mean(0))
        getattr(disc, f"std_{n}").copy_(t.std(0).clamp_min(1e-6))
    x = torch.cat([t, g])
    y = torch.cat([torch.ones(len(t)), torch.zeros(len(g))]).to(x)
    wt = torch.ones(len(t)) if truth_weights is None else torch.as_tensor(truth_weights, dtype=torch.float32)
    w = torch.cat([0.5 * wt / wt.sum(), torch.full((len(g),), 0.5 / len(g))]).to(x) * len(x)
    history = fit_binary_classifier(
        disc.nets[str(n)], lambda rows: disc.logit(rows, n), x, y, w, epochs=epochs or s.epochs,
        batch_size=s.batch_size, learning_rate=s.learning_rate, seed=s.seed + n, progress=progress,
        desc=f"discriminator {n}j",
    )
    return [h["train_loss"] for h in history]


def weights_from(disc: Discriminator, n: int, inputs: np.ndarray) -> np.ndarray:
    """w_D of events (numpy in, numpy out)."""
    ref = next(disc.parameters())
    return disc.weights(torch.as_tensor(inputs, dtype=ref.dtype, device=ref.device), n).cpu().numpy()
