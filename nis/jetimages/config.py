"""Configuration of ``nis jetimages generate CONFIG`` and ``nis jetimages evaluate CONFIG``.

A YAML file, checked before any work starts (unknown keys and wrong types raise
:class:`nis.config.ConfigError` naming the key)::

    data_dir: jetimages-data        # generate writes signal.h5 and background.h5 here; evaluate reads them
    generation: {jets: 30000, seed: 1, wprime_mass: 600}   # nis.jetimages.generate.GenerationSettings
    images: {pixels: 25, pixel_size: 0.1}                   # ImageSettings
    substructure: {beta: 1.0}                               # SubstructureSettings
    cnn: {epochs: 15, channels: [16, 32, 32]}               # nis.jetimages.cnn.CNNSettings
    mlp: {epochs: 30}                                       # nis.jetimages.baselines.MLPSettings
    decorrelation: {mass_bins: 20, tau21_bins: 20, target: overlap}  # DecorrelationSettings
    evaluation: {test_fraction: 0.3, seed: 1, jets: 0}      # EvaluationSettings

Relative paths are taken from the working directory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from nis.config import ConfigError, load_yaml
from nis.jetimages.baselines import MLPSettings
from nis.jetimages.cnn import CNNSettings
from nis.jetimages.decorrelate import TARGETS
from nis.jetimages.generate import GenerationSettings

__all__ = [
    "ImageSettings", "SubstructureSettings", "DecorrelationSettings", "EvaluationSettings", "JetImagesConfig",
    "load_jetimages_config",
]


@dataclass
class ImageSettings:
    """Jet images (:mod:`nis.jetimages.images`)."""

    pixels: int = 25  #: pixels per side (odd: the leading subjet at a pixel's centre)
    pixel_size: float = 0.1  #: side of a pixel in eta and in phi

    def __post_init__(self):
        if self.pixels < 8:
            raise ConfigError(f"images.pixels must be at least 8 (three 2x2 poolings in the CNN); got {self.pixels}")
        if self.pixel_size <= 0:
            raise ConfigError(f"images.pixel_size must be positive; got {self.pixel_size}")


@dataclass
class SubstructureSettings:
    """N-subjettiness (:mod:`nis.jetimages.substructure`); R is generation.jet_radius."""

    beta: float = 1.0  #: angular exponent of tau_N

    def __post_init__(self):
        if self.beta <= 0:
            raise ConfigError(f"substructure.beta must be positive; got {self.beta}")


@dataclass
class DecorrelationSettings:
    """Reweighting to equal (mass, tau21) distributions (:mod:`nis.jetimages.decorrelate`)."""

    mass_bins: int = 20  #: quantile bins in the jet mass
    tau21_bins: int = 20  #: quantile bins in tau21
    target: str = "overlap"  #: signal, background or overlap: the common (mass, tau21) distribution

    def __post_init__(self):
        if self.mass_bins < 1 or self.tau21_bins < 1:
            raise ConfigError(f"decorrelation.mass_bins and tau21_bins must be positive; got {self.mass_bins}, {self.tau21_bins}")
        if self.target not in TARGETS:
            raise ConfigError(f"decorrelation.target must be one of {', '.join(TARGETS)}; got {self.target!r}")


@dataclass
class EvaluationSettings:
    """The split of the jets and what is evaluated."""

    test_fraction: float = 0.3  #: share of each class held out as the test set of every classifier
    seed: int = 1  #: the train/test split
    jets: int = 0  #: use at most this many jets per class; 0: all in the files
    mass_step: float = 2.0  #: GeV between the window ends of the mass-window scan (0 to 300 GeV)

    def __post_init__(self):
        if not 0.0 < self.test_fraction < 1.0:
            raise ConfigError(f"evaluation.test_fraction must lie in (0, 1); got {self.test_fraction}")
        if self.jets < 0:
            raise ConfigError(f"evaluation.jets must not be negative; got {self.jets}")
        if self.mass_step <= 0:
            raise ConfigError(f"evaluation.mass_step must be positive; got {self.mass_step}")


@dataclass
class JetImagesConfig:
    data_dir: str = "jetimages-data"  #: the jet files: DATA_DIR/signal.h5 and DATA_DIR/background.h5
    generation: GenerationSettings = field(default_factory=GenerationSettings)
    images: ImageSettings = field(default_factory=ImageSettings)
    substructure: SubstructureSettings = field(default_factory=SubstructureSettings)
    cnn: CNNSettings = field(default_factory=CNNSettings)
    mlp: MLPSettings = field(default_factory=MLPSettings)
    decorrelation: DecorrelationSettings = field(default_factory=DecorrelationSettings)
    evaluation: EvaluationSettings = field(default_factory=EvaluationSettings)

    def jet_file(self, label: str, data_dir: str | Path | None = None) -> Path:
        """``DATA_DIR/<label>.h5`` (signal or background)."""
        return Path(data_dir if data_dir is not None else self.data_dir) / f"{label}.h5"


def load_jetimages_config(path: str | Path) -> JetImagesConfig:
    """Read and check a YAML jet-images configuration."""
    return load_yaml(path, JetImagesConfig)
