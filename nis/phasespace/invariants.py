"""Mappings of one invariant (an s-channel propagator's mass squared) from a cube coordinate.

Each mapping turns ``u in [0, 1]`` into ``s in [lo, hi]`` with a chosen density ``h(s)`` and
returns the weight ``w = ds/du = 1 / h(s)``; ``inverse`` gives ``u(s)`` and the same weight, so
that ``int_0^1 du w(u) f(s(u)) = int_lo^hi ds f(s)``. ``lo`` and ``hi`` are per-event tensors
(n,) in GeV^2 (they follow from the masses fixed earlier in a decay tree); ``shat`` (n,) is the
partonic centre-of-mass energy squared, used for the dimensionless regulators.

* :class:`FlatMass`: ``h = const``.
* :class:`PowerLawMass`: ``h ~ (s + s0)^(-nu)``, the massless propagator (nu ~ 1), with the
  regulator ``s0 = s0_frac * shat`` and an optional hard lower end ``smin = smin_frac * shat``.
* :class:`BreitWignerMass`: ``h ~ 1 / ((s - M^2)^2 + M^2 Gamma^2)`` via an arctan.

The functions :func:`power_law_forward` / :func:`power_law_inverse` are reused by the t-channel.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = [
    "MassMapping",
    "FlatMass",
    "PowerLawMass",
    "BreitWignerMass",
    "power_law_forward",
    "power_law_inverse",
]

_NU_ONE = 1e-6  # |nu - 1| below this is treated as nu = 1 (logarithmic map)


def power_law_forward(u: Tensor, lo: Tensor, hi: Tensor, nu: float, shift: Tensor) -> tuple[Tensor, Tensor]:
    """Sample ``x in [lo, hi]`` with density ``~ (x + shift)^(-nu)``; needs ``lo + shift > 0`` if nu > 0.

    u, lo, hi, shift: (n,) (or broadcastable). Returns (x, w) with ``w = dx/du``, both (n,).
    """
    a, b = lo + shift, hi + shift
    if abs(nu - 1.0) < _NU_ONE:
        log_ratio = torch.log(b / a)
        y = a * torch.exp(u * log_ratio)
        w = y * log_ratio
    else:
        e = 1.0 - nu
        ae, be = a**e, b**e
        y = (ae + u * (be - ae)) ** (1.0 / e)
        w = (be - ae) / e * y**nu
    return y - shift, w


def power_law_inverse(x: Tensor, lo: Tensor, hi: Tensor, nu: float, shift: Tensor) -> tuple[Tensor, Tensor]:
    """Inverse of :func:`power_law_forward`: ``(u, w)`` for values ``x`` (n,); u outside [0, 1] if x is."""
    a, b, y = lo + shift, hi + shift, x + shift
    if abs(nu - 1.0) < _NU_ONE:
        log_ratio = torch.log(b / a)
        u = torch.log(y / a) / log_ratio
        w = y * log_ratio
    else:
        e = 1.0 - nu
        ae, be = a**e, b**e
        u = (y**e - ae) / (be - ae)
        w = (be - ae) / e * y**nu
    return u, w


class MassMapping(abc.ABC):
    """``u -> s`` on a per-event range ``[lo, hi]`` (GeV^2) with weight ``ds/du``."""

    @abc.abstractmethod
    def forward(self, u: Tensor, lo: Tensor, hi: Tensor, shat: Tensor) -> tuple[Tensor, Tensor]:
        """u, lo, hi, shat: (n,). Returns ``(s, w)``, (n,) each, ``w = ds/du`` in GeV^2."""

    @abc.abstractmethod
    def inverse(self, s: Tensor, lo: Tensor, hi: Tensor, shat: Tensor) -> tuple[Tensor, Tensor]:
        """s, lo, hi, shat: (n,). Returns ``(u, w)``; u falls outside [0, 1] where s is out of reach."""


@dataclass(frozen=True)
class FlatMass(MassMapping):
    """Uniform in ``s``."""

    def forward(self, u, lo, hi, shat):
        return lo + u * (hi - lo), hi - lo

    def inverse(self, s, lo, hi, shat):
        return (s - lo) / (hi - lo), hi - lo


@dataclass(frozen=True)
class PowerLawMass(MassMapping):
    """Massless propagator: density ``~ (s + s0)^(-nu)`` on ``[max(lo, smin), hi]``.

    nu: the power (0 = flat, 1 = logarithmic); s0_frac, smin_frac: ``s0`` and ``smin`` in units of
    shat. nu >= 1 needs ``s0_frac > 0`` or ``smin_frac > 0`` where ``lo`` can be 0.
    """

    nu: float = 1.0
    s0_frac: float = 0.0
    smin_frac: float = 0.0

    def _range(self, lo, hi, shat):
        lo = torch.maximum(lo, self.smin_frac * shat)
        return lo, torch.maximum(hi, lo), self.s0_frac * shat

    def forward(self, u, lo, hi, shat):
        lo, hi, shift = self._range(lo, hi, shat)
        return power_law_forward(u, lo, hi, self.nu, shift)

    def inverse(self, s, lo, hi, shat):
        lo, hi, shift = self._range(lo, hi, shat)
        return power_law_inverse(s, lo, hi, self.nu, shift)


@dataclass(frozen=True)
class BreitWignerMass(MassMapping):
    """Breit-Wigner: density ``~ 1 / ((s - M^2)^2 + M^2 Gamma^2)``; mass, width in GeV (both > 0)."""

    mass: float
    width: float

    def _angles(self, lo, hi):
        m2, mg = self.mass**2, self.mass * self.width
        return torch.atan((lo - m2) / mg), torch.atan((hi - m2) / mg), m2, mg

    def forward(self, u, lo, hi, shat):
        y_lo, y_hi, m2, mg = self._angles(lo, hi)
        s = m2 + mg * torch.tan(y_lo + u * (y_hi - y_lo))
        return s, (y_hi - y_lo) * ((s - m2) ** 2 + mg * mg) / mg

    def inverse(self, s, lo, hi, shat):
        y_lo, y_hi, m2, mg = self._angles(lo, hi)
        u = (torch.atan((s - m2) / mg) - y_lo) / (y_hi - y_lo)
        return u, (y_hi - y_lo) * ((s - m2) ** 2 + mg * mg) / mg

