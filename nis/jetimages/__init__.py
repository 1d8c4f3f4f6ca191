"""Jet images: telling boosted hadronic W jets (from W' -> W Z) from QCD jets at 13 TeV.

Modules, one idea each: :mod:`~nis.jetimages.generate` (Pythia 8 events, anti-kT R = 1.0 fat jets,
HDF5 jet files), :mod:`~nis.jetimages.substructure` (jet mass, N-subjettiness),
:mod:`~nis.jetimages.images` (preprocessed 25 x 25 jet images), :mod:`~nis.jetimages.cnn` (the
convolutional classifier), :mod:`~nis.jetimages.baselines` (mass window, tau_21 cut, MLP on
(m, tau_21); ROC, AUC, rejection), :mod:`~nis.jetimages.decorrelate` (reweighting to equal
(m, tau_21) distributions), :mod:`~nis.jetimages.plots`, :mod:`~nis.jetimages.config` and
:mod:`~nis.jetimages.run` (``nis jetimages generate`` / ``evaluate``).

Pythia 8 (``pythia8mc``) and FastJet (``fastjet``) are optional dependencies, loaded only when
needed (:mod:`nis.shower.pythia`).
"""

from nis.jetimages.run import evaluate, generate_jets

__all__ = ["evaluate", "generate_jets"]
