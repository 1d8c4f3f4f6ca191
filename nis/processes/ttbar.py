"""p p -> t t~ -> b (W+ -> q q~') b~ (W- -> q q~') at leading order: six partons, Breit-Wigner
tops and Ws, integrated and unweighted by nis (the training data of :mod:`nis.generative.mmdgan`).

Config (``integrand:`` of a run config)::

    matrix_element: "p p -> t t~ -> b j j b~ j j"
    sqrt_s: 13000                      # GeV
    pdf: NNPDF31_nnlo_as_0118_mc       # LHAPDF6 set, member pdf_member (0)
    top: {mass: 173.0, width: 1.41}    # GeV
    w: {mass: 80.385, width: 2.085}    # GeV
    bw_cutoff: 15                      # each resonance's mass within bw_cutoff widths of its pole
    scale: 173.0                       # mu_F = mu_R in GeV (default: the top mass)
    alpha_s: null                      # default: the PDF set's alpha_s(scale^2) (0.1076 for
                                       # NNPDF31_nnlo_as_0118 at 173 GeV), 0.118 if it has none
    br_w_hadronic: 0.6667              # BR(W -> q q~'), default 6/9 (LO: 2 doublets x 3 colours of 9)
    flavours: [d, u, s, c, b]          # quarks in the proton
    cuts: {}                           # optional, on the six partons (nis.phasespace.cuts.Cuts)

**Physics.** ``sigma = sum_ab int dx1 dx2 f_a f_b (1 / 2 shat) |M_ab|^2 dPhi_2(shat; m_t^2,
m_t~^2) rho_t(m_t^2) rho_t(m_t~^2) rho_W(m_W+^2) rho_W(m_W-^2) BR(W -> had)^2``. ``|M_ab|^2`` is
the spin- and colour-averaged LO ``q q~ -> t t~`` and ``g g -> t t~`` of Combridge (ESW eq. 10.12)
with ``alpha_s`` fixed at ``scale``. Each ``rho`` is a relativistic Breit-Wigner in the mass
squared, normalised to one over its window ``|m - M| < bw_cutoff Gamma`` (MadGraph's bwcutoff),
so the narrow-width limit gives ``sigma(t t~) x BR(W -> had)^2`` (BR(t -> b W) = 1); kinematics
truncate the windows near threshold. Off-shell tops: the two-body phase space has the actual
masses ``m1, m2``; ``|M|^2`` is the on-shell one at ``m^2 = m1 m2`` (``rho = 4 m1 m2 / shat``,
``beta = sqrt(1 - rho)``, ``tau_{1,2} = (1 -+ beta cos theta) / 2`` with theta the top's angle to
parton a in the partonic frame), exact for ``m1 = m2`` and never outside the physical region.
Decays ``t -> b W+`` and ``W+ -> q q~'`` are isotropic in the rest frames (spin correlations
neglected), massless b and light quarks, as are those of t~.

**Phase space** (16 cube coordinates, one channel): ``shat`` (``1/shat`` above ``(2 m_min)^2``)
and the rapidity (:class:`~nis.phasespace.hadronic.PartonFractions`); ``m_t^2`` then ``m_t~^2``
by their Breit-Wigners (:class:`~nis.phasespace.invariants.BreitWignerMass`) on
``m_t <= sqrt(shat) - m_min``, ``m_t~ <= sqrt(shat) - m_t``; the production angles; then per top
``m_W^2`` (its Breit-Wigner, ``m_W < m_t``), the top's and the W's decay angles.

Final state, lab frame: ``(b, q, q~', b~, q, q~')`` = t -> b (W+ -> q q~'), t~ -> b~ (W- -> q q~').
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import Tensor

from nis.config import ConfigError, from_dict
from nis.integrator import Integrand, IntegrandBatch
from nis.phasespace.cuts import Cuts
from nis.phasespace.decays import two_body_decay
from nis.phasespace.hadronic import PartonFractions, lab_momenta
from nis.phasespace.invariants import BreitWignerMass, PowerLawMass
from nis.phasespace.kinematics import dot3, mass2
from nis.phasespace.process import LIGHT_QUARKS
from nis.processes.hadronic import PDG, proton_pdf
from nis.processes.integrand import GEV2_TO_PB

__all__ = ["PROCESS", "LABELS", "TTbarConfig", "TTbarIntegrand", "is_ttbar", "production_me2"]

PROCESS = "p p -> t t~ -> b j j b~ j j"
LABELS = ["b", "q", "q~", "b~", "q", "q~"]
ALPHA_S_FALLBACK = 0.118
DIMS = 16


def is_ttbar(text: str) -> bool:
    """Whether a process string is this module's ``p p -> t t~ -> b j j b~ j j`` (spacing free)."""
    return " ".join(str(text).split()) == PROCESS


def _resonance(value, where: str) -> dict:
    if not isinstance(value, dict) or set(value) != {"mass", "width"}:
        raise ConfigError(f"integrand.{where} must be {{mass: GeV, width: GeV}}; got {value!r}")
    for key in ("mass", "width"):
        v = value[key]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0 or math.isinf(v):
            raise ConfigError(f"integrand.{where}.{key} must be a positive number (GeV); got {v!r}")
    return {"mass": float(value["mass"]), "width": float(value["width"])}


@dataclass
class TTbarConfig:
    """``p p -> t t~ -> 6 partons``; the keys are in the module docstring."""

    matrix_element: str
    sqrt_s: float = 13000.0
    pdf: str = "NNPDF31_nnlo_as_0118_mc"
    pdf_member: int = 0
    top: dict = field(default_factory=lambda: {"mass": 173.0, "width": 1.41})
    w: dict = field(default_factory=lambda: {"mass": 80.385, "width": 2.085})
    bw_cutoff: float = 15.0
    scale: float | None = None
    alpha_s: float | None = None
    br_w_hadronic: float = 6.0 / 9.0
    flavours: list = field(default_factory=lambda: list(LIGHT_QUARKS))
    cuts: dict = field(default_factory=dict)

    def __post_init__(self):
        if not is_ttbar(self.matrix_element):
            raise ConfigError(
                f"integrand.matrix_element: the t t~ process reads {PROCESS!r}; got {self.matrix_element!r}"
            )
        self.top, self.w = _resonance(self.top, "top"), _resonance(self.w, "w")
        if not self.sqrt_s > 0:
            raise ConfigError(f"integrand.sqrt_s must be positive (GeV); got {self.sqrt_s}")
        if not self.bw_cutoff > 0:
            raise ConfigError(f"integrand.bw_cutoff must be positive (widths around each pole); got {self.bw_cutoff}")
        for name in ("scale", "alpha_s"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0):
                raise ConfigError(f"integrand.{name} must be a positive number or null (default); got {v!r}")
        if self.alpha_s is not None and self.alpha_s >= 1:
            raise ConfigError(f"integrand.alpha_s must lie in (0, 1); got {self.alpha_s}")
        if not 0 < self.br_w_hadronic <= 1:
            raise ConfigError(f"integrand.br_w_hadronic must lie in (0, 1]; got {self.br_w_hadronic}")
        unknown = [f for f in self.flavours if f not in PDG]
        if unknown or not self.flavours:
            raise ConfigError(
                f"integrand.flavours: unknown or no quark(s) {unknown or self.flavours}; choose from {list(PDG)}"
            )
        try:
            Cuts.from_dict({k: v for k, v in self.cuts.items() if k != "partons"})
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"integrand.cuts: {exc}") from None
        if "partons" in self.cuts:
            raise ConfigError("integrand.cuts: 'partons' is fixed (the six final partons); remove it")
        if self.mass_range("top")[0] <= self.mass_range("w")[0]:
            raise ConfigError("integrand: the top's mass window must lie above the W's lower end (top -> b W)")
        if 2 * self.mass_range("top")[0] >= self.sqrt_s:
            raise ConfigError(f"integrand.sqrt_s = {self.sqrt_s} GeV is below the t t~ threshold")

    @classmethod
    def from_mapping(cls, data: dict) -> "TTbarConfig":
        return from_dict(cls, dict(data), "integrand")

    def mass_range(self, which: str) -> tuple[float, float]:
        """``(m_min, m_max)`` in GeV of ``"top"`` or ``"w"``: the pole -+ bw_cutoff widths (m_min >= 0)."""
        r = getattr(self, which)
        return max(0.0, r["mass"] - self.bw_cutoff * r["width"]), r["mass"] + self.bw_cutoff * r["width"]


def production_me2(shat: Tensor, cos_theta: Tensor, m2: Tensor | float, alpha_s: float) -> tuple[Tensor, Tensor]:
    """Spin- and colour-averaged ``|M|^2`` of ``q q~ -> t t~`` and ``g g -> t t~`` (ESW eq. 10.12).

    shat (GeV^2), cos_theta (top against parton a, partonic frame) and the top mass squared ``m2``
    (GeV^2; ``m1 m2`` off shell): ``tau_{1,2} = (1 -+ beta cos) / 2``, ``rho = 4 m2 / shat``.
    """
    g4 = (4.0 * math.pi * alpha_s) ** 2
    rho = (4.0 * m2 / shat).clamp(max=1.0)
    beta = torch.sqrt(1.0 - rho)
    tau1, tau2 = 0.5 * (1.0 - beta * cos_theta), 0.5 * (1.0 + beta * cos_theta)
    sq = tau1 * tau1 + tau2 * tau2
    qq = g4 * (4.0 / 9.0) * (sq + 0.5 * rho)
    t12 = tau1 * tau2
    gg = g4 * (1.0 / (6.0 * t12) - 3.0 / 8.0) * (sq + rho - rho * rho / (4.0 * t12))
    return qq, gg


def _normalised_bw(mapping: BreitWignerMass, lo: float, hi: float):
    """``(u, lo, hi) -> (s, rho(s) ds/du)`` with ``rho`` the Breit-Wigner normalised on the window
    ``[lo, hi]`` (GeV^2): the weight is the share of the window's arctan range the event reaches."""
    m2, mg = mapping.mass**2, mapping.mass * mapping.width
    window = math.atan((hi - m2) / mg) - math.atan((lo - m2) / mg)

    def draw(u: Tensor, lo_e: Tensor, hi_e: Tensor) -> tuple[Tensor, Tensor]:
        hi_e = torch.maximum(hi_e, lo_e)
        s, w = mapping.forward(u, lo_e, hi_e, lo_e)
        return s, w * (mg / ((s - m2) ** 2 + mg * mg)) / window

    return draw


class TTbarIntegrand(Integrand):
    """sigma(p p -> t t~ -> 6 partons) in pb; see the module docstring."""

    n_channels = 1
    exact = None
    dims = DIMS

    def __init__(self, config: TTbarConfig, name: str | None = None, device: str | torch.device = "cpu"):
        self.config, self.name = config, name or config.matrix_element
        self.pdf = proton_pdf(config.pdf, config.pdf_member, config.flavours, device)
        self.scale = float(config.scale or config.top["mass"])
        if config.alpha_s is not None:
            self.alpha_s, self.alpha_s_source = float(config.alpha_s), "config"
        elif self.pdf.alphas is not None:
            self.alpha_s = float(self.pdf.alphas_q2(self.scale**2))
            self.alpha_s_source = f"{config.pdf} at {self.scale:g} GeV"
        else:
            self.alpha_s, self.alpha_s_source = ALPHA_S_FALLBACK, "default"
        (t_lo, t_hi), (w_lo, w_hi) = config.mass_range("top"), config.mass_range("w")
        self.m_min = t_lo
        self.fractions = PartonFractions(config.sqrt_s, (2.0 * t_lo) ** 2, config.sqrt_s**2, PowerLawMass(nu=1.0))
        self.top_bw = _normalised_bw(BreitWignerMass(**config.top), t_lo**2, t_hi**2)
        self.w_bw = _normalised_bw(BreitWignerMass(**config.w), w_lo**2, w_hi**2)
        self.t_hi, self.w_lo, self.w_hi = t_hi, w_lo, w_hi
        self.cuts = Cuts.from_dict({**config.cuts, "partons": list(range(2, 8))}) if config.cuts else None

    def _decay_top(self, top: Tensor, u: Tensor) -> tuple[Tensor, Tensor]:
        """``t -> b (W -> q q~')`` from 5 cube coordinates: (n, 3, 4) momenta and the W's BW weight."""
        zero = torch.zeros_like(u[:, 0])
        s_w, w_w = self.w_bw(u[:, 0], torch.full_like(zero, self.w_lo**2),
                             torch.minimum(torch.full_like(zero, self.w_hi**2), mass2(top)))
        b, w_boson, _ = two_body_decay(top, zero, s_w, u[:, 1], u[:, 2])
        q, qbar, _ = two_body_decay(w_boson, zero, zero, u[:, 3], u[:, 4])
        return torch.stack([b, q, qbar], dim=1), w_w

    def kinematics(self, u: Tensor) -> dict:
        """Everything of cube points ``u`` (n, 16): ``p`` lab momenta (n, 8, 4) with the incoming
        partons first, ``x1``, ``x2``, ``shat``, ``cos`` (the top's angle), ``m2`` (``m_t m_t~``)
        and ``w`` (the phase-space weight times the four normalised Breit-Wigners)."""
        x1, x2, shat, w_x = self.fractions(u[:, 0], u[:, 1])
        root = torch.sqrt(shat)
        lo = torch.full_like(shat, self.m_min**2)
        hi = torch.full_like(shat, self.t_hi)
        s1, w1 = self.top_bw(u[:, 2], lo, torch.minimum(hi, (root - self.m_min).clamp(min=0.0)) ** 2)
        m1 = torch.sqrt(s1)
        s2, w2 = self.top_bw(u[:, 3], lo, torch.minimum(hi, (root - m1).clamp(min=0.0)) ** 2)
        zero = torch.zeros_like(shat)
        P = torch.stack([root, zero, zero, zero], dim=-1)
        top, antitop, w_prod = two_body_decay(P, s1, s2, u[:, 4], u[:, 5])
        k_t, w3 = self._decay_top(top, u[:, 6:11])
        k_tb, w4 = self._decay_top(antitop, u[:, 11:16])
        k = torch.cat([k_t, k_tb], dim=1)
        cos = top[:, 3] / torch.sqrt(dot3(top[:, 1:], top[:, 1:])).clamp(min=1e-300)
        w = w_x * w1 * w2 * w3 * w4 * w_prod
        w = torch.where(torch.isfinite(w), w, torch.zeros_like(w))
        p = lab_momenta(k, x1, x2, self.config.sqrt_s)
        return {"p": p, "x1": x1, "x2": x2, "shat": shat, "cos": cos, "m2": torch.sqrt(s1 * s2), "w": w}

    def momenta(self, u: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        """Final-state lab momenta (n, 6, 4) ordered (b, q, q~', b~, q, q~'), x1, x2, shat and the
        weight of :meth:`kinematics`."""
        k = self.kinematics(u)
        return k["p"][:, 2:], k["x1"], k["x2"], k["shat"], k["w"]

    def evaluate(self, u: Tensor, channel: int) -> IntegrandBatch:
        k = self.kinematics(u)
        keep = k["w"] > 0
        if self.cuts is not None:
            keep &= self.cuts.mask(k["p"])
        value = torch.zeros_like(k["w"])
        idx = torch.nonzero(keep).squeeze(1)
        if idx.numel():
            value[idx] = self._cross_section(*(k[n][idx] for n in ("x1", "x2", "shat", "cos", "m2"))) * k["w"][idx]
        return IntegrandBatch(value=value, features=u)

    def luminosities(self, x1: Tensor, x2: Tensor) -> tuple[Tensor, Tensor]:
        """``(sum_q f_q(x1) f_q~(x2) + f_q~(x1) f_q(x2), f_g(x1) f_g(x2))`` at the fixed scale."""
        q2 = torch.full_like(x1, self.scale**2)
        f1, f2 = self.pdf.xfxQ2_all(x1, q2) / x1[:, None], self.pdf.xfxQ2_all(x2, q2) / x2[:, None]
        col = self.pdf.flavour_index
        qq = torch.zeros_like(x1)
        for q in self.config.flavours:
            a, b = col(PDG[q]), col(-PDG[q])
            qq = qq + f1[:, a] * f2[:, b] + f1[:, b] * f2[:, a]
        return qq, f1[:, col(21)] * f2[:, col(21)]

    def _cross_section(self, x1: Tensor, x2: Tensor, shat: Tensor, cos: Tensor, m2: Tensor) -> Tensor:
        """``(L_qq |M_qq|^2 + L_gg |M_gg|^2) BR^2 / (2 shat)`` in pb (times dPhi_2 and the BWs outside)."""
        lum_qq, lum_gg = self.luminosities(x1, x2)
        me_qq, me_gg = production_me2(shat, cos, m2, self.alpha_s)
        return GEV2_TO_PB / (2.0 * shat) * (lum_qq * me_qq + lum_gg * me_gg) * self.config.br_w_hadronic**2
