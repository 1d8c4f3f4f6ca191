"""VEGAS grids: adapted with Lepage's ``vegas`` package, applied in torch on any device.

A VEGAS map is a product of piecewise-linear maps, one per dimension, with ``ninc`` increments
whose edges ``grid[d, 0] = 0 < ... < grid[d, ninc] = 1`` concentrate where the integrand is large.
``vegas`` adapts the grid (with its stratified sampling, so adaptation is as good as vegas
makes it); :class:`VegasMap` holds the adapted grid as a buffer and maps batches on the device,
so the fallback and the pre-mapping in front of a flow never leave the GPU.

Direction as for flows: ``forward(v) -> (u, log|du/dv|)`` maps the uniform point to the sample.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn


class VegasMap(nn.Module):
    """Separable piecewise-linear map of ``[0, 1]^dims`` onto itself (identity until adapted).

    grid: increment edges, buffer of shape (dims, ninc + 1).
    """

    def __init__(self, dims: int, ninc: int = 128):
        super().__init__()
        edges = torch.linspace(0.0, 1.0, ninc + 1, dtype=torch.float64)
        self.register_buffer("grid", edges.expand(dims, ninc + 1).clone())

    @property
    def ninc(self) -> int:
        return self.grid.shape[1] - 1

    def set_grid(self, grid: np.ndarray | Tensor) -> None:
        """Replace the grid by ``grid`` (dims, ninc + 1), e.g. ``vegas.AdaptiveMap.grid``."""
        grid = torch.as_tensor(np.asarray(grid), dtype=torch.float64)
        if grid.shape != self.grid.shape:
            raise ValueError(f"VEGAS grid of shape {tuple(grid.shape)}; expected {tuple(self.grid.shape)}")
        self.grid.copy_(grid)

    def forward(self, v: Tensor) -> tuple[Tensor, Tensor]:
        """Map uniform points ``v`` (n, dims) to ``u`` (n, dims); return ``(u, log|du/dv|)``."""
        grid = self.grid.to(v.dtype)
        y = v * self.ninc
        i = y.floor().clamp(0, self.ninc - 1).long()
        lo = torch.gather(grid.T, 0, i)
        width = torch.gather(grid.T, 0, i + 1) - lo
        u = lo + (y - i) * width
        return u.clamp(0.0, 1.0), torch.log(width * self.ninc).sum(dim=1)

    def inverse(self, u: Tensor) -> tuple[Tensor, Tensor]:
        """Map ``u`` (n, dims) back to ``v``; return ``(v, log|dv/du|)``."""
        grid = self.grid.to(u.dtype)
        i = torch.searchsorted(grid, u.T.contiguous(), right=True).T - 1
        i = i.clamp(0, self.ninc - 1)
        lo = torch.gather(grid.T, 0, i)
        width = torch.gather(grid.T, 0, i + 1) - lo
        v = (i + (u - lo) / width) / self.ninc
        return v.clamp(0.0, 1.0), -torch.log(width * self.ninc).sum(dim=1)


def adapt_vegas(fn, dims: int, calls: int, iterations: int, ninc: int, seed: int):
    """Adapt a VEGAS grid to ``fn`` with the ``vegas`` package.

    fn: batch function of numpy points (n, dims) in the unit cube returning (n,) values >= 0.
    Returns ``(grid, calls_made, result)``: the grid as an array (dims, ninc + 1), the number
    of points ``fn`` was called on, and vegas' own estimate (a ``gvar``, or None without calls).
    """
    import vegas

    made = 0

    @vegas.lbatchintegrand
    def batch(x):
        nonlocal made
        made += x.shape[0]
        return fn(np.ascontiguousarray(x))

    adaptive = vegas.AdaptiveMap([[0.0, 1.0]] * dims, ninc=ninc)
    per_iteration = calls // iterations
    if per_iteration < 2:
        return np.asarray(adaptive.grid), 0, None
    rng = np.random.default_rng(seed)
    integrator = vegas.Integrator(adaptive, ran_array_generator=rng.random, max_nhcube=1, nhcube_batch=per_iteration)
    result = integrator(batch, nitn=iterations, neval=per_iteration)
    adapted = integrator.map
    adapted.adapt(ninc=ninc)  # vegas picks its own increment count from neval: re-bin onto ours
    return np.asarray(adapted.grid), made, result
