"""DiscFlow: the INN's likelihood training, steered by a discriminator (no adversarial game).

Each epoch: the flow draws as many events per multiplicity as there are training events (up
to ``max_generated``); the discriminator (:mod:`nis.generative.classifier`) is trained for
``disc_epochs`` on the truth (with its training weights) against them; then the flow runs one
likelihood epoch in which every truth event's loss is weighted by ``w_D^alpha`` with
``alpha = alpha0 |1/2 - D|``: events in regions the flow under-populates (D > 1/2, w_D > 1)
count more, and the weighting fades as the flow approaches the truth (D -> 1/2). ``alpha0``
rises linearly from 0 to ``alpha0`` over the first half of the epochs. The flow never
maximises the discriminator's loss, so there is no Nash equilibrium to find: both networks
minimise their own well-defined losses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from nis.generative.classifier import Discriminator, DiscriminatorSettings, discriminator_inputs, train_discriminator
from nis.generative.data import ZJetsSample
from nis.generative.features import feature_dims
from nis.generative.inn import INNSettings, Trainer, TrainingStopped, ZJetsINN, training_tensors

__all__ = ["DiscFlowSettings", "train_discflow"]


@dataclass
class DiscFlowSettings:
    alpha0: float = 2.0  #: final alpha0 of the weight exponent alpha = alpha0 |1/2 - D|
    disc_epochs: int = 2  #: discriminator epochs per flow epoch
    max_generated: int = 50_000  #: flow events per multiplicity and epoch for the discriminator



def _truth_inputs(model: ZJetsINN, sample: ZJetsSample, data: dict) -> dict[int, np.ndarray]:
    """Discriminator inputs of the training truth, in the order of ``data`` (training_tensors)."""
    out = {}
    for n, ev in sorted(sample.train.items()):
        rows = (data["n"] == n).cpu().numpy()
        out[n] = discriminator_inputs(data["z"][rows, :feature_dims(n)].cpu().numpy(), ev.momenta, ev.labels)
    return out


def train_discflow(
    sample: ZJetsSample, settings: INNSettings, disc_settings: DiscriminatorSettings,
    discflow: DiscFlowSettings, progress: bool = False,
) -> tuple[ZJetsINN, Discriminator, list[dict]]:
    """Train flow and discriminator jointly; returns both and the per-epoch history (losses,
    alpha0, mean |1/2 - D| on the truth)."""
    from tqdm.auto import tqdm

    torch.manual_seed(settings.seed)
    model = ZJetsINN(settings).to(settings.device)
    data = training_tensors(model, sample, fit=True)
    disc = Discriminator(disc_settings).to(settings.device)
    truth_inputs = _truth_inputs(model, sample, data)
    index = {n: torch.nonzero(data["n"] == n).squeeze(1) for n in sample.train}
    data["row"] = torch.arange(len(data["n"]), device=data["n"].device)  # D is looked up by row
    generator = torch.Generator().manual_seed(settings.seed)
    trainer = Trainer(model, data, settings, generator)
    rng = np.random.default_rng(settings.seed)
    d_all = torch.full((len(data["n"]),), 0.5, dtype=data["z"].dtype, device=data["z"].device)
    bar = tqdm(range(settings.epochs), desc="discflow", unit="epoch", disable=not progress)
    for epoch in bar:
        alpha0 = discflow.alpha0 * min(1.0, epoch / max(1, settings.epochs // 2))
        for n in sample.train:
            k = min(len(index[n]), discflow.max_generated)
            z = model.sample_whitened(n, k, generator)
            p, labels = model.events(z, n, rng)
            ok = np.isfinite(p).all(axis=(1, 2))
            gen_inputs = discriminator_inputs(z.cpu().numpy()[ok], p[ok], labels)
            train_discriminator(disc, n, truth_inputs[n], gen_inputs, epochs=discflow.disc_epochs,
                                fit_scaling=epoch == 0, truth_weights=data["w"][index[n]].cpu().numpy())
            with torch.no_grad():
                x = torch.as_tensor(truth_inputs[n], dtype=d_all.dtype, device=d_all.device)
                d_all[index[n]] = torch.sigmoid(disc.logit(x.to(next(disc.parameters())), n)).to(d_all)

        def weight_fn(batch, alpha0=alpha0):
            d = d_all[batch["row"]]
            w_d = (d / (1 - d)).clamp(1 / disc_settings.weight_clip, disc_settings.weight_clip)
            return w_d ** (alpha0 * (0.5 - d).abs())

        try:
            train_loss = trainer.epoch(weight_fn=weight_fn)
        except TrainingStopped as exc:
            import warnings

            warnings.warn(f"{exc}; kept the best state before it", RuntimeWarning, stacklevel=2)
            break
        val_loss = trainer.validate()
        trainer.record(train_loss, val_loss, alpha0=alpha0, mean_abs_d=float((d_all - 0.5).abs().mean()))
        bar.set_postfix(loss=f"{train_loss:.4f}", val=f"{val_loss:.4f}", alpha0=f"{alpha0:.2f}")
    trainer.restore()
    return model, disc, trainer.history
