"""Multi-channel neural importance sampling with a VEGAS fallback.

Modules, one idea each: :mod:`~nis.integrator.integrand` (what is integrated),
:mod:`~nis.integrator.vegas_map` (VEGAS grids), :mod:`~nis.integrator.alpha` (channel weights),
:mod:`~nis.integrator.sampler` (flows + grids + weights), :mod:`~nis.integrator.losses`,
:mod:`~nis.integrator.buffer`, :mod:`~nis.integrator.estimate` (statistics) and
:mod:`~nis.integrator.integrator` (the training loop and the run).
"""

from nis.integrator.integrand import FunctionIntegrand, Integrand, IntegrandBatch, IntegrandError
from nis.integrator.integrator import Integrator, RunResult

__all__ = ["FunctionIntegrand", "Integrand", "IntegrandBatch", "IntegrandError", "Integrator", "RunResult"]
