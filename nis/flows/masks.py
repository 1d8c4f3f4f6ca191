"""Binary coupling masks: every dimension is conditioned on every other in ceil(log2 d) blocks."""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["binary_masks"]


def binary_masks(dims: int) -> list[Tensor]:
    """The masks of a flow on ``[0,1]^dims``, one per block.

    There are ``max(1, ceil(log2(dims)))`` masks, each a bool tensor of shape (dims,); mask ``k``
    selects dimension ``i`` iff bit ``k`` of ``i`` is 1. A block transforms the selected
    dimensions given the others and then the others given the selected ones, so any two
    dimensions, which differ in some bit, condition each other within the blocks. For
    ``dims == 1`` the single mask is ``[False]``: only its complement, an unconditional
    spline, transforms anything.

    >>> [m.tolist() for m in binary_masks(3)]
    [[False, True, False], [False, False, True]]
    """
    if not isinstance(dims, int) or dims < 1:
        raise ValueError(f"dims must be a positive integer, got {dims!r}")
    n_masks = max(1, math.ceil(math.log2(dims)))
    index = torch.arange(dims)
    return [(index >> k) & 1 == 1 for k in range(n_masks)]
