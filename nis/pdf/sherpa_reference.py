"""Sherpa's own PDF values, for validation and benchmarks: the code path of a Sherpa run.

Sherpa (PyPI's ``sherpa-mc``, 3.x) reads its default NNPDF sets with ``NNPDFDriver`` (shipped in
``libNNPDFSherpa``; its header is installed as ``PDF/NNPDF/NNPDFDriver.h``), and Sherpa's
``PDF_NNPDF::GetXPDF`` returns ``NNPDFDriver::xfx(x, Q^2, pid + 6)`` (gluon: 6). Sherpa's Python
bindings do not expose PDFs, so :class:`SherpaNNPDF` compiles a ten-line C shim against the
installed header and libraries (about a second, cached) and calls that same function through
ctypes, one C++ call per point and flavour, as Sherpa does.

Note that ``NNPDFDriver`` does *not* interpolate as LHAPDF does: it uses 4x4-point polynomial
(Neville) interpolation in (log x, log Q^2), switching to linear x above x = 0.1, so its values
differ from LHAPDF's (and :mod:`nis.pdf`'s) log-bicubic Hermite by up to about 1e-3 relative in
the bulk of the grid; tests/test_pdf.py measures it. Outside the grid it freezes x and Q^2 at the
edges (and prints a line per call).

The driver calls ``exit()`` on a missing set and loops forever on a missing member file, so
everything it would read is checked here first.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np

from .errors import PDFError, PDFMemberError, PDFSetNotFoundError
from .lhagrid import read_info
from .locate import member_file

#: the sets Sherpa's NNPDF interface knows (PDF/NNPDF/PDF_NN.C)
SHERPA_NNPDF_SETS = ("NNPDF30_nlo_as_0118", "NNPDF30_nnlo_as_0118", "NNPDF31_nnlo_as_0118_mc")

SHIM = r"""
#include "PDF/NNPDF/NNPDFDriver.h"
#include <cstdint>
extern "C" {
void* nis_nnpdf_new(const char* set_dir, int member) { return new NNPDFDriver(set_dir, member); }
void nis_nnpdf_free(void* h) { delete static_cast<NNPDFDriver*>(h); }
// out[i * n_ids + k] = xfx(x[i], q2[i], ids[k]): one driver call per point and flavour, as Sherpa.
void nis_nnpdf_xfx(void* h, int64_t n, const double* x, const double* q2, int n_ids, const int* ids, double* out) {
  NNPDFDriver* d = static_cast<NNPDFDriver*>(h);
  for (int64_t i = 0; i < n; ++i)
    for (int k = 0; k < n_ids; ++k) out[i * n_ids + k] = d->xfx(x[i], q2[i], ids[k]);
}
}
"""


def _sherpa_install():
    """Where Sherpa is (:mod:`nis.bridge.sherpa_install`), imported only when a reference is asked for."""
    from nis.bridge import sherpa_install

    return sherpa_install


def unavailable_reason() -> str | None:
    """None when the Sherpa reference can be built here, else why not (for skip messages)."""
    try:
        si = _sherpa_install()
    except (OSError, ImportError) as exc:
        return f"cannot import nis.bridge.sherpa_install ({exc})"
    prefix = si.sherpa_prefix()
    if prefix is None:
        return f"Sherpa is not installed for this Python ({si.SETUP_HINT})"
    if not (Path(prefix) / "include" / "SHERPA-MC" / "PDF" / "NNPDF" / "NNPDFDriver.h").is_file():
        return f"Sherpa at {prefix} has no PDF/NNPDF/NNPDFDriver.h (built without its NNPDF interface?)"
    if not (Path(prefix) / "lib" / "SHERPA-MC" / "libNNPDFSherpa.so").exists():
        return f"Sherpa at {prefix} has no lib/SHERPA-MC/libNNPDFSherpa.so"
    if _compiler() is None:
        return "no C++ compiler ($CXX, c++ or g++) to build the Sherpa PDF shim"
    return None


def _compiler() -> str | None:
    for c in (os.environ.get("CXX"), "c++", "g++"):
        if c and shutil.which(c):
            return shutil.which(c)
    return None


def sherpa_set_dir(name: str = "NNPDF31_nnlo_as_0118_mc") -> Path | None:
    """The copy of ``name`` that a Sherpa run reads (``<prefix>/share/SHERPA-MC/<name>``), if present."""
    prefix = _sherpa_install().sherpa_prefix()
    d = Path(prefix) / "share" / "SHERPA-MC" / name if prefix else None
    return d if d is not None and (d / f"{name}.info").is_file() else None


def build_shim(build_dir: str | Path | None = None) -> Path:
    """Compile the shim (once per Sherpa install and source) and return the shared library's path."""
    reason = unavailable_reason()
    if reason:
        raise PDFError(f"cannot build Sherpa's PDF reference: {reason}")
    si = _sherpa_install()
    prefix = Path(si.sherpa_prefix())
    libdir = prefix / "lib" / "SHERPA-MC"
    key = hashlib.sha256((SHIM + str(prefix)).encode()).hexdigest()[:16]
    root = Path(build_dir) if build_dir else Path(os.environ.get("XDG_CACHE_HOME", "~/.cache")).expanduser() / "nis"
    out = root / f"libnis_sherpa_nnpdf_{key}.so"
    if out.exists():
        return out
    root.mkdir(parents=True, exist_ok=True)
    src = root / f"nis_sherpa_nnpdf_{key}.cc"
    src.write_text(SHIM)
    tmp = out.with_suffix(f".{os.getpid()}.tmp")
    libs = ["-lNNPDFSherpa"] + [f"-l{n}" for n in si.sherpa_libraries(str(prefix))]
    cmd = [_compiler(), "-O2", "-std=c++17", "-shared", "-fPIC", str(src), f"-I{prefix / 'include' / 'SHERPA-MC'}",
           f"-L{libdir}", "-Wl,--no-as-needed", *libs, f"-Wl,-rpath,{libdir}", "-o", str(tmp)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    if proc.returncode != 0:
        raise PDFError(f"compiling the Sherpa PDF shim failed ({' '.join(cmd)}):\n{proc.stderr[-2000:]}")
    os.replace(tmp, out)  # atomic: a concurrent build never sees a half-written library
    return out


class SherpaNNPDF:
    """Sherpa's ``NNPDFDriver`` for one member of an NNPDF set, called point by point in C++.

    set_dir: the set directory (default: Sherpa's own installed copy of ``name``). Values are
    x*f as Sherpa's ``PDF_NNPDF::GetXPDF`` returns them (PDG ids; 0 or 21: gluon).
    """

    def __init__(self, name: str = "NNPDF31_nnlo_as_0118_mc", member: int = 0, set_dir: str | Path | None = None,
                 build_dir: str | Path | None = None):
        if name not in SHERPA_NNPDF_SETS:
            raise PDFError(f"Sherpa's NNPDF interface knows only {SHERPA_NNPDF_SETS}, not {name!r}")
        d = Path(set_dir) if set_dir else sherpa_set_dir(name)
        if d is None or not (d / f"{d.name}.info").is_file():
            raise PDFSetNotFoundError(f"no copy of {name!r} for Sherpa's NNPDFDriver (looked in {d})", (str(d),))
        info = read_info(d)
        if abs(float(info.metadata.get("XMin", 0.0)) - 1e-9) > 1e-10:
            raise PDFError(f"{d}: NNPDFDriver accepts only sets with XMin = 1e-9 (it exits otherwise)")
        if not member_file(d, member).is_file():
            raise PDFMemberError(f"{member_file(d, member)} does not exist (NNPDFDriver would hang on it)")
        lib = ctypes.CDLL(str(build_shim(build_dir)))
        lib.nis_nnpdf_new.restype = ctypes.c_void_p
        lib.nis_nnpdf_new.argtypes = [ctypes.c_char_p, ctypes.c_int]
        lib.nis_nnpdf_free.argtypes = [ctypes.c_void_p]
        lib.nis_nnpdf_xfx.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int,
                                      ctypes.c_void_p, ctypes.c_void_p]
        self._lib = lib
        self._handle = lib.nis_nnpdf_new(str(d).encode(), int(member))
        self.set_dir, self.member = d, int(member)
        self.flavours = tuple(int(p) for p in info.metadata["Flavors"])

    def __del__(self):
        handle, self._handle = getattr(self, "_handle", None), None
        if handle:
            self._lib.nis_nnpdf_free(handle)

    def xfxQ2(self, pids, x, q2) -> np.ndarray:
        """x*f from Sherpa's driver. pids: one PDG id or a list; x, q2: 1-d float64 arrays of equal
        length, inside the grid. Returns shape (n,) for one id, (n, len(pids)) for a list."""
        single = np.ndim(pids) == 0
        ids = np.array([6 if p in (0, 21) else p + 6 for p in np.atleast_1d(pids)], dtype=np.int32)
        xs = np.ascontiguousarray(x, dtype=np.float64)
        qs = np.ascontiguousarray(q2, dtype=np.float64)
        if xs.shape != qs.shape or xs.ndim != 1:
            raise PDFError(f"x and q2 must be 1-d arrays of equal length, got shapes {xs.shape} and {qs.shape}")
        out = np.empty((len(xs), len(ids)))
        self._lib.nis_nnpdf_xfx(self._handle, len(xs), xs.ctypes.data, qs.ctypes.data, len(ids), ids.ctypes.data,
                                out.ctypes.data)
        return out[:, 0] if single else out
