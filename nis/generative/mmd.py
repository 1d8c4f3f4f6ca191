"""Maximum mean discrepancy between two one-dimensional samples, with resonance-shaped kernels.

``MMD^2(x, y) = <k(x, x')> + <k(y, y')> - 2 <k(x, y)>``, the biased (V-statistic) estimator: the
means run over all pairs, so it is non-negative and exactly zero for identical samples. Kernels
of width ``w`` (GeV for masses), both equal to 1 at ``x = y``:

* ``"breit-wigner"``: the Cauchy kernel ``k = w^2 / ((x - y)^2 + w^2)`` (1/2 at ``|x - y| = w``);
* ``"gaussian"``: ``k = exp(-(x - y)^2 / (2 w^2))`` (``exp(-1/2)`` at ``|x - y| = w``).

A list of widths sums the kernels (several resolutions at once).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = ["KERNELS", "kernel", "mmd2"]

KERNELS = ("breit-wigner", "gaussian")


def kernel(x: Tensor, y: Tensor, width: float, name: str = "breit-wigner") -> Tensor:
    """Kernel matrix ``k(x_i, y_j)``: x (n,), y (m,) -> (n, m)."""
    d2 = (x[:, None] - y[None, :]) ** 2
    w2 = float(width) ** 2
    if name == "breit-wigner":
        return w2 / (d2 + w2)
    if name == "gaussian":
        return torch.exp(-d2 / (2.0 * w2))
    raise ValueError(f"unknown MMD kernel {name!r}; choose from {KERNELS}")


def mmd2(x: Tensor, y: Tensor, widths: float | Sequence[float], name: str = "breit-wigner") -> Tensor:
    """Biased ``MMD^2`` of samples x (n,) and y (m,) (scalar tensor, differentiable in both)."""
    widths = [widths] if isinstance(widths, (int, float)) else list(widths)
    if not widths or any(not w > 0 for w in widths):
        raise ValueError(f"MMD kernel widths must be positive; got {widths}")
    total = x.new_zeros(())
    for w in widths:
        total = total + kernel(x, x, w, name).mean() + kernel(y, y, w, name).mean() - 2.0 * kernel(x, y, w, name).mean()
    return total
