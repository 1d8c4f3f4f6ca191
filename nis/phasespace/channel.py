"""Phase-space channels and the :class:`ChannelSet` the process integrand uses.

A channel maps the unit cube ``[0, 1]^(3 n_out - 4)`` onto the final-state momenta of a fixed
partonic energy (c.m. frame, incoming ``p_1`` along +z and ``p_2`` along -z, both massless) with
the weight ``w`` such that ``int du w(u) f(p(u)) = int dPhi_n f``; its density at a point is
``g(p) = 1 / w(u(p))``. Every channel is exactly invertible, so all channels' densities can be
evaluated at any point: the multi-channel prior ``alpha_c = g_c / sum_k g_k`` (Kleiss-Pittau).
"""

from __future__ import annotations

import abc

import torch
from torch import Tensor

from nis.phasespace.kinematics import incoming_momenta, mass2
from nis.phasespace.rambo import rambo_forward, rambo_inverse
from nis.phasespace.tree import TreeChannel

__all__ = ["Channel", "RamboChannel", "TreeChannel", "ChannelSet"]

#: how far outside [0, 1] an inverse cube coordinate may fall (rounding) and still count as reached
U_TOLERANCE = 1e-7


class Channel(abc.ABC):
    """One phase-space mapping (see the module docstring)."""

    n_out: int
    dims: int

    @abc.abstractmethod
    def forward(self, u: Tensor, shat: Tensor) -> tuple[Tensor, Tensor]:
        """u (n, dims), shat (n,) GeV^2 -> final-state momenta (n, n_out, 4), weights (n,)."""

    @abc.abstractmethod
    def inverse(self, k: Tensor, shat: Tensor) -> tuple[Tensor, Tensor]:
        """Final-state momenta (n, n_out, 4), shat (n,) -> cube points (n, dims), weights (n,)."""

    def describe(self) -> str:
        return type(self).__name__


class RamboChannel(Channel):
    """Flat massless phase space (RAMBO on diet, :mod:`nis.phasespace.rambo`)."""

    def __init__(self, n_out: int):
        if n_out < 2:
            raise ValueError(f"RAMBO needs at least 2 final-state particles, got {n_out}")
        self.n_out, self.dims = n_out, 3 * n_out - 4

    def forward(self, u, shat):
        return rambo_forward(u, shat)

    def inverse(self, k, shat):
        return rambo_inverse(k, shat)

    def describe(self) -> str:
        return "rambo"


Channel.register(TreeChannel)  # TreeChannel follows the Channel protocol


class ChannelSet:
    """The channels of one process at a fixed partonic energy ``sqrt_s`` (GeV).

    Attributes: ``n_channels``, ``dims`` (``3 n_out - 4``, the same for all channels), ``n_out``,
    ``sqrt_s``, ``names`` (one per channel), ``process`` (the process string of the channels file),
    ``channels`` (the :class:`Channel` objects), ``source`` (the file, or None).
    """

    def __init__(self, channels, names, n_out: int, sqrt_s: float, process: str = "", source=None):
        if not channels:
            raise ValueError("a ChannelSet needs at least one channel")
        if len(names) != len(channels):
            raise ValueError(f"{len(names)} names for {len(channels)} channels")
        for ch in channels:
            if ch.n_out != n_out:
                raise ValueError(f"channel {ch.describe()} has {ch.n_out} final-state particles, not {n_out}")
        if not sqrt_s > 0:
            raise ValueError(f"sqrt_s must be > 0 GeV, got {sqrt_s!r}")
        self.channels, self.names = list(channels), list(names)
        self.n_out, self.sqrt_s, self.process, self.source = n_out, float(sqrt_s), process, source
        self.dims = 3 * n_out - 4

    @property
    def n_channels(self) -> int:
        return len(self.channels)

    def __len__(self) -> int:
        return len(self.channels)

    def __repr__(self) -> str:
        return f"ChannelSet({self.process!r}, sqrt_s={self.sqrt_s}, channels={self.names})"

    def _shat(self, u: Tensor, sqrt_s) -> Tensor:
        if sqrt_s is None:
            sqrt_s = self.sqrt_s
        if isinstance(sqrt_s, Tensor):
            return (sqrt_s.to(u) ** 2).expand(u.shape[0])
        return torch.full((u.shape[0],), float(sqrt_s) ** 2, dtype=u.dtype, device=u.device)

    def map(self, c: int, u: Tensor, sqrt_s: float | Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Channel ``c``: cube points u (n, dims) float64 -> momenta p (n, 2 + n_out, 4) incoming
        first, and weights w (n,) in GeV^(2 n_out - 8). ``sqrt_s`` (float or (n,) tensor) overrides
        the set's partonic energy."""
        if u.ndim != 2 or u.shape[1] != self.dims:
            raise ValueError(f"cube points of shape {tuple(u.shape)}; expected (n, {self.dims})")
        shat = self._shat(u, sqrt_s)
        k, w = self.channels[c].forward(u, shat)
        return torch.cat([incoming_momenta(torch.sqrt(shat)), k], dim=1), w

    def _split(self, p: Tensor) -> tuple[Tensor, Tensor]:
        if p.ndim == 3 and p.shape[1] == self.n_out + 2 and p.shape[2] == 4:
            return p[:, 2:], mass2(p[:, 0] + p[:, 1])
        if p.ndim == 3 and p.shape[1] == self.n_out and p.shape[2] == 4:
            return p, self._shat(p[:, 0], None)
        raise ValueError(f"momenta of shape {tuple(p.shape)}; expected (n, {self.n_out + 2}, 4) or (n, {self.n_out}, 4)")

    def inverse(self, c: int, p: Tensor) -> tuple[Tensor, Tensor]:
        """Channel ``c``'s cube point (n, dims) and weight (n,) at momenta p (n, 2 + n_out, 4) in
        the c.m. frame (or final state only, (n, n_out, 4), at the set's sqrt_s)."""
        k, shat = self._split(p)
        return self.channels[c].inverse(k, shat)

    def densities(self, p: Tensor) -> Tensor:
        """Densities ``g_c(p) = 1 / w_c(u_c(p))`` of all channels, (n, n_channels), at momenta p as
        for :meth:`inverse`; 0 where a channel cannot reach p (its inverse leaves the cube)."""
        k, shat = self._split(p)
        out = []
        for ch in self.channels:
            u, w = ch.inverse(k, shat)
            ok = torch.isfinite(w) & (w > 0) & torch.isfinite(u).all(1)
            ok &= ((u >= -U_TOLERANCE) & (u <= 1.0 + U_TOLERANCE)).all(1)
            out.append(torch.where(ok, 1.0 / torch.where(ok, w, torch.ones_like(w)), torch.zeros_like(w)))
        return torch.stack(out, dim=1)

    def prior(self, p: Tensor) -> Tensor:
        """Prior channel weights ``alpha_c = g_c / sum_k g_k`` (n, n_channels); rows sum to 1
        (uniform where no channel reaches p)."""
        g = self.densities(p)
        tot = g.sum(1, keepdim=True)
        return torch.where(tot > 0, g / torch.where(tot > 0, tot, torch.ones_like(tot)), torch.full_like(g, 1.0 / g.shape[1]))
