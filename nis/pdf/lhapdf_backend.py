"""The same API as :class:`nis.pdf.GridPDF`, answered by the ``lhapdf`` Python module itself.

For cross-checks against LHAPDF, or for sets this reader cannot interpolate (other interpolators,
alpha_s from an ODE). LHAPDF evaluates one point at a time on the CPU, so each call copies the
inputs to the host, loops in Python and copies back: far slower than :class:`GridPDF` and a host
synchronisation, never for a training loop. Chosen with ``load_pdf(..., backend="lhapdf")``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .errors import PDFError, PDFMemberError, PDFSetNotFoundError, UnknownFlavourError


class LHAPDFBackedPDF(nn.Module):
    """A PDF member evaluated by LHAPDF (``lhapdf.mkPDF(name, member)``)."""

    def __init__(self, name: str, member: int = 0, device=None, dtype: torch.dtype = torch.float64):
        super().__init__()
        import lhapdf

        if hasattr(lhapdf, "setVerbosity"):
            lhapdf.setVerbosity(0)
        try:
            self._pdf = lhapdf.mkPDF(name, int(member))
        except Exception as exc:
            text = str(exc)
            if "member" in text.lower() or "range" in text.lower():
                raise PDFMemberError(f"LHAPDF cannot load member {member} of {name!r}: {text}") from exc
            raise PDFSetNotFoundError(f"LHAPDF cannot load set {name!r}: {text}; install it with `lhapdf get {name}` "
                                      f"or add its directory to LHAPDF_DATA_PATH",
                                      tuple(str(p) for p in lhapdf.paths())) from exc
        self.name, self.member = name, int(member)
        self.flavours = tuple(int(p) for p in self._pdf.flavors())
        self._column = {p: i for i, p in enumerate(self.flavours)}
        self.register_buffer("_anchor", torch.zeros((), dtype=dtype, device=device))

    x_min = property(lambda self: float(self._pdf.xMin), doc="Smallest x knot.")
    x_max = property(lambda self: float(self._pdf.xMax), doc="Largest x knot.")
    q2_min = property(lambda self: float(self._pdf.q2Min), doc="Smallest Q^2 knot, GeV^2.")
    q2_max = property(lambda self: float(self._pdf.q2Max), doc="Largest Q^2 knot, GeV^2.")

    @property
    def device(self) -> torch.device:
        return self._anchor.device

    @property
    def dtype(self) -> torch.dtype:
        return self._anchor.dtype

    def flavour_index(self, pid: int) -> int:
        p = 21 if int(pid) == 0 else int(pid)
        if p not in self._column:
            raise UnknownFlavourError(f"flavour {pid!r} is not in set {self.name!r}, which has PDG ids "
                                      f"{list(self.flavours)}; ask for one of these instead")
        return self._column[p]

    def _host(self, x, q2):
        xs, qs = (v.detach().cpu().double().numpy() if isinstance(v, torch.Tensor) else np.asarray(v, float)
                  for v in (x, q2))
        xs, qs = np.broadcast_arrays(xs, qs)
        return xs, qs

    def _back(self, a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(a, dtype=self.dtype, device=self.device)

    def xfxQ2(self, pid: int, x, q2) -> torch.Tensor:
        """x*f for one flavour, per point through LHAPDF (slow; see the module docstring)."""
        p = self.flavours[self.flavour_index(pid)]
        xs, qs = self._host(x, q2)
        out = np.array([self._pdf.xfxQ2(p, float(a), float(b)) for a, b in zip(xs.ravel(), qs.ravel())])
        return self._back(out.reshape(xs.shape))

    def xfxQ2_all(self, x, q2) -> torch.Tensor:
        """x*f for all flavours, shape (*broadcast shape, n_flavours), per point through LHAPDF."""
        xs, qs = self._host(x, q2)
        rows = [[self._pdf.xfxQ2(p, float(a), float(b)) for p in self.flavours] for a, b in zip(xs.ravel(), qs.ravel())]
        out = np.array(rows, dtype=np.float64).reshape(*xs.shape, len(self.flavours))
        return self._back(out)

    def forward(self, x, q2) -> torch.Tensor:
        return self.xfxQ2_all(x, q2)

    def alphas_q2(self, q2) -> torch.Tensor:
        """alpha_s(Q^2) as LHAPDF computes it for this set."""
        qs = q2.detach().cpu().double().numpy() if isinstance(q2, torch.Tensor) else np.asarray(q2, float)
        out = np.array([self._pdf.alphasQ2(float(v)) for v in qs.ravel()]).reshape(qs.shape)
        return self._back(out)

    def in_range(self, x, q2) -> torch.Tensor:
        xs, qs = self._host(x, q2)
        ok = (xs >= self.x_min) & (xs <= self.x_max) & (qs >= self.q2_min) & (qs <= self.q2_max)
        return torch.as_tensor(ok, device=self.device)

    def check_range(self, x, q2) -> None:
        inside = self.in_range(x, q2)
        if not bool(inside.all()):
            raise PDFError(f"{int((~inside).sum())} of {inside.numel()} points lie outside the grid of {self.name!r}")
