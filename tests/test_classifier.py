"""The weighted-classifier loop shared by the jet taggers, OmniFold and the discriminators."""

import math

import pytest
import torch

from nis.classifier import fit_binary_classifier, weighted_bce


def _reweighted_gaussians(n: int, shift: float, seed: int):
    """Both classes drawn from N(0, 1); class 1 weighted by N(x; shift, 1) / N(x; 0, 1), so the
    optimal logit is the log of that ratio, ``shift x - shift^2 / 2``, exactly linear."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2 * n, 1, generator=g)
    labels = torch.cat([torch.ones(n), torch.zeros(n)])
    w = torch.where(labels > 0, torch.exp(shift * x[:, 0] - 0.5 * shift**2), torch.ones(2 * n))
    return x, labels, w


@pytest.mark.parametrize("validation_fraction", [0.0, 0.2])
def test_the_logit_learns_the_log_likelihood_ratio_of_weighted_samples(validation_fraction):
    shift = 0.8
    x, labels, w = _reweighted_gaussians(20_000, shift, seed=1)
    torch.manual_seed(0)
    lin = torch.nn.Linear(1, 1)
    history = fit_binary_classifier(lin, lambda v: lin(v)[:, 0], x, labels, w, epochs=15, batch_size=500,
                                    learning_rate=0.05, final_lr_fraction=0.01,
                                    validation_fraction=validation_fraction, seed=3)
    slope, intercept = lin.weight.item(), lin.bias.item()
    assert slope == pytest.approx(shift, abs=0.06)
    assert intercept == pytest.approx(-0.5 * shift**2, abs=0.06)
    assert len(history) == 15 and history[-1]["train_loss"] < history[0]["train_loss"]
    assert ("val_loss" in history[0]) == (validation_fraction > 0)
    assert not lin.training


def test_rows_of_weight_zero_teach_nothing():
    x, labels, w = _reweighted_gaussians(5_000, 0.8, seed=2)
    junk = torch.full((5_000, 1), 3.0)  # mislabelled rows far out, weight 0
    fits = []
    for xs, ys, ws in ((x, labels, w), (torch.cat([x, junk]), torch.cat([labels, torch.zeros(5_000)]),
                                        torch.cat([w, torch.zeros(5_000)]))):
        torch.manual_seed(0)
        lin = torch.nn.Linear(1, 1)
        fit_binary_classifier(lin, lambda v, lin=lin: lin(v)[:, 0], xs, ys, ws, epochs=3, batch_size=500,
                              learning_rate=0.05, seed=3)
        fits.append((lin.weight.item(), lin.bias.item()))
    assert fits[0] == pytest.approx(fits[1], abs=1e-6)


def test_the_loss_does_not_depend_on_the_weights_scale():
    logits, labels = torch.tensor([0.3, -1.0, 2.0]), torch.tensor([1.0, 0.0, 0.0])
    w = torch.tensor([0.5, 2.0, 1.0])
    assert float(weighted_bce(logits, labels, 1e6 * w)) == pytest.approx(float(weighted_bce(logits, labels, w)))
    # two points of logit 0: log 2 whatever their labels and weights
    assert float(weighted_bce(torch.zeros(2), torch.tensor([1.0, 0.0]), torch.tensor([3.0, 1.0]))) == pytest.approx(
        math.log(2.0))
