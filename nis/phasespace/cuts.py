"""Generation cuts on final-state partons: hadron-collider style (pT, |y|, Delta R) and Durham.

:class:`Cuts` holds the cut values; ``mask(p)`` says which events pass. ``p`` is the momentum
array (n, n_particles, 4) of the integrator (incoming particles at positions 0 and 1, in their
c.m. frame); the cuts act on the partons at the positions ``partons`` (0-based positions in p,
default: every final-state particle, positions 2, 3, ...).

* ``pt_min`` (GeV): every parton has ``pT >= pt_min``;
* ``rapidity_max``: every parton has ``|y| <= rapidity_max``;
* ``delta_r_min``: every pair has ``Delta R = sqrt(dy^2 + dphi^2) >= delta_r_min``;
* ``y_cut`` (Durham / kT, e+e-): every pair has
  ``y_ij = 2 min(E_i^2, E_j^2) (1 - cos theta_ij) / s >= y_cut`` with ``s = (p_1 + p_2)^2``;
* ``e_min`` (GeV): every parton has ``E >= e_min``;
* ``m_min`` (GeV): every pair has invariant mass ``>= m_min``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import torch
from torch import Tensor

from nis.phasespace.kinematics import azimuth, dot3, mass2, pt, rapidity

__all__ = ["Cuts"]


@dataclass(frozen=True)
class Cuts:
    """Cuts on final-state partons (see the module docstring); the defaults cut nothing."""

    pt_min: float = 0.0
    rapidity_max: float = math.inf
    delta_r_min: float = 0.0
    y_cut: float = 0.0
    e_min: float = 0.0
    m_min: float = 0.0
    partons: tuple[int, ...] | None = None

    def __post_init__(self):
        for f in fields(self):
            if f.name == "partons":
                continue
            v = getattr(self, f.name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or math.isnan(v):
                raise ValueError(f"Cuts: {f.name} must be a number, got {v!r}")
            if v < 0:
                raise ValueError(f"Cuts: {f.name} = {v!r} is negative; cuts are lower bounds >= 0 (or |y| <= max)")
        if self.rapidity_max == 0:
            raise ValueError("Cuts: rapidity_max = 0 removes every event; use a positive value (or inf for none)")
        for name in ("pt_min", "delta_r_min", "e_min", "m_min", "y_cut"):
            if math.isinf(getattr(self, name)):
                raise ValueError(f"Cuts: {name} = inf removes every event")
        if self.y_cut >= 1.0:
            raise ValueError(f"Cuts: y_cut = {self.y_cut!r} must be < 1 (y_ij <= 1 for every pair)")
        if self.partons is not None:
            parts = tuple(self.partons)
            if not parts or any(isinstance(i, bool) or not isinstance(i, int) or i < 2 for i in parts):
                raise ValueError(
                    f"Cuts: partons = {self.partons!r} must be positions >= 2 in the momentum array"
                    " (0 and 1 are the incoming particles)"
                )
            if len(set(parts)) != len(parts):
                raise ValueError(f"Cuts: partons = {self.partons!r} lists a position twice")
            object.__setattr__(self, "partons", parts)

    @classmethod
    def from_dict(cls, d: dict | None) -> "Cuts":
        """Cuts from a config mapping (keys as the fields); unknown keys raise ValueError."""
        d = dict(d or {})
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"Cuts: unknown cut(s) {sorted(unknown)}; known: {sorted(names)}")
        if d.get("partons") is not None:
            d["partons"] = tuple(d["partons"])
        return cls(**d)

    @property
    def active(self) -> bool:
        """True if any cut removes something."""
        return bool(
            self.pt_min > 0 or math.isfinite(self.rapidity_max) or self.delta_r_min > 0
            or self.y_cut > 0 or self.e_min > 0 or self.m_min > 0
        )

    def mask(self, p: Tensor) -> Tensor:
        """Bool tensor (n,): True where the event p (n, n_particles, 4) passes every cut."""
        if p.ndim != 3 or p.shape[2] != 4 or p.shape[1] < 3:
            raise ValueError(f"Cuts.mask: momenta of shape {tuple(p.shape)}; expected (n, n_particles >= 3, 4)")
        idx = self.partons if self.partons is not None else tuple(range(2, p.shape[1]))
        if max(idx) >= p.shape[1]:
            raise ValueError(f"Cuts.mask: parton position {max(idx)} out of range for {p.shape[1]} particles")
        q = p[:, list(idx)]
        ok = torch.ones(p.shape[0], dtype=torch.bool, device=p.device)
        if self.pt_min > 0:
            ok &= (pt(q) >= self.pt_min).all(1)
        if math.isfinite(self.rapidity_max):
            ok &= (rapidity(q).abs() <= self.rapidity_max).all(1)
        if self.e_min > 0:
            ok &= (q[..., 0] >= self.e_min).all(1)
        m = q.shape[1]
        if m < 2 or not (self.delta_r_min > 0 or self.y_cut > 0 or self.m_min > 0):
            return ok
        i, j = torch.triu_indices(m, m, offset=1, device=p.device)
        a, b = q[:, i], q[:, j]  # (n, pairs, 4)
        if self.delta_r_min > 0:
            dy = rapidity(a) - rapidity(b)
            dphi = torch.remainder(azimuth(a) - azimuth(b) + math.pi, 2.0 * math.pi) - math.pi
            ok &= (dy * dy + dphi * dphi >= self.delta_r_min**2).all(1)
        if self.m_min > 0:
            ok &= (mass2(a + b) >= self.m_min**2).all(1)
        if self.y_cut > 0:
            s = mass2(p[:, 0] + p[:, 1])
            na = torch.linalg.vector_norm(a[..., 1:], dim=-1)
            nb = torch.linalg.vector_norm(b[..., 1:], dim=-1)
            cos = dot3(a[..., 1:], b[..., 1:]) / (na * nb)
            e2 = torch.minimum(a[..., 0], b[..., 0]) ** 2
            y = 2.0 * e2 * (1.0 - cos) / s[:, None]
            ok &= (y >= self.y_cut).all(1)
        return ok
