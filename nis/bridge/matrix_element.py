"""MatrixElement: |M|^2 for batches of numpy or torch momenta through the C++ bridge.

Input rules (say once, hold to them):

* momenta: float64, shape (n_events, n_particles, 4), (E, px, py, pz) in GeV, incoming first.
  A C-contiguous float64 numpy array or CPU torch tensor is read in place (no copy). A float64
  array that is not C-contiguous is copied once. Any other dtype (float32 included) is a
  :class:`BridgeError`: a silent cast would hide precision loss (float32 momenta do not conserve
  momentum to the bridge's 1e-9 tolerance).
* torch: the result is a float64 tensor on the input's device. CUDA (or any non-CPU) tensors are
  copied to the CPU for the C++ code and the result copied back: the bridge has no GPU kernels.
  Gradients are not tracked (|M|^2 is a constant weight to the flow).
* out: optional preallocated float64 output of shape (n_events,), numpy or torch; a C-contiguous
  float64 CPU array is written in place, anything else float64 of the right shape receives a copy.
* The bridge checks every batch before the provider sees it (finite values, four-momentum
  conservation within ``tolerance`` times the incoming energy) and releases the GIL while it
  evaluates; batches above a few thousand events are split over threads (``threads``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import _bridge
from .errors import BridgeError

BAD_MOMENTA = "NIS_ERR_BAD_MOMENTA"
BAD_PARAMETER = "NIS_ERR_BAD_PARAMETER"


@dataclass(frozen=True)
class ProcessInfo:
    """What a matrix element computes.

    ``average`` (1 / initial spin and colour states) is already applied to |M|^2;
    ``symmetry_factor`` (1 / prod n_k! over identical final-state particles) is not: the
    phase-space side applies it. ``order_qcd``/``order_qed``: powers of alpha_s/alpha in |M|^2.
    """

    name: str
    pdg_in: tuple[int, ...]
    pdg_out: tuple[int, ...]
    masses: tuple[float, ...]  # GeV, incoming first
    average: float
    order_qcd: int
    order_qed: int
    symmetry_factor: float
    n_particles: int

    @property
    def n_in(self) -> int:
        return len(self.pdg_in)

    @property
    def n_out(self) -> int:
        return len(self.pdg_out)


def parse_process(text: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """``"e+ e- -> mu+ mu-"`` -> PDG ids ``((-11, 11), (-13, 13))``; BridgeError for unknown names."""
    return _bridge.parse_process(text)


def parse_parameters(parameters: Mapping[str, float] | str | None) -> dict[str, float]:
    """``"alpha_s=0.118;mZ=91.19"`` or a mapping -> ``{name: float}``; BridgeError when malformed."""
    if parameters is None:
        return {}
    if isinstance(parameters, str):
        return dict(_bridge.parse_parameters(parameters))
    if not isinstance(parameters, Mapping):
        raise BridgeError(
            f"parameters must be a dict of name -> number or a 'name=value;...' string, got {type(parameters).__name__}",
            BAD_PARAMETER,
        )
    out: dict[str, float] = {}
    for name, value in parameters.items():
        if not isinstance(name, str) or not name:
            raise BridgeError(f"parameter name {name!r} is not a non-empty string", BAD_PARAMETER)
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise BridgeError(f"parameter '{name}' = {value!r} is not a number", BAD_PARAMETER) from None
        if not np.isfinite(number):
            raise BridgeError(f"parameter '{name}' = {value!r} is not a finite number", BAD_PARAMETER)
        out[name] = number
    return out


def _torch_tensor_type():
    torch = sys.modules.get("torch")  # a tensor can only exist when torch is imported
    return torch.Tensor if torch is not None else None


class MatrixElement:
    """|M|^2 of one process for batches of momenta, from a built-in provider or a provider library.

    process: e.g. ``"e+ e- -> mu+ mu-"`` (names: :func:`nis.bridge.particle_names`).
    parameters: ``{"alpha": 1/132.507, "mZ": 91.1876, ...}`` or ``"alpha=...;mZ=..."``; the
        provider rejects names it does not know.
    library: path of a shared library exporting ``nis_provider_create``; None for built-ins.
    threads: default worker threads for evaluation (None: automatic, serial below 4096 events).
    tolerance: momentum-conservation tolerance relative to the incoming energy (negative: off).
    """

    def __init__(
        self,
        process: str,
        parameters: Mapping[str, float] | str | None = None,
        library: str | os.PathLike | None = None,
        *,
        threads: int | None = None,
        tolerance: float = 1e-9,
    ):
        if not isinstance(process, str):
            raise BridgeError(f"process must be a string such as 'e+ e- -> mu+ mu-', got {process!r}",
                              "NIS_ERR_UNKNOWN_PROCESS")
        self.process = process
        self.parameters = parse_parameters(parameters)
        self.library = None if library is None else os.fspath(library)
        self.threads = _check_threads(threads)
        self.tolerance = float(tolerance)
        self._native = _bridge.MatrixElement(process, self.parameters, self.library)
        self.info = ProcessInfo(**self._native.info)

    def __repr__(self) -> str:
        where = f", library={self.library!r}" if self.library else ""
        return f"MatrixElement({self.info.name!r}{where})"

    def __reduce__(self):
        """Pickles as its construction arguments (the native object is rebuilt), e.g. for worker processes."""
        return (_rebuild, (self.process, self.parameters, self.library, self.threads, self.tolerance))

    def __call__(self, momenta: Any, out: Any = None) -> Any:
        """Same as :meth:`evaluate`."""
        return self.evaluate(momenta, out=out)

    def evaluate(self, momenta: Any, out: Any = None, threads: int | None = None) -> Any:
        """|M|^2 per event.

        momenta: float64, shape (n_events, n_particles, 4), numpy array or torch tensor.
        out: optional float64 output, shape (n_events,), numpy or torch.
        threads: worker threads for this call (None: the object's default).
        Returns shape (n_events,): ``out`` if given, else a numpy array for numpy input and a
        float64 tensor on the input's device for torch input.
        """
        threads = self.threads if threads is None else _check_threads(threads)
        tensor = _torch_tensor_type()
        if tensor is not None and isinstance(momenta, tensor):
            return self._evaluate_torch(momenta, out, threads)
        array = self._momenta_array(momenta)
        target, finish = _output(out, array.shape[0], None)
        self._native.evaluate(array, target, threads or 0, self.tolerance)
        return finish()

    def _evaluate_torch(self, momenta, out, threads):
        import torch

        if momenta.dtype != torch.float64:
            raise BridgeError(self._dtype_message(str(momenta.dtype).replace("torch.", ""), torch=True), BAD_MOMENTA)
        device = momenta.device
        host = momenta.detach()
        if host.device.type != "cpu":
            host = host.cpu()  # documented copy: the bridge runs on the CPU
        array = self._momenta_array(host.contiguous().numpy())
        target, finish = _output(out, array.shape[0], device)
        self._native.evaluate(array, target, threads or 0, self.tolerance)
        return finish()

    def _time_native(self, momenta: Any, repeats: int = 10, threads: int | None = None, checks: bool = True) -> float:
        """Seconds per call of the C++ loop alone (no Python), averaged over ``repeats`` calls.

        checks=True: what :meth:`evaluate` runs (checks, thread split); checks=False: the
        provider's own evaluate on one thread. For benchmarks: bridge overhead =
        (time of ``me(momenta)`` - native time) / native time.
        """
        tensor = _torch_tensor_type()
        if tensor is not None and isinstance(momenta, tensor):
            momenta = momenta.detach().cpu().contiguous().numpy()
        array = self._momenta_array(momenta)
        out = np.empty(array.shape[0])
        threads = self.threads if threads is None else _check_threads(threads)
        return self._native.time_native(array, out, max(int(repeats), 1), threads or 0, self.tolerance, bool(checks))

    def _dtype_message(self, dtype: str, torch: bool = False) -> str:
        fix = "tensor.double()" if torch else "array.astype(numpy.float64)"
        return (
            f"momenta must be float64, got {dtype}; convert with {fix} (float32 momenta do not conserve "
            f"four-momentum to the bridge's tolerance {self.tolerance:g})"
        )

    def _momenta_array(self, momenta: Any) -> np.ndarray:
        """The input as a C-contiguous float64 numpy array (a view when it already is one)."""
        array = momenta if isinstance(momenta, np.ndarray) else np.asarray(momenta)
        if array.dtype != np.float64:
            raise BridgeError(self._dtype_message(str(array.dtype)), BAD_MOMENTA)
        n = self.info.n_particles
        if array.ndim != 3 or array.shape[1:] != (n, 4):
            raise BridgeError(
                f"momenta for '{self.info.name}' must have shape (n_events, {n}, 4): {n} particles, incoming "
                f"first, each (E, px, py, pz) in GeV; got shape {tuple(array.shape)}",
                BAD_MOMENTA,
            )
        return np.ascontiguousarray(array)  # documented copy only when not C-contiguous


def _rebuild(process, parameters, library, threads, tolerance) -> MatrixElement:
    return MatrixElement(process, parameters, library, threads=threads, tolerance=tolerance)


def _check_threads(threads: int | None) -> int | None:
    if threads is None:
        return None
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 0:
        raise ValueError(f"threads must be None (automatic), 0 (automatic) or a positive int, got {threads!r}")
    return int(threads)


def _output(out: Any, n: int, device: Any):
    """(float64 C-contiguous numpy target of shape (n,), finish() returning the result)."""
    tensor = _torch_tensor_type()
    if out is None:
        if device is None:
            result = np.empty(n)
            return result, lambda: result
        import torch

        result = torch.empty(n, dtype=torch.float64)
        if device.type == "cpu":
            return result.numpy(), lambda: result
        return result.numpy(), lambda: result.to(device)
    if isinstance(out, np.ndarray):
        _check_out(out.dtype == np.float64, tuple(out.shape), n, str(out.dtype))
        if not out.flags.writeable:
            raise BridgeError("out is read-only; pass a writeable float64 array of shape (n_events,)", BAD_MOMENTA)
        if out.flags.c_contiguous:
            return out, lambda: out
        scratch = np.empty(n)

        def finish_numpy():
            out[...] = scratch
            return out

        return scratch, finish_numpy
    if tensor is not None and isinstance(out, tensor):
        import torch

        _check_out(out.dtype == torch.float64, tuple(out.shape), n, str(out.dtype))
        if out.device.type == "cpu" and out.is_contiguous() and not out.requires_grad:
            return out.numpy(), lambda: out
        scratch = np.empty(n)

        def finish_torch():
            with torch.no_grad():
                out.copy_(torch.from_numpy(scratch))
            return out

        return scratch, finish_torch
    raise BridgeError(f"out must be a numpy array or torch tensor of shape ({n},), got {type(out).__name__}",
                      BAD_MOMENTA)


def _check_out(is_float64: bool, shape: tuple, n: int, dtype: str) -> None:
    if not is_float64 or shape != (n,):
        raise BridgeError(f"out must be float64 with shape ({n},) (one |M|^2 per event), got {dtype} {shape}",
                          BAD_MOMENTA)
