"""What the integrator integrates: the :class:`Integrand` protocol and its checks.

An integrand lives on the unit hypercube ``[0, 1]^dims`` *per channel*. Channel ``c`` owns a
mapping ``u -> x_c(u)`` from the cube to the physical space (identity for test functions,
a phase-space mapping for processes). For a batch of cube points of one channel the integrand
returns

* ``value``: ``f(x_c(u)) * |dx_c/du|``, shape ``(n,)``; the integral is
  ``I = sum_c  int du alpha_c(x_c(u)) * value_c(u)``,
* ``features``: the point in a channel-independent representation, shape ``(n, feature_dims)``,
  the input of the learned channel weights ``alpha_c(x)``,
* ``prior``: prior channel weights ``alpha^prior_c(x)``, shape ``(n, n_channels)``, non-negative,
  rows summing to one (``None`` for a single channel or uniform weights). A zero prior switches a
  channel off at that point; it must be zero wherever channel ``c`` cannot reach ``x``.

The multi-channel identity ``sum_c alpha_c(x) = 1`` together with that last rule makes the
estimate unbiased for any learned ``alpha``.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

import torch
from torch import Tensor


class IntegrandError(ValueError):
    """The integrand returned something the integrator cannot use (NaN, inf, wrong shape)."""


@dataclass
class IntegrandBatch:
    """One channel's evaluation of a batch of points.

    value: ``f(x) |dx/du|``, shape (n,), float64.
    features: inputs of the channel-weight network, shape (n, feature_dims).
    prior: prior channel weights, shape (n, n_channels), or None.
    """

    value: Tensor
    features: Tensor
    prior: Tensor | None = None


class Integrand(abc.ABC):
    """A function on ``[0, 1]^dims`` seen through ``n_channels`` channel mappings."""

    #: name used in results
    name: str = "integrand"
    #: dimension of the unit hypercube each channel samples
    dims: int
    #: number of channels (each gets its own flow and VEGAS grid)
    n_channels: int = 1
    #: exact integral where known (test functions), else None
    exact: float | None = None

    @property
    def feature_dims(self) -> int:
        """Width of ``IntegrandBatch.features``; the cube dimension unless overridden."""
        return self.dims

    @abc.abstractmethod
    def evaluate(self, u: Tensor, channel: int) -> IntegrandBatch:
        """Evaluate channel ``channel`` at cube points ``u`` of shape (n, dims), float64."""

    def __call__(self, u: Tensor, channel: int = 0) -> IntegrandBatch:
        return checked_evaluate(self, u, channel)


class FunctionIntegrand(Integrand):
    """A plain single-channel function ``f(x)`` on the cube (identity mapping)."""

    def __init__(self, fn, dims: int, name: str = "function", exact: float | None = None):
        self.fn, self.dims, self.name, self.exact = fn, int(dims), name, exact

    def evaluate(self, u: Tensor, channel: int) -> IntegrandBatch:
        return IntegrandBatch(value=self.fn(u), features=u)


def _first_bad(u: Tensor, value: Tensor, bad: Tensor) -> str:
    i = int(torch.nonzero(bad)[0, 0])
    point = ", ".join(f"{v:.6g}" for v in u[i].tolist())
    return f"first at u = [{point}] with value {value[i].item()!r}"


def checked_evaluate(integrand: Integrand, u: Tensor, channel: int) -> IntegrandBatch:
    """Evaluate and check shapes and finiteness; raise :class:`IntegrandError` naming the bad points.

    One device-to-host synchronisation per batch (the NaN check): the price of never letting a
    NaN or inf into an integral silently.
    """
    n = u.shape[0]
    out = integrand.evaluate(u, channel)
    name = getattr(integrand, "name", type(integrand).__name__)
    if not isinstance(out, IntegrandBatch):
        raise IntegrandError(
            f"integrand {name!r} returned {type(out).__name__}; evaluate() must return IntegrandBatch"
        )
    value = out.value
    if not isinstance(value, Tensor) or value.shape != (n,):
        shape = tuple(value.shape) if isinstance(value, Tensor) else type(value).__name__
        raise IntegrandError(
            f"integrand {name!r} (channel {channel}) returned values of shape {shape} for {n} points;"
            f" expected ({n},)"
        )
    bad = ~torch.isfinite(value)
    n_bad = int(bad.sum())
    if n_bad:
        raise IntegrandError(
            f"integrand {name!r} (channel {channel}) returned {n_bad} non-finite value(s) (NaN or inf)"
            f" out of {n}; {_first_bad(u, value, bad)}"
        )
    if out.features.shape != (n, integrand.feature_dims):
        raise IntegrandError(
            f"integrand {name!r} returned features of shape {tuple(out.features.shape)};"
            f" expected ({n}, {integrand.feature_dims})"
        )
    if out.prior is not None:
        if out.prior.shape != (n, integrand.n_channels):
            raise IntegrandError(
                f"integrand {name!r} returned prior channel weights of shape {tuple(out.prior.shape)};"
                f" expected ({n}, {integrand.n_channels})"
            )
        bad = ~torch.isfinite(out.prior).all(dim=1) | (out.prior < 0).any(dim=1)
        if bool(bad.any()):
            raise IntegrandError(
                f"integrand {name!r} returned {int(bad.sum())} prior channel weight rows that are"
                f" negative or not finite; {_first_bad(u, out.prior.sum(1), bad)}"
            )
    return IntegrandBatch(value.to(torch.float64), out.features, out.prior)
