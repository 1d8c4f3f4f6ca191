"""The coupling flow on ``[0,1]^d``: blocks of spline couplings over the binary masks."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from nis.flows.coupling import CouplingBlock
from nis.flows.masks import binary_masks
from nis.flows.splines import MIN_BIN_HEIGHT, MIN_BIN_WIDTH, MIN_DERIVATIVE

__all__ = ["Flow"]


class Flow(nn.Module):
    """Normalizing flow on the unit hypercube ``[0,1]^dims`` with a uniform latent, optionally
    conditional.

    dims: dimensions of the sample. condition_dims: width of the condition (0: unconditional).
    bins: spline bins per dimension. hidden, layers, activation: the coupling networks
    (:class:`~nis.flows.subnet.MLP`). blocks: number of blocks; default one per binary mask,
    ``max(1, ceil(log2(dims)))``, cycling through the masks if more are asked for. Each block is
    two :class:`CouplingBlock` s, on the mask and on its complement (empty halves are left out,
    so ``dims == 1`` gives one unconditional spline per block). min_bin_width, min_bin_height,
    min_derivative: the spline's floors.

    Direction (the one convention of :mod:`nis.flows`): ``forward(z)`` maps the latent
    ``z ~ U[0,1]^dims`` to the sample ``x`` and returns ``log|det dx/dz|``, so
    ``log q(x) = -log_det``; ``inverse(x)`` returns ``z`` and ``log|det dz/dx| = log q(x)``.
    The flow starts as the identity. Inputs must have the flow's dtype and device
    (``flow.dtype``, ``flow.device``); a mismatch raises an error that says so.

    >>> flow = Flow(3, bins=4, hidden=8).double()
    >>> x, log_q = flow.sample(5, generator=torch.Generator().manual_seed(0))
    >>> x.shape, log_q.shape
    (torch.Size([5, 3]), torch.Size([5]))
    >>> bool(torch.allclose(flow.log_prob(x), log_q))
    True
    """

    def __init__(
        self,
        dims: int,
        condition_dims: int = 0,
        *,
        bins: int = 10,
        hidden: int = 32,
        layers: int = 2,
        activation: str = "relu",
        blocks: int | None = None,
        min_bin_width: float = MIN_BIN_WIDTH,
        min_bin_height: float = MIN_BIN_HEIGHT,
        min_derivative: float = MIN_DERIVATIVE,
    ) -> None:
        super().__init__()
        if not isinstance(dims, int) or dims < 1:
            raise ValueError(f"dims must be a positive integer, got {dims!r}")
        if not isinstance(condition_dims, int) or condition_dims < 0:
            raise ValueError(f"condition_dims must be a non-negative integer, got {condition_dims!r}")
        masks = binary_masks(dims)
        n_blocks = len(masks) if blocks is None else blocks
        if not isinstance(n_blocks, int) or n_blocks < 1:
            raise ValueError(f"blocks must be a positive integer or None, got {blocks!r}")
        self.dims, self.condition_dims, self.bins = dims, condition_dims, bins
        self.hidden, self.layers, self.activation, self.blocks = hidden, layers, activation, n_blocks
        couplings = []
        for b in range(n_blocks):
            mask = masks[b % len(masks)]
            for half in (mask, ~mask):
                if bool(half.any()):
                    couplings.append(
                        CouplingBlock(
                            half,
                            condition_dims,
                            bins=bins,
                            hidden=hidden,
                            layers=layers,
                            activation=activation,
                            min_bin_width=min_bin_width,
                            min_bin_height=min_bin_height,
                            min_derivative=min_derivative,
                        )
                    )
        self.couplings = nn.ModuleList(couplings)

    @property
    def dtype(self) -> torch.dtype:
        """The dtype of the parameters (and of every input and output)."""
        return next(self.parameters()).dtype

    @property
    def device(self) -> torch.device:
        """The device of the parameters (and of every input and output)."""
        return next(self.parameters()).device

    def _check(self, x: Tensor, condition: Tensor | None, name: str) -> Tensor | None:
        """Validate ``x`` (n, dims) and the condition (n, condition_dims); returns the condition."""
        ref = next(self.parameters())
        if not isinstance(x, Tensor) or x.dim() != 2 or x.shape[1] != self.dims:
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"{name} must be a tensor of shape (n, {self.dims}), got {shape}")
        tensors = [(name, x)]
        if self.condition_dims:
            if condition is None:
                raise ValueError(f"this flow is conditional: pass condition of shape (n, {self.condition_dims})")
            if condition.dim() != 2 or condition.shape != (x.shape[0], self.condition_dims):
                raise ValueError(
                    f"condition must have shape ({x.shape[0]}, {self.condition_dims}), got {tuple(condition.shape)}"
                )
            tensors.append(("condition", condition))
        elif condition is not None and condition.numel():
            raise ValueError("this flow is unconditional (condition_dims=0): pass condition=None")
        for what, t in tensors:
            if t.dtype != ref.dtype:
                raise TypeError(
                    f"the flow is {ref.dtype} but {what} is {t.dtype}: convert it with .to({ref.dtype}) "
                    f"or the flow with flow.to({t.dtype})"
                )
            if t.device != ref.device:
                raise ValueError(
                    f"the flow is on {ref.device} but {what} is on {t.device}: move one of them with .to(device)"
                )
        return condition if self.condition_dims else None

    def forward(self, z: Tensor, condition: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Latent to sample.

        z: latent points in [0,1]^dims, shape (n, dims); condition: (n, condition_dims) or None.
        Returns ``(x, log_det)``: samples (n, dims) in [0,1]^dims and ``log|det dx/dz|`` (n,).
        """
        condition = self._check(z, condition, "z")
        log_det = z.new_zeros(z.shape[0])
        for coupling in self.couplings:
            z, ld = coupling(z, condition)
            log_det = log_det + ld
        return z, log_det

    def inverse(self, x: Tensor, condition: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Sample to latent.

        x: points in [0,1]^dims, shape (n, dims); condition: (n, condition_dims) or None.
        Returns ``(z, log_det)``: latent points (n, dims) and ``log|det dz/dx| = log q(x)`` (n,).
        """
        condition = self._check(x, condition, "x")
        log_det = x.new_zeros(x.shape[0])
        for coupling in reversed(self.couplings):
            x, ld = coupling.inverse(x, condition)
            log_det = log_det + ld
        return x, log_det

    def log_prob(self, x: Tensor, condition: Tensor | None = None) -> Tensor:
        """log q(x) of points x (n, dims) given condition (n, condition_dims) or None; shape (n,)."""
        return self.inverse(x, condition)[1]

    def sample(
        self, n: int, condition: Tensor | None = None, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        """Draw ``n`` points: ``z = torch.rand(n, dims, generator=generator)`` on the flow's device and
        dtype, pushed through :meth:`forward`. condition: (n, condition_dims) or None.

        Returns ``(x, log_q)``: samples (n, dims) and their log-density ``log q(x)`` (n,).
        """
        ref = next(self.parameters())
        z = torch.rand(n, self.dims, generator=generator, device=ref.device, dtype=ref.dtype)
        x, log_det = self.forward(z, condition)
        return x, -log_det

    def extra_repr(self) -> str:
        return (
            f"dims={self.dims}, condition_dims={self.condition_dims}, bins={self.bins}, hidden={self.hidden}, "
            f"layers={self.layers}, activation={self.activation!r}, blocks={self.blocks}"
        )
