"""One member of an LHAPDF6 set as a torch module: x*f(x, Q^2) for batches, on any device.

:class:`GridPDF` ties together the grid tables (:class:`nis.pdf.interpolate.LogBicubic`), the
out-of-grid behaviour (:class:`nis.pdf.extrapolate.Extrapolator`) and alpha_s
(:class:`nis.pdf.alphas.AlphaSIpol`). All three keep their data in buffers, so ``pdf.to(device)``,
``pdf.to(torch.float32)`` and ``state_dict`` work as for any module; the set's name, member,
flavours and grid limits are plain attributes. Evaluation has no Python loop over points and no
host synchronisation: it is safe inside a CUDA training or sampling loop.
"""

from __future__ import annotations

import torch
from torch import nn

from .alphas import AlphaSIpol
from .errors import PDFError, PDFFormatError, UnknownFlavourError
from .extrapolate import Extrapolator
from .interpolate import LogBicubic
from .lhagrid import MemberGrid

LOGCUBIC_NAMES = ("logcubic", "logbicubic", "log")


def _canonical_pid(pid) -> int:
    """The PDG id as an int, 0 mapped to the gluon 21 (LHAPDF's alias)."""
    if isinstance(pid, bool) or not isinstance(pid, int):
        try:
            as_int = int(pid)
        except (TypeError, ValueError):
            as_int = None
        if as_int is None or as_int != pid:
            raise UnknownFlavourError(f"flavour {pid!r} is not a PDG id; pass an int such as 21 (gluon) or 2 (u)")
        pid = as_int
    return 21 if pid == 0 else pid  # LHAPDF: 0 is an alias of the gluon


class GridPDF(nn.Module):
    """x*f(x, Q^2) of one set member, interpolated as LHAPDF does (log-bicubic, per Q subgrid).

    Build it with :func:`nis.pdf.load_pdf`. Inputs are tensors (or numbers) of any broadcastable
    shape on the module's device; results are in the module's dtype (float64 unless converted).
    ``chunk_size`` bounds the points evaluated at once (default None: 2^16 on the CPU, 2^18 on a
    GPU; the working memory is at most about 150 bytes per point and flavour in float64).
    """

    def __init__(self, grid: MemberGrid, name: str, member: int, extrapolator: str | None = None):
        super().__init__()
        meta = grid.metadata
        ipol = str(meta.get("Interpolator", "logcubic")).strip().lower()
        if ipol not in LOGCUBIC_NAMES:
            raise PDFFormatError(f"set {name!r} asks for Interpolator {meta.get('Interpolator')!r}; only LHAPDF's "
                                 f"log-bicubic ({', '.join(LOGCUBIC_NAMES)}), LHAPDF's default, is implemented: "
                                 "use load_pdf(..., backend='lhapdf') for this set")
        force = int(meta.get("ForcePositive", 0))
        if force not in (0, 1, 2):
            raise PDFFormatError(f"set {name!r}: ForcePositive must be 0, 1 or 2, got {meta.get('ForcePositive')!r}")
        self.name, self.member, self.metadata = name, int(member), dict(meta)
        self.flavours: tuple[int, ...] = tuple(int(p) for p in grid.pids)
        self.force_positive = force
        self.chunk_size: int | None = None
        #: None: sync-free evaluation on GPUs, compacting the out-of-grid points on the CPU
        self.sync_free: bool | None = None
        self.interpolator = LogBicubic(grid.x, grid.q2, grid.xf)
        self.extrapolator = Extrapolator(self.interpolator, extrapolator or meta.get("Extrapolator", "continuation"))
        self.alphas = None
        if str(meta.get("AlphaS_Type", "")).lower() == "ipol" and "AlphaS_Qs" in meta and "AlphaS_Vals" in meta:
            self.alphas = AlphaSIpol(meta["AlphaS_Qs"], meta["AlphaS_Vals"])
        self.register_buffer("pids", torch.tensor(self.flavours, dtype=torch.long))
        self._column = {pid: i for i, pid in enumerate(self.flavours)}

    # -- grid facts (host constants: reading them never synchronises) ---------------------------
    @property
    def x_min(self) -> float:
        """Smallest x knot."""
        return self.extrapolator.x_min

    @property
    def x_max(self) -> float:
        """Largest x knot."""
        return self.extrapolator.x_max

    @property
    def q2_min(self) -> float:
        """Smallest Q^2 knot, GeV^2."""
        return self.extrapolator.q2_min

    @property
    def q2_max(self) -> float:
        """Largest Q^2 knot, GeV^2."""
        return self.extrapolator.q2_max

    @property
    def extrapolation(self) -> str:
        """What happens outside the grid: ``continuation``, ``nearest`` or ``error``."""
        return self.extrapolator.mode

    @property
    def device(self) -> torch.device:
        return self.interpolator.xf.device

    @property
    def dtype(self) -> torch.dtype:
        return self.interpolator.xf.dtype

    def flavour_index(self, pid: int) -> int:
        """Column of PDG id ``pid`` in :meth:`xfxQ2_all` (0 means the gluon, 21)."""
        p = _canonical_pid(pid)
        if p not in self._column:
            raise UnknownFlavourError(f"flavour {pid!r} is not in set {self.name!r}, which has PDG ids "
                                      f"{list(self.flavours)} (0 or 21 = gluon); LHAPDF would return 0 for it, "
                                      "ask for one of these instead")
        return self._column[p]

    # -- evaluation -----------------------------------------------------------------------------
    def _tensor(self, label: str, v) -> torch.Tensor:
        """``v`` as a tensor of the module's dtype on its device (a Python number is filled in on
        the device, so it costs no host-to-device copy; a tensor must already be there)."""
        dev, dt = self.device, self.dtype
        if isinstance(v, torch.Tensor):
            if v.device != dev:
                raise PDFError(f"{label} is on {v.device} but PDF {self.name!r} is on {dev}; move the PDF with "
                               f"pdf.to({str(v.device)!r}) or the tensor with .to({str(dev)!r})")
            if v.is_complex() or v.dtype == torch.bool:
                raise PDFError(f"{label} must be a real tensor, got dtype {v.dtype}")
            return v.to(dt)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return torch.full((), float(v), dtype=dt, device=dev)
        try:
            return torch.as_tensor(v, dtype=dt, device=dev)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise PDFError(f"{label} must be a tensor or numbers, got {type(v).__name__} ({exc})") from exc

    def _inputs(self, x, q2) -> tuple[torch.Tensor, torch.Tensor, torch.Size]:
        xt, qt = self._tensor("x", x), self._tensor("q2", q2)
        try:
            xb, qb = torch.broadcast_tensors(xt, qt)
        except RuntimeError:
            raise PDFError(f"x of shape {tuple(xt.shape)} and q2 of shape {tuple(qt.shape)} do not "
                           "broadcast; pass matching shapes") from None
        return xb.reshape(-1), qb.reshape(-1), xb.shape

    def _evaluate(self, x, q2, column: int | None) -> torch.Tensor:
        n, cpu = x.shape[0], x.device.type == "cpu"
        cs = int(self.chunk_size or (1 << 16 if cpu else 1 << 18))
        sync_free = (not cpu) if self.sync_free is None else bool(self.sync_free)
        if n <= cs:
            out = self.extrapolator(self.interpolator, x, q2, column, sync_free)
        else:
            out = torch.cat([self.extrapolator(self.interpolator, xc, qc, column, sync_free)
                             for xc, qc in zip(x.split(cs), q2.split(cs))])
        if self.force_positive == 1:
            out = out.clamp(min=0.0)
        elif self.force_positive == 2:
            out = out.clamp(min=1e-10)
        return out

    def xfxQ2(self, pid: int, x, q2) -> torch.Tensor:
        """x*f for one flavour. pid: PDG id (0 or 21: gluon); x, q2 (GeV^2): broadcastable shapes.

        Returns the broadcast shape. A flavour the set lacks raises :class:`UnknownFlavourError`
        (LHAPDF returns 0). Outside the grid: see :mod:`nis.pdf.extrapolate`.
        """
        column = self.flavour_index(pid)
        xf, qf, shape = self._inputs(x, q2)
        return self._evaluate(xf, qf, column).reshape(shape)

    def xfxQ2_all(self, x, q2) -> torch.Tensor:
        """x*f for every flavour of the set at once (one interpolation): shape (*broadcast shape,
        n_flavours), columns in the order of :attr:`flavours` (see :meth:`flavour_index`)."""
        xf, qf, shape = self._inputs(x, q2)
        return self._evaluate(xf, qf, None).reshape(*shape, len(self.flavours))

    def forward(self, x, q2) -> torch.Tensor:
        """Same as :meth:`xfxQ2_all`."""
        return self.xfxQ2_all(x, q2)

    def alphas_q2(self, q2) -> torch.Tensor:
        """alpha_s(Q^2) from the set's ``ipol`` table; q2 in GeV^2, any shape."""
        if self.alphas is None:
            kind = self.metadata.get("AlphaS_Type")
            raise PDFError(f"set {self.name!r} has AlphaS_Type {kind!r} without an AlphaS_Qs/AlphaS_Vals table; only "
                           "'ipol' tables are implemented: use LHAPDF, or a running coupling of your own")
        return self.alphas(self._tensor("q2", q2))

    def in_range(self, x, q2) -> torch.Tensor:
        """Bool tensor: True where (x, q2) lies inside the grid (interpolated, not extrapolated)."""
        xf, qf, shape = self._inputs(x, q2)
        inside = (xf >= self.x_min) & (xf <= self.x_max) & (qf >= self.q2_min) & (qf <= self.q2_max)
        return inside.reshape(shape)

    def check_range(self, x, q2) -> None:
        """Raise :class:`PDFError` if any point lies outside the grid (synchronises: call it outside
        hot loops, e.g. to reproduce LHAPDF's ``error`` extrapolator)."""
        inside = self.in_range(x, q2)
        if not bool(inside.all()):
            bad = int((~inside).sum())
            raise PDFError(f"{bad} of {inside.numel()} points lie outside the grid of {self.name!r}: x in "
                           f"[{self.x_min:g}, {self.x_max:g}], Q^2 in [{self.q2_min:g}, {self.q2_max:g}] GeV^2")

    def extra_repr(self) -> str:
        return (f"name={self.name!r}, member={self.member}, flavours={list(self.flavours)}, x=[{self.x_min:g}, "
                f"{self.x_max:g}], q2=[{self.q2_min:g}, {self.q2_max:g}] GeV^2, extrapolation={self.extrapolation!r}")
