"""Scattering processes: run-card description, the cross-section integrand, LHE events.

The integrand needs the compiled bridge (``nis._bridge``); it is imported from
``nis.processes.integrand`` only when a process is run.
"""

from nis.processes.spec import ProcessConfig

__all__ = ["ProcessConfig"]
