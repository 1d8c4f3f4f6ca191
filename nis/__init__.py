"""nis: neural importance sampling for LHC event generators.

Layers, each knowing nothing of the ones above it:

* :mod:`nis.flows` -- coupling flows on the unit hypercube (density models only),
* :mod:`nis.integrator` -- multi-channel neural importance sampling with a VEGAS fallback,
* :mod:`nis.events` -- w_max estimates and unweighting,
* :mod:`nis.testfunctions` -- built-in integrands with known integrals,
* :mod:`nis.cli` -- the ``nis`` command.
"""

__version__ = "0.1.0"
