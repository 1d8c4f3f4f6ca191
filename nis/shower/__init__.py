"""Parton showers, hadronisation and jets for nis events: Pythia 8 (PyPI ``pythia8mc``) reads
the Les Houches files nis writes, FastJet (PyPI ``fastjet``) clusters what comes out, and a
stated, simple detector model smears it.

Modules, one idea each: :mod:`~nis.shower.pythia` (importing Pythia 8 and FastJet, or saying
how to install them), :mod:`~nis.shower.jets` (FastJet clustering of one event),
:mod:`~nis.shower.detector` (the smearing detector), :mod:`~nis.shower.showered` (the HDF5 file
of parton, particle and detector level), :mod:`~nis.shower.run` (``nis shower``: LHE in,
showered file out).
"""

from nis.shower.jets import cluster
from nis.shower.pythia import MissingDependency, load_fastjet, load_pythia

__all__ = ["MissingDependency", "cluster", "load_fastjet", "load_pythia"]
