"""Training losses of one channel, as plain functions, and their multi-channel combination.

Every loss compares the target ``f(x) >= 0`` (here ``alpha_c(x) |value_c(x)|``) with the
density ``q(x)`` being trained, from samples drawn from a density ``q_s`` that may be an older
one (buffered training). Arguments, all of shape (n,):

* ``f``: target values at the samples,
* ``log_q``: log-density of the trained model at the samples (carries the gradient),
* ``log_q_sample``: log-density the samples were drawn from (no gradient).

With ``I = E_{q_s}[f / q_s]`` and ``p = f / I`` the normalised target:

==============  ==============================  ==========================================
loss            value                           estimator from samples of ``q_s``
==============  ==============================  ==========================================
``variance``    ``Var_q[f/q] = int f^2/q - I^2``  ``mean(f^2 / (q q_s)) - mean(f/q_s)^2``
``kl``          ``int p log(p/q)``               ``mean(p/q_s * (log p - log q))``
``chi2``        ``int (p - q)^2 / q``            ``mean(p^2 / (q q_s)) - 1``
``exponential`` ``int p (log p - log q)^2``      ``mean(p/q_s * (log p - log q)^2)``
``renyi``       ``log(int p^a q^(1-a)) / (a-1)``  ``log mean(p/q_s * (p/q)^(a-1)) / (a-1)``
==============  ==============================  ==========================================

The Renyi divergence of order ``a > 1`` targets the unweighting efficiency: ``a = 2`` gives
``log(1 + chi2)``, the variance's minimiser, and as ``a`` grows it tends to ``log max(p/q)``,
the logarithm of the largest weight over the mean weight, i.e. ``-log`` of the unweighting
efficiency of an infinite sample. A finite order (default 4) weighs the large weights that fix
``w_max`` more than the variance does while keeping the estimate's noise bounded.

Each estimator is unbiased for its value (up to the estimate of ``I``; ``renyi`` is the log of an
unbiased estimate, consistent rather than unbiased), and its gradient is the gradient of the value
whatever ``q_s`` is, so the same function serves online and buffered training. Points with
``f = 0`` contribute nothing (``0 log 0 = 0``).
"""

from __future__ import annotations

import functools
import math

import torch
from torch import Tensor


def _ratio(f: Tensor, log_q_sample: Tensor) -> tuple[Tensor, Tensor]:
    """Weights ``f / q_s`` and the integral estimate ``I`` (clamped away from zero)."""
    w = f * torch.exp(-log_q_sample)
    return w, w.mean().clamp(min=torch.finfo(w.dtype).tiny)


def variance(f: Tensor, log_q: Tensor, log_q_sample: Tensor) -> Tensor:
    """Variance of the weights ``f/q`` per point (its gradient also reaches ``f``)."""
    w, integral = _ratio(f, log_q_sample)
    return (w * f * torch.exp(-log_q)).mean() - w.mean() ** 2


def chi2(f: Tensor, log_q: Tensor, log_q_sample: Tensor) -> Tensor:
    """Pearson chi^2 divergence ``int (p - q)^2 / q`` of the normalised target from ``q``."""
    w, integral = _ratio(f, log_q_sample)
    return (w / integral * (f / integral) * torch.exp(-log_q)).mean() - 1.0  # (not / I^2: it underflows at f = 0)


def _log_p(f: Tensor, integral: Tensor) -> Tensor:
    """log of the normalised target ``f / I`` where ``f > 0`` (0 elsewhere: masked by the callers)."""
    return torch.log(torch.where(f > 0, f, torch.ones_like(f))) - torch.log(integral)


def _log_ratio(f: Tensor, log_q: Tensor, integral: Tensor) -> Tensor:
    return torch.where(f > 0, _log_p(f, integral) - log_q, torch.zeros_like(log_q))


def kl(f: Tensor, log_q: Tensor, log_q_sample: Tensor) -> Tensor:
    """Kullback-Leibler divergence ``int p log(p/q)`` of the normalised target from ``q``."""
    w, integral = _ratio(f, log_q_sample)
    return (w / integral * _log_ratio(f, log_q, integral)).mean()


def exponential(f: Tensor, log_q: Tensor, log_q_sample: Tensor) -> Tensor:
    """Exponential divergence ``int p (log p - log q)^2`` (i-flow's name for it)."""
    w, integral = _ratio(f, log_q_sample)
    return (w / integral * _log_ratio(f, log_q, integral) ** 2).mean()


_LOG_TINY = -690.0  # log(1e-300)


def renyi(f: Tensor, log_q: Tensor, log_q_sample: Tensor, order: float = 4.0) -> Tensor:
    """Renyi divergence of order ``a = order > 1``, ``log(int p^a q^(1-a)) / (a - 1)``, of the
    normalised target from ``q``; summed in log space, so large weights do not overflow."""
    if not order > 1.0:
        raise ValueError(f"the Renyi divergence needs an order above 1; got {order}")
    _, integral = _ratio(f, log_q_sample)
    log_p = _log_p(f, integral)
    terms = torch.where(f > 0, log_p - log_q_sample + (order - 1.0) * (log_p - log_q), -torch.inf)
    # a negligible constant term keeps the value and its gradient finite when every f is zero
    floor = torch.full((1,), _LOG_TINY, dtype=terms.dtype, device=terms.device)
    return (torch.logsumexp(torch.cat([terms, floor]), 0) - math.log(f.shape[0])) / (order - 1.0)


LOSSES = {"variance": variance, "kl": kl, "chi2": chi2, "exponential": exponential, "renyi": renyi}


def multichannel(
    loss: str, per_channel: list[tuple[Tensor, Tensor, Tensor]], shares: list[float], renyi_order: float = 4.0
) -> Tensor:
    """Combine one loss over channels, each given as ``(f, log_q, log_q_sample)``.

    ``shares`` are the fractions of the points that the channels get (they sum to one).
    ``variance`` becomes the variance per point of the stratified estimate under that
    allocation, ``sum_c Var_c / s_c``. The sampler keeps ``s_c`` proportional to ``sigma_c``,
    where this is the optimal-allocation variance ``(sum_c sigma_c)^2``, and by the envelope
    theorem its gradient at fixed shares is the gradient of the optimum. Written this way it
    needs no square root of a noisy (possibly negative) variance estimate, whose clamp would
    silence the gradient. The divergences are summed with weights ``I_c / sum I`` (each
    channel's share of the integral, no gradient), i.e. the divergence of the whole target from
    the whole sampler when the channels do not overlap.
    ``renyi_order``: the order ``a`` of the ``renyi`` loss (ignored by the others).
    """
    fn = functools.partial(renyi, order=renyi_order) if loss == "renyi" else LOSSES[loss]
    if loss == "variance":
        return torch.stack([fn(*args) / s for args, s in zip(per_channel, shares)]).sum()
    values = torch.stack([fn(*args) for args in per_channel])
    weights = torch.stack([_ratio(f, lqs)[1] for f, _, lqs in per_channel]).detach()
    return (weights / weights.sum() * values).sum()
