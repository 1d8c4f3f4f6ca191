"""Coupling flows on the unit hypercube ``[0,1]^d`` with a uniform latent (density models only).

THE direction convention, which all of nis follows:

* ``forward(z, condition=None) -> (x, log_det)`` maps a latent point ``z ~ Uniform[0,1]^d`` to
  the sample ``x`` and returns ``log_det = log|det dx/dz|``, shape (n,). The sample's
  log-density is therefore ``log q(x) = -log_det``.
* ``inverse(x, condition=None) -> (z, log_det)`` goes back and returns
  ``log_det = log|det dz/dx| = log q(x)``.
* ``log_prob(x, condition=None) -> (n,)`` and ``sample(n, condition=None, generator=None) ->
  (x, log_q)`` are the conveniences built on these two.

The condition, shape (n, condition_dims), is appended to the inputs of every coupling network.
Every flow starts as the identity (zero-initialised last layers), and all its state lives in
parameters and buffers.

Modules, one idea each: :mod:`~nis.flows.splines` (rational-quadratic splines on [0,1] as plain
functions), :mod:`~nis.flows.subnet` (the MLP), :mod:`~nis.flows.masks` (binary masks),
:mod:`~nis.flows.coupling` (one spline coupling), :mod:`~nis.flows.flow` (the flow).
"""

from nis.flows.coupling import CouplingBlock
from nis.flows.flow import Flow
from nis.flows.masks import binary_masks
from nis.flows.splines import rq_spline
from nis.flows.subnet import MLP

__all__ = ["Flow", "CouplingBlock", "MLP", "binary_masks", "rq_spline"]
