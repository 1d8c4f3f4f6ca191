"""The t-channel 2 -> 2 block ``q_a + p_b -> k1 + k2`` sampled in ``t = (q_a - k1)^2``.

Used for the root of a channel (``q_a = p_1``, ``p_b = p_2``, both massless) and for every link
of a multi-peripheral chain, where ``q_a = p_1 - k_1 - ... - k_i`` is spacelike and the block's
total momentum ``P = q_a + p_b`` is the cluster of the remaining final-state particles. ``k1`` and
``k2`` may be clusters of masses squared ``s1``, ``s2``.

In the rest frame of ``P`` (pure boost from the lab) with ``z`` along ``q_a``:
``t = t0 + 2 |q_a*| |k1*| cos theta`` where ``t0 = q_a^2 + s1 - 2 E_a* E_1*``. The cube coordinate
``u_t`` is mapped to ``y = m^2 - t`` with density ``~ (y + shift)^(-nu)`` (the exchange
propagator ``1/(m^2 - t)^nu``), ``shift = s0_frac * shat + max(0, -y_min)`` so that a massless
exchange is regulated by ``s0``; ``phi = 2 pi u_phi`` around ``q_a`` (reference axes from a fixed
rule, so the map is exactly invertible). With ``dPhi_2 = dt dphi / (16 pi^2 sqrt(lambda(s, q_a^2, p_b^2)))``
the weight is ``w = (dy/du) / (8 pi sqrt(lambda(s, q_a^2, p_b^2)))``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from nis.phasespace.invariants import power_law_forward, power_law_inverse
from nis.phasespace.kinematics import boost_from_rest, boost_to_rest, dot3, kallen, mass2

__all__ = ["TExchange", "t_channel_decay", "t_channel_inverse", "t_range"]


@dataclass(frozen=True)
class TExchange:
    """The exchanged propagator of a t-channel block: density ``~ (m^2 - t + s0)^(-nu)``.

    nu: power (0 = flat in t); mass: exchange mass in GeV; s0_frac: regulator ``s0 / shat``.
    """

    nu: float = 1.0
    mass: float = 0.0
    s0_frac: float = 0.0


def _axes(n: Tensor) -> tuple[Tensor, Tensor]:
    """Unit vectors e1, e2 (n, 3) completing the unit vector ``n`` (n, 3) to a right-handed frame."""
    x = torch.zeros_like(n)
    x[:, 0] = 1.0
    y = torch.zeros_like(n)
    y[:, 1] = 1.0
    ref = torch.where((n[:, :1].abs() < 0.9), x, y)
    e1 = ref - dot3(ref, n)[:, None] * n
    e1 = e1 / torch.linalg.vector_norm(e1, dim=-1, keepdim=True)
    return e1, torch.linalg.cross(n, e1, dim=-1)


def _block(P: Tensor, qa: Tensor, s1: Tensor, s2: Tensor):
    s = mass2(P)
    m = torch.sqrt(s)
    sa = mass2(qa)
    sb = mass2(P - qa)
    lam_a = kallen(s, sa, sb).clamp(min=0.0)
    ea = (s + sa - sb) / (2.0 * m)
    pa = torch.sqrt(lam_a) / (2.0 * m)
    e1 = (s + s1 - s2) / (2.0 * m)
    k = torch.sqrt(kallen(s, s1, s2).clamp(min=0.0)) / (2.0 * m)
    t0 = sa + s1 - 2.0 * ea * e1
    tc = 2.0 * pa * k
    return m, e1, k, t0, tc, torch.sqrt(lam_a)


def t_range(P: Tensor, qa: Tensor, s1: Tensor, s2: Tensor) -> tuple[Tensor, Tensor]:
    """Kinematic range ``(t_min, t_max)`` (n,) of ``t = (q_a - k1)^2`` in GeV^2."""
    _, _, _, t0, tc, _ = _block(P, qa, s1, s2)
    return t0 - tc, t0 + tc


def _y_range(ex: TExchange, t0: Tensor, tc: Tensor, shat: Tensor):
    m2 = ex.mass**2
    y_lo, y_hi = m2 - t0 - tc, m2 - t0 + tc
    shift = ex.s0_frac * shat + torch.relu(-y_lo)
    return m2, y_lo, y_hi, shift


def t_channel_decay(
    P: Tensor, qa: Tensor, s1: Tensor, s2: Tensor, u_t: Tensor, u_phi: Tensor, exchange: TExchange, shat: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """Sample ``P -> k1 + k2`` in ``t = (q_a - k1)^2``.

    P, qa: (n, 4) lab momenta (P timelike, qa any); s1, s2: (n,) GeV^2; u_t, u_phi: (n,) in [0, 1];
    shat: (n,) GeV^2 (sets the regulator). Returns ``(k1, k2, w)``: (n, 4), (n, 4), (n,).
    """
    m, e1, k, t0, tc, sqrt_lam_a = _block(P, qa, s1, s2)
    m2, y_lo, y_hi, shift = _y_range(exchange, t0, tc, shat)
    y, w_y = power_law_forward(u_t, y_lo, y_hi, exchange.nu, shift)
    cos = ((m2 - y - t0) / tc).clamp(-1.0, 1.0)
    sin = torch.sqrt((1.0 - cos * cos).clamp(min=0.0))
    phi = 2.0 * math.pi * u_phi
    na = boost_to_rest(qa, P)[:, 1:]
    na = na / torch.linalg.vector_norm(na, dim=-1, keepdim=True)
    ax1, ax2 = _axes(na)
    vec = k[:, None] * (sin[:, None] * (torch.cos(phi)[:, None] * ax1 + torch.sin(phi)[:, None] * ax2) + cos[:, None] * na)
    k1 = boost_from_rest(torch.cat([e1[:, None], vec], dim=-1), P)
    k2 = boost_from_rest(torch.cat([(m - e1)[:, None], -vec], dim=-1), P)
    return k1, k2, w_y / (8.0 * math.pi * sqrt_lam_a)


def t_channel_inverse(
    P: Tensor, qa: Tensor, k1: Tensor, s1: Tensor, s2: Tensor, exchange: TExchange, shat: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """Inverse of :func:`t_channel_decay`: ``(u_t, u_phi, w)`` (n,) from lab momenta P, qa, k1 (n, 4)."""
    _, _, _, t0, tc, sqrt_lam_a = _block(P, qa, s1, s2)
    m2, y_lo, y_hi, shift = _y_range(exchange, t0, tc, shat)
    na = boost_to_rest(qa, P)[:, 1:]
    na = na / torch.linalg.vector_norm(na, dim=-1, keepdim=True)
    ax1, ax2 = _axes(na)
    r = boost_to_rest(k1, P)[:, 1:]
    cos = dot3(r, na) / torch.linalg.vector_norm(r, dim=-1)
    u_t, w_y = power_law_inverse(m2 - (t0 + tc * cos), y_lo, y_hi, exchange.nu, shift)
    phi = torch.atan2(dot3(r, ax2), dot3(r, ax1))
    u_phi = torch.remainder(phi, 2.0 * math.pi) / (2.0 * math.pi)
    return u_t, u_phi, w_y / (8.0 * math.pi * sqrt_lam_a)
