"""The multi-channel sampler: per channel a flow behind a VEGAS map, plus ``alpha_c(x)``.

Channel ``c`` draws a cube point in three steps::

    z ~ U[0,1]^d  --flow_c-->  v  --VEGAS map_c-->  u  --integrand's channel mapping-->  x

so the density of ``u`` is ``q_c(u) = q_flow(v) / |du/dv|``. The flow starts as the identity,
so an untrained sampler is exactly the VEGAS sampler (with ``training.vegas_fraction = 0``, the
default, the map is the identity too and training starts from uniform points). The map in front of the flow is frozen
once the flow trains on it; a second grid per channel, ``fallback``, starts from the same grid
and keeps adapting on the points the flow draws (see :mod:`nis.integrator.vegas_map`), and
``use_flow=False`` samples from it alone: the VEGAS fallback. All state (flows, grids, channel
weights, the share of samples each channel gets) lives in parameters and buffers.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from nis.config import FlowConfig, TrainingConfig
from nis.flows import Flow
from nis.integrator.alpha import ChannelWeights
from nis.integrator.vegas_map import VegasMap


@dataclass
class Draw:
    """Points drawn in one channel (n points): flow-space ``v``, cube ``u`` (float64),
    ``log_jac`` = log|du/dv| of the VEGAS map and ``log_q`` = log-density of ``u``."""

    v: Tensor
    u: Tensor
    log_jac: Tensor
    log_q: Tensor


class MultiChannelSampler(nn.Module):
    """Flows, VEGAS grids and channel weights of ``n_channels`` channels on ``[0,1]^dims``.

    share: buffer (n_channels,), the fraction of each batch given to each channel (sums to 1,
    zero for dropped channels).
    """

    def __init__(self, dims: int, n_channels: int, feature_dims: int, flow: FlowConfig, training: TrainingConfig,
                 fallback_bins: int | None = None):
        super().__init__()
        self.dims = dims
        self.flows = nn.ModuleList(
            Flow(dims, bins=flow.bins, hidden=flow.hidden, layers=flow.layers) for _ in range(n_channels)
        )
        self.flows.to(getattr(torch, flow.dtype))
        self.vegas = nn.ModuleList(VegasMap(dims, training.grid_increments(n_channels)) for _ in range(n_channels))
        fallback_bins = fallback_bins or training.fallback_increments(n_channels)
        memory = training.fallback_memory(n_channels)
        self.fallback = nn.ModuleList(VegasMap(dims, fallback_bins, memory) for _ in range(n_channels))
        self.alpha = ChannelWeights(feature_dims, n_channels, training.alpha_hidden, training.train_alpha)
        self.register_buffer("share", torch.full((n_channels,), 1.0 / n_channels, dtype=torch.float64))
        self._share_version, self._counts = 0, (None, None)

    @property
    def n_channels(self) -> int:
        return len(self.flows)

    @property
    def flow_dtype(self) -> torch.dtype:
        return next(self.flows.parameters()).dtype

    def draw(self, channel: int, n: int, generator: torch.Generator | None, use_flow: bool = True) -> Draw:
        """Draw ``n`` points of ``channel``; no gradient (training recomputes densities)."""
        device = self.share.device
        with torch.no_grad():
            z = torch.rand(n, self.dims, generator=generator, device=device, dtype=self.flow_dtype)
            if use_flow:
                v, log_det = self.flows[channel](z)
                v, log_q_v = v.to(torch.float64), -log_det.to(torch.float64)
                u, log_jac = self.vegas[channel](v)
            else:
                v, log_q_v = z.to(torch.float64), torch.zeros(n, dtype=torch.float64, device=device)
                u, log_jac = self.fallback[channel](v)
        return Draw(v=v, u=u, log_jac=log_jac, log_q=log_q_v - log_jac)

    def log_q(self, channel: int, v: Tensor, log_jac: Tensor) -> Tensor:
        """log-density of the cube point reached from flow-space ``v`` (with gradient), (n,)."""
        log_q_v = self.flows[channel].log_prob(v.to(self.flow_dtype)).to(torch.float64)
        return log_q_v - log_jac

    def counts(self, n: int) -> list[int]:
        """Split ``n`` points over the channels by ``share`` (every active channel gets >= 2).

        Cached per ``n`` until the shares change, so the training loop does not read the
        device at every step."""
        key = (n, self._share_version)
        if self._counts[0] != key:
            self._counts = (key, self._split(n))
        return self._counts[1]

    def _split(self, n: int) -> list[int]:
        share = self.share.tolist()
        counts = [int(s * n) if s > 0 else 0 for s in share]
        counts = [max(k, 2) if s > 0 else 0 for k, s in zip(counts, share)]
        counts[max(range(len(share)), key=share.__getitem__)] += n - sum(counts)
        return counts

    def set_share(self, sigma: Tensor, floor: float) -> None:
        """Optimal allocation: share proportional to each channel's weight standard deviation
        ``sigma`` (n_channels,), with a floor of ``floor / n_active`` for every active channel."""
        active = self.alpha.active
        n_active = int(active.sum())
        sigma = torch.nan_to_num(sigma.to(self.share), nan=0.0) * active
        share = sigma / sigma.sum() if float(sigma.sum()) > 0 else active.to(self.share) / n_active
        share = torch.maximum(share, active * (floor / n_active))
        self.share.copy_(share / share.sum())
        self._share_version += 1

    def _load_from_state_dict(self, *args, **kwargs):
        super()._load_from_state_dict(*args, **kwargs)
        self._share_version += 1
