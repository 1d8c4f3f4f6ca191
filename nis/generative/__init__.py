"""Generative event models built from :mod:`nis.flows`, trained on events nis produced.

Z (-> mu mu) + 1, 2, 3 jets: :mod:`~nis.generative.features` (momenta <-> network features),
:mod:`~nis.generative.data` (event files per multiplicity, cuts, the Delta R magic
transformation), :mod:`~nis.generative.inn` (the conditional INN and its training),
:mod:`~nis.generative.classifier` (discriminators and their weights w_D = D/(1-D)),
:mod:`~nis.generative.discflow` (likelihood training steered by a discriminator),
:mod:`~nis.generative.bayesian` (variational Bayesian layers) and :mod:`~nis.generative.binn`
(the Bayesian INN with a nuisance parameter).
t tbar -> 6 partons: :mod:`~nis.generative.mmdgan` (the MMD-GAN), :mod:`~nis.generative.mmd`
(the MMD term), :mod:`~nis.generative.peaks` (mass-peak widths).
Shared: :mod:`~nis.generative.plots` (histograms against truth), :mod:`~nis.generative.model_io`
(model files), :mod:`~nis.generative.config` and :mod:`~nis.generative.run` (``nis generative``).
"""
