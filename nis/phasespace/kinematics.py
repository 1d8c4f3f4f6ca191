"""Four-vector utilities: Minkowski products, boosts, collider variables, conservation checks.

All functions are batched torch code on whatever device and dtype their inputs have. Four-vectors
are ``(E, px, py, pz)`` in GeV along the last axis; any leading shape broadcasts. Momentum arrays
of events have shape ``(n, n_particles, 4)`` with the two incoming particles first.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = [
    "dot3",
    "minkowski_dot",
    "mass2",
    "mass",
    "kallen",
    "boost",
    "boost_to_rest",
    "boost_from_rest",
    "pt",
    "rapidity",
    "azimuth",
    "delta_r",
    "incoming_momenta",
    "momentum_violation",
    "check_momentum_conservation",
    "check_on_shell",
]


def dot3(a: Tensor, b: Tensor) -> Tensor:
    """Euclidean product of 3-vectors; (..., 3) -> (...) (an explicit sum: faster than a reduction)."""
    return a[..., 0] * b[..., 0] + a[..., 1] * b[..., 1] + a[..., 2] * b[..., 2]


def minkowski_dot(a: Tensor, b: Tensor) -> Tensor:
    """``a.b = a0 b0 - a.b`` (metric +,-,-,-); shapes (..., 4) -> (...), GeV^2."""
    return a[..., 0] * b[..., 0] - a[..., 1] * b[..., 1] - a[..., 2] * b[..., 2] - a[..., 3] * b[..., 3]


def mass2(p: Tensor) -> Tensor:
    """Invariant mass squared ``p.p``; (..., 4) -> (...), GeV^2 (may be negative for spacelike p)."""
    return minkowski_dot(p, p)


def mass(p: Tensor) -> Tensor:
    """Invariant mass ``sqrt(max(p.p, 0))``; (..., 4) -> (...), GeV."""
    return mass2(p).clamp(min=0.0).sqrt()


def kallen(a: Tensor, b: Tensor, c: Tensor) -> Tensor:
    """Kallen function ``lambda(a, b, c) = a^2 + b^2 + c^2 - 2ab - 2ac - 2bc`` (broadcasting)."""
    return (a - b - c) ** 2 - 4.0 * b * c


def boost(p: Tensor, beta: Tensor) -> Tensor:
    """Pure Lorentz boost of ``p`` (..., 4) by velocity ``beta`` (..., 3), |beta| < 1.

    A particle at rest ends up with velocity ``beta``.
    """
    b2 = dot3(beta, beta)
    gamma = 1.0 / torch.sqrt(1.0 - b2)
    bp = dot3(beta, p[..., 1:])
    coef = gamma * gamma / (gamma + 1.0)  # (gamma - 1) / beta^2, finite at beta = 0
    e = gamma * (p[..., 0] + bp)
    vec = p[..., 1:] + ((coef * bp + gamma * p[..., 0])[..., None]) * beta
    return torch.cat([e[..., None], vec], dim=-1)


def boost_from_rest(p: Tensor, q: Tensor) -> Tensor:
    """Take ``p`` given in the rest frame of ``q`` to the frame where ``q`` has momentum ``q``.

    p: (..., 4), q: (..., 4) timelike (broadcasting). Pure boost along q's velocity.
    """
    m = mass(q)
    e = (q[..., 0] * p[..., 0] + dot3(q[..., 1:], p[..., 1:])) / m
    vec = p[..., 1:] + q[..., 1:] * ((p[..., 0] + e) / (q[..., 0] + m))[..., None]
    return torch.cat([e[..., None], vec], dim=-1)


def boost_to_rest(p: Tensor, q: Tensor) -> Tensor:
    """Take ``p`` to the rest frame of the timelike ``q`` (the inverse of :func:`boost_from_rest`)."""
    m = mass(q)
    e = (q[..., 0] * p[..., 0] - dot3(q[..., 1:], p[..., 1:])) / m
    vec = p[..., 1:] - q[..., 1:] * ((p[..., 0] + e) / (q[..., 0] + m))[..., None]
    return torch.cat([e[..., None], vec], dim=-1)


def pt(p: Tensor) -> Tensor:
    """Transverse momentum w.r.t. the z (beam) axis; (..., 4) -> (...), GeV."""
    return torch.sqrt(p[..., 1] ** 2 + p[..., 2] ** 2)


def rapidity(p: Tensor) -> Tensor:
    """Rapidity ``0.5 ln((E + pz) / (E - pz))`` (the pseudorapidity for massless p); (..., 4) -> (...)."""
    return 0.5 * torch.log((p[..., 0] + p[..., 3]) / (p[..., 0] - p[..., 3]))


def azimuth(p: Tensor) -> Tensor:
    """Azimuthal angle in (-pi, pi]; (..., 4) -> (...)."""
    return torch.atan2(p[..., 2], p[..., 1])


def delta_r(p: Tensor, q: Tensor) -> Tensor:
    """``sqrt(dy^2 + dphi^2)`` with rapidity y and azimuth phi; (..., 4), (..., 4) -> (...)."""
    dy = rapidity(p) - rapidity(q)
    dphi = torch.remainder(azimuth(p) - azimuth(q) + math.pi, 2.0 * math.pi) - math.pi
    return torch.sqrt(dy * dy + dphi * dphi)


def incoming_momenta(sqrt_s: Tensor, dtype=torch.float64) -> Tensor:
    """Two massless incoming momenta in their centre-of-mass frame: particle 1 along +z, 2 along -z.

    sqrt_s: (n,) partonic energies in GeV. Returns (n, 2, 4).
    """
    e = 0.5 * sqrt_s.to(dtype)
    z = torch.zeros_like(e)
    p1 = torch.stack([e, z, z, e], dim=-1)
    p2 = torch.stack([e, z, z, -e], dim=-1)
    return torch.stack([p1, p2], dim=1)


def momentum_violation(p: Tensor, n_in: int = 2) -> Tensor:
    """Largest component of ``|sum(incoming) - sum(outgoing)|`` per event, divided by the incoming energy.

    p: (n, n_particles, 4) with the ``n_in`` incoming particles first. Returns (n,), dimensionless.
    """
    diff = p[:, :n_in].sum(1) - p[:, n_in:].sum(1)
    return diff.abs().amax(-1) / p[:, :n_in, 0].sum(1)


def check_momentum_conservation(p: Tensor, tol: float = 1e-10, n_in: int = 2) -> Tensor:
    """Bool tensor (n,): True where four-momentum is conserved to ``tol`` relative to the incoming energy."""
    return momentum_violation(p, n_in) <= tol


def check_on_shell(p: Tensor, masses: Tensor | float = 0.0, tol: float = 1e-10) -> Tensor:
    """Bool tensor (n,): True where every ``|p_i^2 - m_i^2| <= tol * E_i^2`` for all particles.

    p: (n, n_particles, 4); masses: scalar or (n_particles,) in GeV.
    """
    m = torch.as_tensor(masses, dtype=p.dtype, device=p.device)
    dev = (mass2(p) - m * m).abs()
    return (dev <= tol * p[..., 0] ** 2).all(dim=1)
