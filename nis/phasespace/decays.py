"""Two-body decay ``P -> k1 + k2``, isotropic in the rest frame of ``P``, and its inverse.

Angles are measured against the fixed lab axes in the rest frame of ``P`` reached from the lab by
a pure boost (``cos theta = 2 u_cos - 1``, ``phi = 2 pi u_phi``). The weight is the two-body
phase space ``dPhi_2 = sqrt(lambda(s, s1, s2)) / (32 pi^2 s) dOmega`` times the ``4 pi`` of the
angles: ``w = sqrt(lambda) / (8 pi s)``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from nis.phasespace.kinematics import boost_from_rest, boost_to_rest, kallen, mass2

__all__ = ["two_body_decay", "two_body_inverse", "two_body_weight"]


def two_body_weight(s: Tensor, s1: Tensor, s2: Tensor) -> Tensor:
    """``int dPhi_2 = sqrt(lambda(s, s1, s2)) / (8 pi s)`` (dimensionless); (n,) each."""
    return torch.sqrt(kallen(s, s1, s2).clamp(min=0.0)) / (8.0 * math.pi * s)


def two_body_decay(P: Tensor, s1: Tensor, s2: Tensor, u_cos: Tensor, u_phi: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Decay ``P`` (n, 4) into momenta with masses squared ``s1``, ``s2`` (n,) GeV^2.

    u_cos, u_phi: (n,) in [0, 1]. Returns ``(k1, k2, w)``: (n, 4), (n, 4), (n,).
    """
    s = mass2(P)
    m = torch.sqrt(s)
    lam = kallen(s, s1, s2).clamp(min=0.0)
    k = torch.sqrt(lam) / (2.0 * m)
    e1 = (s + s1 - s2) / (2.0 * m)
    cos = 2.0 * u_cos - 1.0
    sin = torch.sqrt((1.0 - cos * cos).clamp(min=0.0))
    phi = 2.0 * math.pi * u_phi
    vec = torch.stack([k * sin * torch.cos(phi), k * sin * torch.sin(phi), k * cos], dim=-1)
    k1 = boost_from_rest(torch.cat([e1[:, None], vec], dim=-1), P)
    k2 = boost_from_rest(torch.cat([(m - e1)[:, None], -vec], dim=-1), P)
    return k1, k2, torch.sqrt(lam) / (8.0 * math.pi * s)


def two_body_inverse(P: Tensor, k1: Tensor, s1: Tensor, s2: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Inverse of :func:`two_body_decay`: ``(u_cos, u_phi, w)`` (n,) from ``P``, ``k1`` (n, 4)."""
    r = boost_to_rest(k1, P)[:, 1:]
    norm = torch.linalg.vector_norm(r, dim=-1)
    u_cos = 0.5 * (r[:, 2] / norm + 1.0)
    u_phi = torch.remainder(torch.atan2(r[:, 1], r[:, 0]), 2.0 * math.pi) / (2.0 * math.pi)
    return u_cos, u_phi, two_body_weight(mass2(P), s1, s2)
