"""Matrix elements |M|^2 from C++ for batches of momenta: built-in providers and provider libraries.

>>> from nis.bridge import MatrixElement
>>> me = MatrixElement("e+ e- -> mu+ mu-", parameters={"alpha": 1 / 132.507})  # doctest: +SKIP
>>> me(momenta)  # momenta: float64, shape (n_events, 4, 4), (E, px, py, pz), GeV  # doctest: +SKIP

``library=PATH`` loads a provider from a shared library that exports ``nis_provider_create``
(``cpp/include/nis/matrix_element.h``; a C example: :func:`example_library`). Every failure is a
:class:`BridgeError` (a ``ValueError``) whose ``code`` is the status name. See ``cpp/README.md``.
"""

from __future__ import annotations

from .errors import STATUS_NAMES, BridgeError

try:
    from .. import _bridge
except ImportError as exc:  # pragma: no cover - depends on the build
    raise ImportError(
        "nis._bridge, the compiled matrix-element bridge, is not built or does not load "
        f"({exc}); build it with `pip install -e .` (needs a C++17 compiler and pybind11)"
    ) from exc

from .library import example_library
from .matrix_element import MatrixElement, ProcessInfo, parse_parameters, parse_process

ABI_VERSION: int = _bridge.ABI_VERSION


def provider_names() -> list[str]:
    """Names of the built-in providers compiled into the bridge, sorted."""
    return list(_bridge.provider_names())


def sm_defaults() -> dict[str, float]:
    """The built-in providers' Standard-Model parameters where a run sets none (alpha, alpha_s, ...)."""
    return dict(_bridge.sm_defaults())


def particle_names() -> list[str]:
    """The particle names a process string may use (``e-``, ``e+``, ..., ``g``, ``a``, ``z``, ...)."""
    return list(_bridge.particle_names())


__all__ = [
    "ABI_VERSION",
    "STATUS_NAMES",
    "BridgeError",
    "MatrixElement",
    "ProcessInfo",
    "example_library",
    "parse_parameters",
    "parse_process",
    "particle_names",
    "provider_names",
    "sm_defaults",
]
