"""From a config's ``integrand`` mapping to an :class:`~nis.integrator.Integrand`.

``{function: NAME, ...}`` builds a built-in test function (:mod:`nis.testfunctions`),
``{matrix_element: "e+ e- -> ...", ...}`` a process (:mod:`nis.processes`), and
``{matrix_element: "p p -> ...", pdf: ..., ...}`` a proton-proton one (:mod:`nis.processes.hadronic`;
``"p p -> t t~ -> b j j b~ j j"``: :mod:`nis.processes.ttbar`).
"""

from __future__ import annotations


def make_integrand(spec: dict, name: str | None = None):
    """The integrand ``spec`` describes; ``name`` labels a process in results."""
    spec = dict(spec)
    if "function" in spec:
        from nis.testfunctions import make_test_function

        return make_test_function(spec.pop("function"), **spec)
    from nis.processes.hadronic import HadronicConfig, HadronicIntegrand
    from nis.processes.integrand import ProcessIntegrand
    from nis.processes.ttbar import TTbarConfig, TTbarIntegrand

    config = process_config(spec)
    if isinstance(config, TTbarConfig):
        return TTbarIntegrand(config, name=name)
    if isinstance(config, HadronicConfig):
        return HadronicIntegrand(config, name=name)
    return ProcessIntegrand(config, name=name)


def process_config(spec: dict):
    """The checked config of a process spec: ``TTbarConfig`` for ``p p -> t t~ -> b j j b~ j j``,
    ``HadronicConfig`` for other ``p p -> ...``, else ``ProcessConfig`` (raises ConfigError on any
    bad key before work starts)."""
    from nis.processes import ProcessConfig
    from nis.processes.hadronic import HadronicConfig, is_hadronic
    from nis.processes.ttbar import TTbarConfig, is_ttbar

    if isinstance(spec.get("matrix_element"), str) and is_ttbar(spec["matrix_element"]):
        return TTbarConfig.from_mapping(spec)
    if isinstance(spec.get("matrix_element"), str) and is_hadronic(spec["matrix_element"]):
        return HadronicConfig.from_mapping(spec)
    return ProcessConfig.from_mapping(spec)
