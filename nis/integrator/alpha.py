"""Learned phase-space-dependent channel weights ``alpha_c(x)``.

``alpha(x) = softmax_c(log alpha^prior_c(x) + NN_c(x))`` over the active channels. A softmax
makes ``sum_c alpha_c = 1`` and ``0 <= alpha_c <= 1`` hold by construction; a zero prior stays
an exact zero (a channel that cannot reach ``x`` never gets weight there), and so does a
dropped channel. The network's last layer starts at zero, so training starts from the prior.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def masked_softmax(logits: Tensor) -> Tensor:
    """Softmax over the last axis where ``-inf`` means an exact zero; an all ``-inf`` row gives zeros."""
    m = logits.amax(dim=-1, keepdim=True)
    m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
    e = torch.exp(logits - m)
    return e / e.sum(dim=-1, keepdim=True).clamp(min=torch.finfo(e.dtype).tiny)


class ChannelWeights(nn.Module):
    """``alpha_c(x)`` for ``n_channels`` channels from features of width ``feature_dims``.

    active: boolean buffer (n_channels,); a dropped channel gets ``alpha = 0`` everywhere.
    """

    def __init__(self, feature_dims: int, n_channels: int, hidden: int = 32, trainable: bool = True):
        super().__init__()
        self.register_buffer("active", torch.ones(n_channels, dtype=torch.bool))
        self.net = None
        if trainable and n_channels > 1:
            self.net = nn.Sequential(
                nn.Linear(feature_dims, hidden),
                nn.SiLU(),
                nn.Linear(hidden, hidden),
                nn.SiLU(),
                nn.Linear(hidden, n_channels),
            )
            nn.init.zeros_(self.net[-1].weight)
            nn.init.zeros_(self.net[-1].bias)

    @property
    def n_channels(self) -> int:
        return self.active.numel()

    def prior_logits(self, prior: Tensor | None, n: int, like: Tensor) -> Tensor:
        """``log alpha^prior`` (n, C) with dropped channels at ``-inf``; uniform when ``prior`` is None."""
        if prior is None:
            logits = like.new_zeros(n, self.n_channels)
        else:
            logits = torch.log(prior.to(like.dtype))
        return logits.masked_fill(~self.active, float("-inf"))

    def forward(self, features: Tensor, prior: Tensor | None, learned: bool = True) -> Tensor:
        """Channel weights of shape (n, C) at points with ``features`` (n, k) and ``prior`` (n, C).

        learned=False gives the prior alone (renormalised over the active channels).
        """
        dtype = torch.float64
        logits = self.prior_logits(prior, features.shape[0], features.new_empty(0, dtype=dtype))
        if learned and self.net is not None:
            p = next(self.net.parameters())
            logits = logits + self.net(features.to(p.dtype)).to(dtype)
        return masked_softmax(logits)
