"""The torch device a user names (``--device``, a config's ``device``), checked before any work.

``torch.device("cuda:7")`` is accepted anywhere; the failure comes later, deep in the first
allocation, as an AssertionError on a CPU build of torch or a CUDA error on a machine with fewer
GPUs. :func:`torch_device` says what is wrong at once, as a ValueError the commands report.
"""

from __future__ import annotations

import torch

__all__ = ["torch_device"]


def torch_device(name: str | torch.device) -> torch.device:
    """``name`` as a :class:`torch.device` that exists here; ValueError naming the problem otherwise."""
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device {name!r} is not a torch device (cpu, cuda, cuda:1, ...): {exc}") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {name!r}: torch {torch.__version__} sees no CUDA GPU here; use cpu")
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise ValueError(f"device {name!r}: torch sees {count} CUDA GPU(s) here, cuda:0 to cuda:{count - 1}")
    elif device.type != "cpu":
        raise ValueError(f"device {name!r}: nis runs on cpu or cuda")
    return device
