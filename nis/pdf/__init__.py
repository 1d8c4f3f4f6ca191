"""Parton densities from LHAPDF6 grids, evaluated in batches with torch on the CPU or the GPU.

>>> import torch
>>> from nis.pdf import load_pdf
>>> pdf = load_pdf("NNPDF31_nnlo_as_0118_mc", member=0, device="cpu")  # doctest: +SKIP
>>> x = torch.tensor([1e-3, 0.1], dtype=torch.float64)  # float64 inputs keep float64 accuracy  # doctest: +SKIP
>>> q2 = torch.full((2,), 1e4, dtype=torch.float64)  # GeV^2  # doctest: +SKIP
>>> pdf.xfxQ2(21, x, q2)              # x*g(x, Q^2), shape (2,)         # doctest: +SKIP
>>> pdf.xfxQ2_all(x, q2)              # every flavour, shape (2, 11)    # doctest: +SKIP
>>> pdf.alphas_q2(91.1876**2)      # alpha_s(M_Z^2) = 0.118           # doctest: +SKIP

Behaviour, as LHAPDF's (details in the submodules):

* where: :mod:`nis.pdf.locate` (``$LHAPDF_DATA_PATH``, ``$LHAPATH``, LHAPDF's own directories,
  Sherpa's copy); a set that is not found raises :class:`PDFSetNotFoundError` listing them all;
* reading: :mod:`nis.pdf.lhagrid` (``.info`` and ``lhagrid1`` member files); a member outside
  ``NumMembers`` or not installed raises :class:`PDFMemberError`;
* inside the grid: log-bicubic interpolation per Q subgrid, :mod:`nis.pdf.interpolate`;
* outside the grid (x < x_min, Q^2 outside [Q2_min, Q2_max]): the set's ``Extrapolator``,
  :mod:`nis.pdf.extrapolate`. ``continuation`` (LHAPDF's default) extends log-linearly in log x
  below x_min and in log Q^2 above Q2_max, and lets x*f fall to 0 as Q^2 -> 0 below Q2_min;
  ``nearest`` freezes at the grid edge; ``error`` gives NaN (LHAPDF raises; use
  :meth:`GridPDF.check_range` to raise). x > x_max under ``continuation``, and unphysical points
  (x < 0, x > 1, Q^2 < 0, NaN), give NaN where LHAPDF raises: raising would need a host sync;
* flavours: PDG ids, 0 is an alias of the gluon 21; asking :meth:`GridPDF.xfxQ2` for a flavour
  the set lacks raises :class:`UnknownFlavourError` naming the set's flavours (LHAPDF returns 0);
* alpha_s: the set's ``ipol`` table, :mod:`nis.pdf.alphas`.

Backends: ``"auto"`` (default) reads the set with this package (batched, any device, LHAPDF's
numbers to ~1e-14) and hands a set it cannot read (another ``Interpolator`` or ``Extrapolator``)
to the ``lhapdf`` Python module when that is installed; ``"lhapdf"`` always answers through the
module (it loops over points on the host: for cross-checks); ``"torch"`` never uses it.
"""

from __future__ import annotations

import importlib.util

import torch

from .errors import PDFError, PDFFormatError, PDFMemberError, PDFSetNotFoundError, UnknownFlavourError
from .grid import GridPDF
from .lhagrid import read_info, read_member
from .locate import available_sets, find_set, search_paths

BACKENDS = ("auto", "torch", "lhapdf")

__all__ = [
    "GridPDF",
    "PDFError",
    "PDFFormatError",
    "PDFMemberError",
    "PDFSetNotFoundError",
    "UnknownFlavourError",
    "available_sets",
    "find_set",
    "lhapdf_available",
    "load_pdf",
    "search_paths",
]


def lhapdf_available() -> bool:
    """Whether the ``lhapdf`` Python module is installed (needed only for ``backend="lhapdf"``)."""
    return importlib.util.find_spec("lhapdf") is not None


def load_pdf(name: str, member: int = 0, *, device=None, dtype: torch.dtype = torch.float64,
             extrapolator: str | None = None, backend: str = "auto") -> GridPDF:
    """Load member ``member`` of the LHAPDF6 set ``name`` (a set name, or a path to its directory).

    device, dtype: where the tables live and the dtype of the results (float64 or float32).
    extrapolator: override the set's ``Extrapolator`` (``continuation``, ``nearest``, ``error``).
    backend: ``"auto"`` (this package's reader; the ``lhapdf`` module for a set it cannot read,
    when installed), ``"torch"`` (this package's reader, batched, any device) or ``"lhapdf"``
    (the ``lhapdf`` module, point by point; for cross-checks).
    """
    if dtype not in (torch.float64, torch.float32):
        raise PDFError(f"dtype must be torch.float64 or torch.float32, got {dtype}")
    if backend not in BACKENDS:
        raise PDFError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "lhapdf":
        if not lhapdf_available():
            raise PDFError("backend='lhapdf' needs the lhapdf Python module, which is not installed; install LHAPDF "
                           "with its Python bindings, or use backend='torch' (same interpolation, no LHAPDF needed)")
        from .lhapdf_backend import LHAPDFBackedPDF

        return LHAPDFBackedPDF(name, member, device=device, dtype=dtype)
    info = read_info(find_set(name))
    grid = read_member(info, member)
    try:
        pdf = GridPDF(grid, info.name, member, extrapolator=extrapolator)
    except PDFFormatError:
        if backend == "torch" or not lhapdf_available():
            raise
        from .lhapdf_backend import LHAPDFBackedPDF

        return LHAPDFBackedPDF(name, member, device=device, dtype=dtype)
    return pdf.to(device=device, dtype=dtype)
