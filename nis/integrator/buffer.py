"""A ring buffer of past samples, reused in training with their original sampling density.

Integrand calls are the expensive part of a physics run; a sample drawn by an older flow is
still a valid training point as long as the loss divides by the density it was drawn from
(``log_q_sample``): see :mod:`nis.integrator.losses`. The buffer is an ``nn.Module`` whose
contents are buffers, so it is saved and restored with the rest of the sampler.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

COLUMNS = ("v", "log_jac", "value", "log_q_sample", "features", "prior")


class SampleBuffer(nn.Module):
    """Fixed-capacity ring buffer of one channel's samples.

    Columns (row i is one integrand call): ``v`` (flow-space point, (dims,)), ``log_jac``
    (log-Jacobian of the fixed VEGAS map), ``value`` (integrand value), ``log_q_sample``
    (log-density of the cube point when drawn), ``features`` and ``prior`` (channel-weight inputs).
    """

    def __init__(self, capacity: int, dims: int, feature_dims: int, n_channels: int):
        super().__init__()
        f64 = dict(dtype=torch.float64)
        self.register_buffer("v", torch.zeros(capacity, dims, **f64))
        self.register_buffer("log_jac", torch.zeros(capacity, **f64))
        self.register_buffer("value", torch.zeros(capacity, **f64))
        self.register_buffer("log_q_sample", torch.zeros(capacity, **f64))
        self.register_buffer("features", torch.zeros(capacity, feature_dims, **f64))
        self.register_buffer("prior", torch.zeros(capacity, n_channels, **f64))
        self.capacity, self.size, self.position = capacity, 0, 0

    def get_extra_state(self):
        return {"size": self.size, "position": self.position}

    def set_extra_state(self, state):
        self.size, self.position = state["size"], state["position"]

    def push(self, **columns: Tensor) -> None:
        """Append a batch (each column with leading size n); the oldest rows are overwritten."""
        n = columns["v"].shape[0]
        if n == 0:
            return
        if n > self.capacity:
            columns = {k: c[-self.capacity :] for k, c in columns.items()}
            n = self.capacity
        idx = (torch.arange(n, device=self.v.device) + self.position) % self.capacity
        for name in COLUMNS:
            if name in columns and columns[name] is not None:
                getattr(self, name)[idx] = columns[name].to(torch.float64)
        self.position = (self.position + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

    def draw(self, n: int, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """``n`` rows drawn uniformly with replacement from what the buffer holds."""
        if self.size == 0:
            raise RuntimeError("the sample buffer is empty; push samples before drawing")
        idx = torch.randint(self.size, (n,), generator=generator, device=self.v.device)
        return {name: getattr(self, name)[idx] for name in COLUMNS}
