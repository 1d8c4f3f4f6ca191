"""One spline coupling: the masked dimensions pass through rational-quadratic splines whose
parameters a small network computes from the other dimensions and the condition."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from nis.flows.splines import MIN_BIN_HEIGHT, MIN_BIN_WIDTH, MIN_DERIVATIVE, rq_spline
from nis.flows.subnet import MLP

__all__ = ["CouplingBlock"]


class CouplingBlock(nn.Module):
    """Transforms the dimensions where ``mask`` is True, conditioned on the rest and the condition.

    mask: bool, shape (dims,), with at least one True entry. The ``~mask`` dimensions (rescaled
    to [-1, 1]) and the condition, shape (n, condition_dims), feed an :class:`MLP` that outputs
    the ``3 * bins + 1`` unnormalised spline parameters of each transformed dimension. The
    network's last layer starts at zero, so the block starts as the identity.

    Direction as for :class:`nis.flows.Flow`: ``forward`` goes from latent to sample.
    """

    def __init__(
        self,
        mask: Tensor,
        condition_dims: int = 0,
        *,
        bins: int = 10,
        hidden: int = 32,
        layers: int = 2,
        activation: str = "relu",
        min_bin_width: float = MIN_BIN_WIDTH,
        min_bin_height: float = MIN_BIN_HEIGHT,
        min_derivative: float = MIN_DERIVATIVE,
    ) -> None:
        super().__init__()
        mask = torch.as_tensor(mask, dtype=torch.bool)
        if mask.dim() != 1 or not bool(mask.any()):
            raise ValueError("a coupling mask must be a 1-d bool tensor with at least one True entry")
        if condition_dims < 0 or bins < 1:
            raise ValueError(f"need condition_dims >= 0 and bins >= 1, got {condition_dims} and {bins}")
        self.dims, self.condition_dims, self.bins = mask.numel(), condition_dims, bins
        self.min_bin_width, self.min_bin_height, self.min_derivative = min_bin_width, min_bin_height, min_derivative
        self.register_buffer("mask", mask.clone())
        self.register_buffer("transformed", torch.nonzero(mask).flatten(), persistent=False)
        self.register_buffer("conditioning", torch.nonzero(~mask).flatten(), persistent=False)
        self.n_transformed = int(mask.sum())
        self.subnet = MLP(
            self.dims - self.n_transformed + condition_dims,
            self.n_transformed * (3 * bins + 1),
            hidden=hidden,
            layers=layers,
            activation=activation,
        )

    def _spline_params(self, x: Tensor, condition: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
        """Unnormalised widths, heights (n, t, bins) and derivatives (n, t, bins + 1)."""
        inputs = 2.0 * x.index_select(1, self.conditioning) - 1.0
        if self.condition_dims:
            inputs = torch.cat([inputs, condition], dim=1)
        params = self.subnet(inputs).reshape(x.shape[0], self.n_transformed, 3 * self.bins + 1)
        b = self.bins
        return params[..., :b], params[..., b : 2 * b], params[..., 2 * b :]

    def _transform(self, x: Tensor, condition: Tensor | None, inverse: bool) -> tuple[Tensor, Tensor]:
        widths, heights, derivatives = self._spline_params(x, condition)
        y, logabsdet = rq_spline(
            x.index_select(1, self.transformed),
            widths,
            heights,
            derivatives,
            inverse=inverse,
            min_bin_width=self.min_bin_width,
            min_bin_height=self.min_bin_height,
            min_derivative=self.min_derivative,
        )
        return x.index_copy(1, self.transformed, y), logabsdet.sum(dim=1)

    def forward(self, z: Tensor, condition: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """z: (n, dims), condition: (n, condition_dims) or None -> (x (n, dims), log|dx/dz| (n,))."""
        return self._transform(z, condition, inverse=False)

    def inverse(self, x: Tensor, condition: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """x: (n, dims), condition: (n, condition_dims) or None -> (z (n, dims), log|dz/dx| (n,))."""
        return self._transform(x, condition, inverse=True)

    def extra_repr(self) -> str:
        return f"mask={self.mask.int().tolist()}, condition_dims={self.condition_dims}, bins={self.bins}"
