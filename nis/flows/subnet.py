"""The small fully connected network that predicts spline parameters inside a coupling."""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["MLP", "ACTIVATIONS"]

#: activation names accepted by :class:`MLP` (module classes, so nothing unpicklable is stored)
ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "softplus": nn.Softplus,
}


class MLP(nn.Module):
    """``layers`` hidden layers of width ``hidden`` with ``activation``, then a linear output layer.

    The output layer starts at zero (weights and bias), so a flow built from these networks
    starts as the identity. With ``in_features == 0`` (nothing to condition on, e.g. a
    one-dimensional unconditional flow) the output is a learnable constant vector, also zero
    at the start.

    Input (n, in_features); output (n, out_features).
    """

    def __init__(
        self, in_features: int, out_features: int, hidden: int = 32, layers: int = 2, activation: str = "relu"
    ) -> None:
        super().__init__()
        if in_features < 0 or out_features < 1 or hidden < 1 or layers < 0:
            raise ValueError(
                f"MLP needs in_features >= 0, out_features >= 1, hidden >= 1, layers >= 0; got "
                f"{in_features}, {out_features}, {hidden}, {layers}"
            )
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; choose one of {sorted(ACTIVATIONS)}")
        self.in_features, self.out_features = in_features, out_features
        if in_features == 0:
            self.net = None
            self.constant = nn.Parameter(torch.zeros(out_features))
        else:
            modules: list[nn.Module] = []
            width = in_features
            for _ in range(layers):
                modules += [nn.Linear(width, hidden), ACTIVATIONS[activation]()]
                width = hidden
            last = nn.Linear(width, out_features)
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)
            self.net = nn.Sequential(*modules, last)

    def forward(self, x: Tensor) -> Tensor:
        """x: (n, in_features) -> (n, out_features)."""
        if self.net is None:
            return self.constant.expand(x.shape[0], -1)
        return self.net(x)
