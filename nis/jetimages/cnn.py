"""A convolutional classifier of jet images: P(signal | image).

:class:`JetImageCNN` reads (N, P, P) images (:mod:`nis.jetimages.images`; P = 25 by default),
multiplied by one constant fitted on the training images (1 / their pixel standard deviation,
stored in the model), through three blocks of convolution + ReLU + 2x2 max pooling (channels
``channels``; kernel 5 then 3, 'same' padding: 25 -> 12 -> 6 -> 3) and a dense layer of width
``dense`` (with dropout) to one logit.

:func:`train_cnn` minimises the binary cross entropy with per-jet weights, each class's weights
scaled to the same total (balanced classes; with the weights of :mod:`nis.jetimages.decorrelate`
the CNN learns on the reweighted sample), Adam, a held-out validation share of the training jets,
and keeps the state of the epoch with the lowest weighted validation loss. :func:`save_cnn` /
:func:`load_cnn` use the nis model-file format (:mod:`nis.generative.model_io`: refused from
another nis version). Images of another size raise a ValueError naming both shapes.
"""

from __future__ import annotations

import typing
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from nis.classifier import fit_binary_classifier
from nis.generative.model_io import load_model_file, save_model
from nis.jetimages.images import PIXELS, check_image_shape, check_images

__all__ = ["CNNSettings", "JetImageCNN", "balanced_weights", "fit_classifier", "train_cnn", "predict", "save_cnn", "load_cnn"]

KIND = "jetimage-cnn"


@dataclass
class ClassifierTraining:
    """How :func:`fit_classifier` trains a classifier; the CNN's and the (mass, tau_21) MLP's settings
    extend it (each with its own defaults)."""

    section: typing.ClassVar[str] = "classifier"  # the config section, for messages

    epochs: int = 15  #: passes over the training jets
    batch_size: int = 128  #: jets per step
    learning_rate: float = 1e-3  #: Adam's step size (cosine decay to 5% of it)
    weight_decay: float = 0.0  #: Adam's L2 penalty
    validation_fraction: float = 0.2  #: share of the training jets held out to choose the best epoch
    seed: int = 1  #: initialisation, split and batch order

    def check_positive(self, *names: str) -> None:
        """ConfigError naming the first of ``names`` (and the training sizes) that is not positive,
        or a validation share outside (0, 1)."""
        from nis.config import ConfigError

        for name in names + ("epochs", "batch_size", "learning_rate"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{self.section}.{name} must be positive; got {getattr(self, name)}")
        if not 0.0 < self.validation_fraction < 1.0:
            raise ConfigError(
                f"{self.section}.validation_fraction must lie in (0, 1); got {self.validation_fraction}"
            )


@dataclass
class CNNSettings(ClassifierTraining):
    """The network and its training."""

    section: typing.ClassVar[str] = "cnn"

    channels: list = field(default_factory=lambda: [16, 32, 32])  #: output channels of the three conv blocks
    dense: int = 64  #: width of the dense layer
    dropout: float = 0.2  #: dropout before the last layer

    def __post_init__(self):
        from nis.config import ConfigError

        if not (isinstance(self.channels, list) and len(self.channels) == 3
                and all(isinstance(c, int) and c > 0 for c in self.channels)):
            raise ConfigError(f"cnn.channels must be three positive whole numbers; got {self.channels!r}")
        self.check_positive("dense")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"cnn.dropout must lie in [0, 1); got {self.dropout}")


class JetImageCNN(nn.Module):
    """Images (N, P, P) or (N, 1, P, P) -> signal logits (N,); see the module docstring."""

    def __init__(self, settings: CNNSettings | None = None, pixels: int = PIXELS) -> None:
        super().__init__()
        self.settings = settings or CNNSettings()
        self.pixels = int(pixels)
        c1, c2, c3 = self.settings.channels
        self.features = nn.Sequential(
            nn.Conv2d(1, c1, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c2, c3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )
        side = self.pixels // 8
        if side < 1:
            raise ValueError(f"jet images of {pixels} x {pixels} pixels are too small for three 2x2 poolings (need >= 8)")
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(c3 * side * side, self.settings.dense), nn.ReLU(),
            nn.Dropout(self.settings.dropout), nn.Linear(self.settings.dense, 1),
        )
        self.register_buffer("scale", torch.ones(()))

    def check(self, images) -> None:
        """A ValueError naming the expected and received shapes unless images are (N, P, P) of this P."""
        check_image_shape(images.shape, self.pixels)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        self.check(images)
        x = images.reshape(-1, 1, self.pixels, self.pixels) * self.scale
        return self.head(self.features(x)).squeeze(1)


def balanced_weights(labels: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Per-jet weights with each class's total scaled to half the number of jets (mean weight 1)."""
    labels = np.asarray(labels).astype(bool)
    w = np.ones(len(labels)) if weights is None else np.asarray(weights, dtype=np.float64).copy()
    for cls in (True, False):
        total = w[labels == cls].sum()
        if total > 0:
            w[labels == cls] *= 0.5 * len(labels) / total
    return w


def fit_classifier(
    model: nn.Module, inputs: np.ndarray, labels: np.ndarray, weights: np.ndarray | None, s: ClassifierTraining,
    progress: bool = False,
    desc: str = "classifier",
) -> list[dict]:
    """Train ``model`` (inputs -> logits (N,)) in place with weighted binary cross entropy
    (:func:`nis.classifier.fit_binary_classifier`): classes balanced by :func:`balanced_weights`,
    Adam with cosine decay to 5% of the step size, a validation share, keep-best.

    ``s``: :class:`ClassifierTraining` (:class:`CNNSettings`,
    :class:`nis.jetimages.baselines.MLPSettings`). Jets of weight 0
    are left out. Leaves the model in its best validation state, eval mode; returns the history.
    """
    torch.manual_seed(s.seed)  # dropout
    return fit_binary_classifier(
        model, model, torch.as_tensor(np.asarray(inputs, dtype=np.float32)),
        torch.as_tensor(np.asarray(labels).astype(np.float32)),
        torch.as_tensor(balanced_weights(labels, weights).astype(np.float32)),
        epochs=s.epochs, batch_size=s.batch_size, learning_rate=s.learning_rate, weight_decay=s.weight_decay,
        final_lr_fraction=0.05, validation_fraction=s.validation_fraction, seed=s.seed, progress=progress, desc=desc,
    )


def train_cnn(
    images: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None, settings: CNNSettings | None = None,
    progress: bool = False,
) -> tuple[JetImageCNN, list[dict]]:
    """Train a :class:`JetImageCNN` on images (N, P, P) with labels (N,) (1 = signal) and optional
    per-jet weights (:func:`fit_classifier`); returns the model in the state of its best
    validation epoch (eval mode) and the per-epoch history (train and validation loss, seconds)."""
    s = settings or CNNSettings()
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 3 or images.shape[1] != images.shape[2]:
        raise ValueError(f"jet images must have shape (N, P, P); got shape {images.shape}")
    model = JetImageCNN(s, images.shape[1])
    std = float(images.std())
    model.scale.fill_(1.0 / std if std > 0 else 1.0)
    history = fit_classifier(model, images, labels, weights, s, progress, "CNN")
    return model, history


def predict(model: JetImageCNN, images, batch_size: int = 2048) -> np.ndarray:
    """P(signal) of each image (N, P, P) -> (N,) numpy; a ValueError for images of another size."""
    x = torch.from_numpy(check_images(images, model.pixels))
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            out.append(torch.sigmoid(model(x[i:i + batch_size])))
    return torch.cat(out).numpy().astype(np.float64) if out else np.zeros(0)


def save_cnn(model: JetImageCNN, path: str | Path, extra: dict | None = None) -> Path:
    """Write the model (settings, image size, weights and ``extra``, e.g. the history) to ``path``."""
    settings = {"cnn": asdict(model.settings), "pixels": model.pixels}
    return save_model(path, KIND, model.state_dict(), settings, extra)


def load_cnn(path: str | Path) -> tuple[JetImageCNN, dict]:
    """The model :func:`save_cnn` wrote (eval mode) and its ``extra``; a
    :class:`nis.generative.model_io.ModelFileError` for another format, kind or nis version."""
    data = load_model_file(path, kinds=(KIND,))
    model = JetImageCNN(CNNSettings(**data["settings"]["cnn"]), data["settings"]["pixels"])
    model.load_state_dict(data["state_dict"])
    model.eval()
    return model, data["extra"]
