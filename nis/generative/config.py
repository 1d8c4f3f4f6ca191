"""Configuration of ``nis generative train CONFIG``: a YAML file, checked before work starts.

::

    model: inn                 # inn, discflow, binn (Z + jets) or mmdgan (t tbar -> 6 partons)
    data: [zmumu_1j.h5, zmumu_2j.h5, zmumu_3j.h5]   # nis event files, one per multiplicity
    output: results/zjets-inn  # directory: model.pt, results.json and the plots
    test_fraction: 0.5         # share of every file held out as the truth of the plots
    network: {epochs: 30, hidden: 64, blocks: 6}     # nis.generative.inn.INNSettings
    discriminator: {epochs: 10}                      # nis.generative.classifier.DiscriminatorSettings
    discflow: {alpha0: 2.0}                          # nis.generative.discflow.DiscFlowSettings
    bayesian: {prior_std: 1.0, draws: 10, nuisance: 0.0}   # BayesianSettings (binn)
    mmdgan: {mmd_weight: 1.0}                        # nis.generative.mmdgan.MMDGANSettings
    evaluation: {seed: 1, events: 0}                 # 0: as many events as the truth has

Relative paths are taken from the working directory. Unknown keys and wrong types raise
:class:`nis.config.ConfigError` naming the key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from nis.config import ConfigError, load_yaml
from nis.generative.classifier import DiscriminatorSettings
from nis.generative.discflow import DiscFlowSettings
from nis.generative.inn import INNSettings

MODELS = ("inn", "discflow", "binn", "mmdgan")

__all__ = ["MODELS", "BayesianSettings", "EvaluationSettings", "GenerativeConfig", "load_generative_config"]


@dataclass
class BayesianSettings:
    """The Bayesian INN: prior width, weight draws for the bands, the nuisance parameter."""

    prior_std: float = 1.0  #: width of the Gaussian prior of every network weight
    draws: int = 10  #: weight draws (ensemble members) for the uncertainty bands
    #: largest value of the nuisance parameter a of the augmented training weights
    #: ``1 + a ((pT_j1 - pT_min) / 100 GeV)^2``; 0: no nuisance parameter
    nuisance: float = 0.0


@dataclass
class EvaluationSettings:
    seed: int = 1  #: seed of the generated events
    events: int = 0  #: generated events per multiplicity; 0: as many as the truth sample


@dataclass
class GenerativeConfig:
    model: str
    data: list
    output: str = "generative-out"
    test_fraction: float = 0.5
    network: INNSettings = field(default_factory=INNSettings)
    discriminator: DiscriminatorSettings = field(default_factory=DiscriminatorSettings)
    discflow: DiscFlowSettings = field(default_factory=DiscFlowSettings)
    bayesian: BayesianSettings = field(default_factory=BayesianSettings)
    mmdgan: dict = field(default_factory=dict)
    evaluation: EvaluationSettings = field(default_factory=EvaluationSettings)

    def __post_init__(self):
        if self.model not in MODELS:
            raise ConfigError(f"model must be one of {', '.join(MODELS)}; got {self.model!r}")
        if isinstance(self.data, str):
            self.data = [self.data]
        if not isinstance(self.data, list) or not self.data or not all(isinstance(p, str) for p in self.data):
            raise ConfigError(f"data must be a list of event files (nis integrate ... --hdf5 FILE); got {self.data!r}")
        missing = [p for p in self.data if not Path(p).is_file()]
        if missing:
            raise ConfigError(
                f"data: no such event file(s) {missing}; make them with nis integrate"
                " examples/generative/zmumu_<n>j.yaml --events N --hdf5 FILE (see examples/generative/README.md)"
            )
        if self.model == "mmdgan" and len(self.data) != 1:
            raise ConfigError("model mmdgan takes one event file (t tbar -> 6 partons) in data")
        if not 0.0 < self.test_fraction < 1.0:
            raise ConfigError(f"test_fraction must lie in (0, 1); got {self.test_fraction}")


def load_generative_config(path: str | Path) -> GenerativeConfig:
    return load_yaml(path, GenerativeConfig)
