"""From a config's ``integrand`` mapping to an :class:`~nis.integrator.Integrand`.

``{function: NAME, ...}`` builds a built-in test function (:mod:`nis.testfunctions`),
``{matrix_element: "e+ e- -> ...", ...}`` a process (:mod:`nis.processes`).
"""

from __future__ import annotations


def make_integrand(spec: dict, name: str | None = None):
    """The integrand ``spec`` describes; ``name`` labels a process in results."""
    spec = dict(spec)
    if "function" in spec:
        from nis.testfunctions import make_test_function

        return make_test_function(spec.pop("function"), **spec)
    from nis.processes import ProcessConfig
    from nis.processes.integrand import ProcessIntegrand

    return ProcessIntegrand(ProcessConfig.from_mapping(spec), name=name)
