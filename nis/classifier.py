"""Training a binary classifier on weighted events: the one loop behind the jet taggers
(:mod:`nis.jetimages`), OmniFold's reweighting steps (:mod:`nis.unfolding.omnifold`) and the
generative models' discriminators (:mod:`nis.generative.classifier`).

The loss is the weighted binary cross entropy of the logits, ``sum_i w_i l_i / sum_i w_i`` per
batch, so a batch's step does not depend on the overall scale of the weights; callers weight the
two classes to equal totals, which makes ``exp(logit)`` the likelihood ratio ``p_1 / p_0`` at the
optimum. Adam, optionally with cosine decay of the step size; with a validation share the model
ends in the state of its lowest (finite) validation loss, without one in its last state.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["fit_binary_classifier", "weighted_bce"]


def _bce_sum(logits: Tensor, labels: Tensor, weights: Tensor) -> Tensor:
    """``sum w l`` of the binary cross entropies ``l`` of ``logits`` against 0/1 ``labels``."""
    return (F.binary_cross_entropy_with_logits(logits, labels, reduction="none") * weights).sum()


def weighted_bce(logits: Tensor, labels: Tensor, weights: Tensor) -> Tensor:
    """``sum w l / sum w`` of the binary cross entropies ``l`` of ``logits`` against 0/1 ``labels``."""
    return _bce_sum(logits, labels, weights) / weights.sum().clamp_min(1e-30)


def fit_binary_classifier(
    module: nn.Module,
    logit: Callable[[Tensor], Tensor],
    x: Tensor,
    labels: Tensor,
    weights: Tensor,
    *,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    weight_decay: float = 0.0,
    final_lr_fraction: float | None = None,
    validation_fraction: float = 0.0,
    seed: int = 0,
    progress: bool = False,
    desc: str = "classifier",
) -> list[dict]:
    """Train the parameters of ``module`` so that ``logit(x)`` separates label 1 from label 0.

    ``x``, ``labels``, ``weights``: tensors on the module's device (``labels`` and ``weights`` of
    the logits' dtype). ``final_lr_fraction``: cosine decay of the step size to this fraction of
    ``learning_rate`` over all steps (None: constant). ``validation_fraction`` > 0 holds that
    share out (a seeded permutation) and keeps the best validation state. Rows of weight 0 are
    left out. Leaves ``module`` in eval mode; returns one dict per epoch (``epoch``,
    ``train_loss``, ``val_loss`` where there is a validation share, ``seconds``).
    """
    keep = weights > 0  # rows of weight 0 (e.g. outside a reweighting's common support) teach nothing
    if not bool(keep.all()):
        x, labels, weights = x[keep], labels[keep], weights[keep]
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(x), generator=gen).to(x.device)
    n_val = max(1, int(round(validation_fraction * len(x)))) if validation_fraction > 0 else 0
    val, train = order[:n_val], order[n_val:]
    opt = torch.optim.Adam(module.parameters(), lr=learning_rate, weight_decay=weight_decay)
    steps = max(1, math.ceil(len(train) / batch_size))
    sched = None
    if final_lr_fraction is not None:
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * steps,
                                                           eta_min=final_lr_fraction * learning_rate)
    best_loss, best_state, history = math.inf, None, []
    from tqdm.auto import tqdm

    bar = tqdm(total=epochs, desc=desc, unit="epoch", disable=not progress, leave=False)
    for epoch in range(epochs):
        start = time.perf_counter()
        module.train()
        rows_all = train[torch.randperm(len(train), generator=gen).to(x.device)]
        total = torch.zeros(2, dtype=torch.float64, device=x.device)  # sum w l, sum w: one sync an epoch
        for i in range(steps):
            rows = rows_all[i * batch_size:(i + 1) * batch_size]
            loss_sum, weight_sum = _bce_sum(logit(x[rows]), labels[rows], weights[rows]), weights[rows].sum()
            loss = loss_sum / weight_sum.clamp_min(1e-30)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
            total += torch.stack([loss_sum.detach(), weight_sum]).double()
        entry = {"epoch": epoch + 1, "train_loss": float(total[0] / total[1].clamp_min(1e-30))}
        if n_val:
            entry["val_loss"] = _validation_loss(module, logit, x[val], labels[val], weights[val], batch_size)
            if math.isfinite(entry["val_loss"]) and entry["val_loss"] < best_loss:
                best_loss, best_state = entry["val_loss"], copy.deepcopy(module.state_dict())
        entry["seconds"] = time.perf_counter() - start
        history.append(entry)
        bar.update(1)
        bar.set_postfix({k: f"{v:.4f}" for k, v in entry.items() if k.endswith("loss")})
    bar.close()
    if best_state is not None:
        module.load_state_dict(best_state)
    module.eval()
    return history


@torch.no_grad()
def _validation_loss(module: nn.Module, logit, x: Tensor, labels: Tensor, weights: Tensor, batch: int) -> float:
    module.eval()
    total = sum(_bce_sum(logit(x[i:i + batch]), labels[i:i + batch], weights[i:i + batch]).double()
                for i in range(0, len(x), batch))
    return float(total / weights.sum())
