"""Unfolding of showered Z/gamma* (-> mu mu) + jet events from detector to parton level.

Two methods on the same simulation (:mod:`nis.shower` makes it: parton-level events of nis,
showered by Pythia 8, clustered into jets and smeared by a simple detector):

* a conditional normalizing flow (cINN) that learns the posterior p(truth | detector) and draws
  truth samples for every measured event (:mod:`~nis.unfolding.cinn`), with a calibration test of
  its quantiles (:mod:`~nis.unfolding.calibration`);
* OmniFold, classifier-based iterative reweighting of the simulation's truth
  (:mod:`~nis.unfolding.omnifold`).

The showered event files are :mod:`nis.shower.showered`'s. Modules, one idea each:
:mod:`~nis.unfolding.features` (truth features <-> momenta, the detector condition, the
standardisation), :mod:`~nis.unfolding.cinn`, :mod:`~nis.unfolding.calibration`,
:mod:`~nis.unfolding.omnifold`, :mod:`~nis.unfolding.plots` (histograms and plots) and
:mod:`~nis.unfolding.run` (``nis unfold CONFIG``: the config and the whole chain).
"""

from nis.unfolding.calibration import calibration, rank_fractions
from nis.unfolding.cinn import CINN, CINNSettings, ConditionNet, Posterior, load_cinn, save_cinn, train_cinn
from nis.unfolding.features import (
    ConditionLayout, FeatureError, FeatureScaler, TruthFeatures, detector_condition, detector_layout,
    detector_observables, multiplicity_onehot, truth_observables,
)
from nis.unfolding.omnifold import OmniFoldResult, OmniFoldSettings, omnifold
from nis.unfolding.plots import chi2, plot_calibration, plot_unfolded, unfolding_histograms
from nis.unfolding.run import UnfoldingConfig, load_unfolding_config, pseudo_data_factor, unfold

__all__ = [
    "CINN", "CINNSettings", "ConditionLayout", "ConditionNet", "FeatureError", "FeatureScaler", "OmniFoldResult",
    "OmniFoldSettings", "Posterior", "TruthFeatures", "UnfoldingConfig",
    "calibration", "chi2", "detector_condition", "detector_layout", "detector_observables", "load_cinn",
    "load_unfolding_config", "multiplicity_onehot", "omnifold", "plot_calibration", "plot_unfolded",
    "pseudo_data_factor", "rank_fractions", "save_cinn", "train_cinn", "truth_observables", "unfold",
    "unfolding_histograms",
]
