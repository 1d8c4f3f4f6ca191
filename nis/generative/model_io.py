"""Model files of :mod:`nis.generative`: one ``torch.save`` dict per trained model.

``{"format": "nis-generative", "nis_version", "kind", "settings", "state_dict", "extra"}``:
``kind`` names the model class (``inn``, ``discflow``, ``binn``, ``mmdgan``), ``settings`` the
configuration it was built from (enough to rebuild it before loading ``state_dict``), ``extra``
anything else the model needs (preprocessing constants, training history). A file of another
format, nis version or kind is refused with the difference named.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

import nis

FORMAT = "nis-generative"

__all__ = ["ModelFileError", "save_model", "load_model_file"]


class ModelFileError(ValueError):
    """A model file that is missing, not a nis model, or from another nis version or kind."""


def save_model(path: str | Path, kind: str, state_dict: dict, settings: dict, extra: dict | None = None) -> Path:
    """Write a model file (atomically: a temporary name, then renamed); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(
        {
            "format": FORMAT,
            "nis_version": nis.__version__,
            "kind": kind,
            "settings": settings,
            "state_dict": state_dict,
            "extra": extra or {},
        },
        tmp,
    )
    os.replace(tmp, path)
    return path


def load_model_file(path: str | Path, kinds: tuple[str, ...] | None = None) -> dict:
    """The dict :func:`save_model` wrote; ``kinds``: the kinds the caller can rebuild."""
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"{path}: no such model file (train one with nis generative train CONFIG)")
    try:
        data = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same message
        raise ModelFileError(f"{path}: not a nis model file ({type(exc).__name__}: {exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not a nis generative model file")
    if data.get("nis_version") != nis.__version__:
        raise ModelFileError(
            f"{path}: written by nis {data.get('nis_version')}, this is nis {nis.__version__}; retrain it"
            " (nis generative train CONFIG) with this version"
        )
    if kinds is not None and data.get("kind") not in kinds:
        raise ModelFileError(f"{path}: a {data.get('kind')!r} model, expected one of {list(kinds)}")
    return data
