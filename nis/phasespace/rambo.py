"""Flat massless n-body phase space with 3n - 4 random numbers: RAMBO on diet and its inverse.

The algorithm of S. Platzer, "RAMBO on diet" (arXiv:1308.2922), the flat counterpart of RAMBO
(Kleiss, Stirling, Ellis 1986) with the minimal number of random numbers and an exact inverse.
With ``Q_0 = P`` the total momentum and ``Q_i = p_{i+1} + ... + p_n`` (masses ``M_i``), step
``i = 1 .. n-1`` decays ``Q_{i-1} -> p_i + Q_i`` isotropically in the rest frame of ``Q_{i-1}``.
The mass ratio ``x = M_i^2 / M_{i-1}^2`` has the density ``~ (1 - x) x^(k-3)`` of flat phase space
(``k = n - i + 1`` particles in ``Q_{i-1}``), i.e. ``u = (k-1) x^(k-2) - (k-2) x^(k-1)``, solved
for ``x`` by bisection; the last step has ``M_{n-1} = 0``. The weight is the constant massless
volume :func:`massless_volume`.

Cube layout (3n - 4 coordinates): for i = 1 .. n-2 the triple ``(u_x, u_cos, u_phi)``, then
``(u_cos, u_phi)`` of the last decay.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from nis.phasespace.decays import two_body_decay, two_body_inverse
from nis.phasespace.kinematics import mass2

__all__ = ["massless_volume", "rambo_forward", "rambo_inverse"]

_BISECTIONS = 56


def massless_volume(n: int, s: Tensor | float) -> Tensor | float:
    """``int dPhi_n`` for n massless particles at c.m. energy squared ``s`` (GeV^2):
    ``(2 pi)^(4-3n) (pi/2)^(n-1) s^(n-2) / ((n-1)! (n-2)!)`` in GeV^(2n-8)."""
    if n < 2:
        raise ValueError(f"massless phase space needs n >= 2 particles, got {n}")
    c = (2.0 * math.pi) ** (4 - 3 * n) * (math.pi / 2.0) ** (n - 1) / (math.factorial(n - 1) * math.factorial(n - 2))
    return c * s ** (n - 2)


def _cdf(x: Tensor, a: int) -> Tensor:
    return (a + 1) * x**a - a * x ** (a + 1)


def _solve(u: Tensor, a: int) -> Tensor:
    """Root x in [0, 1] of ``(a+1) x^a - a x^(a+1) = u`` (monotonic)."""
    if a == 1:
        return 1.0 - torch.sqrt((1.0 - u).clamp(min=0.0))
    lo, hi = torch.zeros_like(u), torch.ones_like(u)
    for _ in range(_BISECTIONS):
        mid = 0.5 * (lo + hi)
        below = _cdf(mid, a) < u
        lo = torch.where(below, mid, lo)
        hi = torch.where(below, hi, mid)
    return 0.5 * (lo + hi)


def rambo_forward(u: Tensor, shat: Tensor) -> tuple[Tensor, Tensor]:
    """Massless final-state momenta from cube points, in the c.m. frame.

    u: (n_ev, 3n - 4) in [0, 1]; shat: (n_ev,) GeV^2. Returns ``(k, w)``: (n_ev, n, 4) GeV and
    the constant weight (n_ev,) = ``massless_volume(n, shat)``.
    """
    n = (u.shape[1] + 4) // 3
    if 3 * n - 4 != u.shape[1] or n < 2:
        raise ValueError(f"RAMBO needs 3n - 4 cube coordinates (n >= 2), got {u.shape[1]}")
    sqrt_s = torch.sqrt(shat)
    zero = torch.zeros_like(shat)
    Q = torch.stack([sqrt_s, zero, zero, zero], dim=-1)
    m2_prev = shat
    out = []
    j = 0
    for i in range(1, n):
        k = n - i + 1
        if k > 2:
            m2 = m2_prev * _solve(u[:, j], k - 2)
            j += 1
        else:
            m2 = zero
        p, Q, _ = two_body_decay(Q, zero, m2, u[:, j], u[:, j + 1])
        j += 2
        out.append(p)
        m2_prev = m2
    out.append(Q)
    return torch.stack(out, dim=1), massless_volume(n, shat)


def rambo_inverse(k: Tensor, shat: Tensor) -> tuple[Tensor, Tensor]:
    """Inverse of :func:`rambo_forward`: cube points (n_ev, 3n - 4) and the weight (n_ev,).

    k: (n_ev, n, 4) massless final-state momenta in the c.m. frame; shat: (n_ev,) GeV^2.
    """
    n = k.shape[1]
    sqrt_s = torch.sqrt(shat)
    zero = torch.zeros_like(shat)
    Q = torch.stack([sqrt_s, zero, zero, zero], dim=-1)
    tails = torch.flip(torch.cumsum(torch.flip(k, [1]), dim=1), [1])  # tails[:, i] = k_i + ... + k_{n-1}
    m2_prev = shat
    cols = []
    for i in range(1, n):
        kk = n - i + 1
        if kk > 2:
            Qi = tails[:, i]
            m2 = mass2(Qi).clamp(min=0.0)
            cols.append(_cdf(m2 / m2_prev, kk - 2))
        else:
            Qi, m2 = k[:, n - 1], zero
        u_cos, u_phi, _ = two_body_inverse(Q, k[:, i - 1], zero, m2)
        cols += [u_cos, u_phi]
        Q, m2_prev = Qi, m2
    return torch.stack(cols, dim=1), massless_volume(n, shat)
