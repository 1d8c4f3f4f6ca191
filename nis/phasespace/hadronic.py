"""Hadron-collider phase space: the momentum fractions ``x1, x2`` of the incoming partons.

Two cube coordinates give the partonic energy squared ``shat = tau s`` (``s`` the hadronic one)
through a :class:`~nis.phasespace.invariants.MassMapping` on ``[shat_min, shat_max]`` (a
Breit-Wigner around a resonance, or a power law for a continuum), and the rapidity of the
partonic system, uniform in ``[log(tau)/2, -log(tau)/2]``; then

    x1 = sqrt(tau) exp(y),   x2 = sqrt(tau) exp(-y),   dx1 dx2 = dtau dy,

so the weight is ``(dshat/du) / s * (-log tau)``. The final state is generated in the partonic
c.m. frame (any channel of :mod:`nis.phasespace` takes ``shat`` per event) and boosted along z
by ``y`` into the lab, where the hadrons collide head on with ``sqrt(s)/2`` each.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from nis.phasespace.invariants import MassMapping

__all__ = ["PartonFractions", "boost_z", "lab_momenta"]


@dataclass(frozen=True)
class PartonFractions:
    """``(u_shat, u_y) -> (x1, x2, shat, w)`` at hadronic energy ``sqrt_s`` (GeV).

    shat_min, shat_max: the range of the partonic energy squared (GeV^2; ``shat_max`` at most
    ``s``); mapping: how ``shat`` is drawn on it.
    """

    sqrt_s: float
    shat_min: float
    shat_max: float
    mapping: MassMapping

    def __post_init__(self):
        s = self.sqrt_s**2
        if not 0.0 < self.shat_min < self.shat_max <= s * (1 + 1e-12):
            raise ValueError(
                f"PartonFractions: need 0 < shat_min < shat_max <= s = {s:g} GeV^2; got [{self.shat_min:g}, {self.shat_max:g}]"
            )

    def __call__(self, u_shat: Tensor, u_y: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        s = self.sqrt_s**2
        lo = torch.full_like(u_shat, self.shat_min)
        hi = torch.full_like(u_shat, self.shat_max)
        shat, w_shat = self.mapping.forward(u_shat, lo, hi, torch.full_like(u_shat, s))
        tau = (shat / s).clamp(max=1.0)
        y_max = -0.5 * torch.log(tau)
        y = y_max * (2.0 * u_y - 1.0)
        root = torch.sqrt(tau)
        return root * torch.exp(y), root * torch.exp(-y), shat, w_shat / s * 2.0 * y_max


def boost_z(p: Tensor, y: Tensor) -> Tensor:
    """Boost momenta ``p`` (n, k, 4) along +z by rapidity ``y`` (n,)."""
    ch, sh = torch.cosh(y)[:, None], torch.sinh(y)[:, None]
    e, pz = p[..., 0], p[..., 3]
    return torch.stack([ch * e + sh * pz, p[..., 1], p[..., 2], sh * e + ch * pz], dim=-1)


def lab_momenta(k: Tensor, x1: Tensor, x2: Tensor, sqrt_s: float) -> Tensor:
    """Lab-frame momenta (n, 2 + n_out, 4): partons ``x1 P1``, ``x2 P2`` along +z, -z, then the
    final state ``k`` (n, n_out, 4), given in the partonic c.m. frame, boosted by ``log(x1/x2)/2``."""
    e = 0.5 * sqrt_s
    k = boost_z(k, 0.5 * torch.log(x1 / x2))
    zero = torch.zeros_like(x1)
    p1 = torch.stack([x1 * e, zero, zero, x1 * e], dim=-1)
    p2 = torch.stack([x2 * e, zero, zero, -x2 * e], dim=-1)
    return torch.cat([p1[:, None], p2[:, None], k], dim=1)
