"""Proton-proton processes: parton densities times partonic cross sections, as one integrand.

    sigma = sum_ab int dx1 dx2 f_a(x1, mu_F) f_b(x2, mu_F) sigma_ab(x1 x2 s)

A config names the hadronic process (a lepton pair plus ``j`` partons, or 2 to 4 ``j`` alone),
the collider energy and the PDF set::

    integrand:
      matrix_element: "p p -> e+ ve j"    # Z/gamma*: "p p -> mu+ mu-"; W+: "p p -> e+ ve";
                                          # W-: "p p -> e- ve~"; up to 3 j (names as the bridge's);
                                          # jets alone: "p p -> j j" (2 to 4 j, provider sherpa)
      sqrt_s: 13000                       # GeV, hadronic
      pdf: NNPDF31_nnlo_as_0118_mc        # LHAPDF6 set (nis.pdf), member pdf_member (0)
      mass_window: [66, 116]              # GeV: the lepton pair's invariant mass
      resonance: {mass: 80.385, width: 2.085}  # the pair drawn as this Breit-Wigner (needed with
                                          # jets; without, default 1/m^2)
      scale: 91.1876                      # mu_F in GeV, or "mass" (sqrt(shat)) or "ht" (sum of pT)
      flavours: [d, u, s, c, b]           # quarks in the proton and among the jets (default all five)
      cuts: {pt_min: 20, rapidity_max: 2.5}   # on the charged leptons (nis.phasespace.cuts)
      met_min: 0                          # GeV: missing pT (the neutrino's) at least this
      jet_cuts: {pt_min: 20, rapidity_max: 6, delta_r_min: 0.4}   # on the j partons
      parameters: {}                      # SM parameters (nis.bridge.sm_defaults)
      provider: builtin                   # or sherpa (needed for W and for jets alone)
      subprocesses: auto                  # sum (every subprocess at every point), sample (one per
                                          # point), auto (sample above 50 subprocesses)

**Subprocesses**: every ordered pair of partons ``a b`` (g and the quarks and antiquarks of
``flavours``) and every unordered set of final partons that conserve charge and the quark number
of each generation (a diagonal CKM matrix) and hold a quark line; ``a`` comes from the proton
along +z with density ``f_a(x1)``. Each is one matrix element (symmetry factor of identical
final partons applied). ``sherpa`` builds every subprocess in Sherpa through the bridge (Comix,
all orders of the couplings). ``builtin`` (the default; a lepton pair of the photon and Z, up to
three jets) builds them from nis' own tree-level providers at order alpha_s^n alpha^2: one quark
line with gluons in any crossing (``lepton_pair_quark_line``) and two quark lines with at most one
gluon (``lepton_pair_four_quarks``), both equal to Sherpa's point by point where Sherpa's extra
electroweak orders vanish (tests/test_hadronic.py, tests/test_four_quarks.py) and a thousand times
faster. Without a W, the built-in list keeps the quark number of each *flavour* (u d~ -> mu+ mu-
c s~ needs a W; Sherpa computes it at order alpha^4).

**Summed or sampled subprocesses**: ``sum`` evaluates every subprocess at every phase-space point
(W/Z + 1 jet: 30 of them). With two and three jets there are 199 and 315, and the sum costs ~200
matrix elements per point; ``sample`` adds one cube coordinate that picks a single subprocess k per
point with probability p_k and divides by it, ``f = f_k / p_k`` (unbiased for any p_k > 0). p_k is
fixed when the integrand is built: 90% in proportion to each subprocess's share of the cross
section on a pilot sample of 512 points (seed 0), 10% uniform, so no subprocess is ever left out;
the flow and VEGAS see the coordinate like any other and refine the choice.

**Phase space** (one channel, ``2 + 3 n - 4`` cube coordinates for n final particles):
``shat`` and the rapidity of the partonic system (:mod:`nis.phasespace.hadronic`; the lepton
pair's Breit-Wigner without jets, ``1/shat`` above ``(m_min + n_j pT_min)^2`` with them), then
the final state in the partonic frame as a tree: the lepton pair (its Breit-Wigner) recoiling
against the partons added one by one. Jets alone: ``1/shat`` above ``(n_j pT_min)^2`` and the
partons added one by one (flat in the invariant masses).
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from nis.config import ConfigError, from_dict
from nis.integrator import Integrand, IntegrandBatch
from nis.phasespace.cuts import Cuts
from nis.phasespace.hadronic import LeptonPairPhaseSpace, PartonFractions, lab_momenta
from nis.phasespace.invariants import BreitWignerMass, FlatMass, PowerLawMass
from nis.phasespace.kinematics import mass2, pt
from nis.phasespace.process import LIGHT_QUARKS
from nis.phasespace.tree import TreeChannel, cluster, leaf
from nis.processes.integrand import GEV2_TO_PB

PDG = {"d": 1, "u": 2, "s": 3, "c": 4, "b": 5}
CHARGE3 = {"d": -1, "u": 2, "s": -1, "c": 2, "b": -1, "g": 0}  # three times the electric charge
GENERATION = {"d": 1, "u": 1, "s": 2, "c": 2, "b": 3}
LEPTON_CHARGE = {"e+": 1, "mu+": 1, "e-": -1, "mu-": -1, "ve": 0, "vm": 0, "ve~": 0, "vm~": 0}
LEPTON_PAIRS = ({"e+", "e-"}, {"mu+", "mu-"}, {"e+", "ve"}, {"mu+", "vm"}, {"e-", "ve~"}, {"mu-", "vm~"})
NEUTRINOS = ("ve", "vm", "ve~", "vm~")
JET = "j"
SUBPROCESS_MODES = ("auto", "sum", "sample")
AUTO_SAMPLE_ABOVE = 50  #: ``subprocesses: auto`` samples above this many subprocesses
PILOT_POINTS = 512
UNIFORM_SHARE = 0.1  #: share of the uniform part of the subprocess probabilities
MAX_JETS = 3  # with a lepton pair
MAX_PURE_JETS = 4
SCALES = ("mass", "ht")


def is_hadronic(process: str) -> bool:
    """Whether a process string starts from two protons (``p p -> ...``)."""
    return process.split("->")[0].split() == ["p", "p"]


def _flavour(name: str) -> tuple[str, int]:
    """``("u", +1)`` for u, ``("u", -1)`` for u~, ``("g", 0)`` for g."""
    if name == "g":
        return "g", 0
    return (name[:-1], -1) if name.endswith("~") else (name, 1)


def _charge3(name: str) -> int:
    base, sign = _flavour(name)
    return CHARGE3[base] * sign


def subprocesses(leptons: tuple[str, ...], n_jets: int, flavours: list[str],
                 conserve: str = "generation") -> list[tuple[str, str, tuple[str, ...]]]:
    """``(a, b, final partons)`` of ``p p -> leptons + n_jets partons`` (see the module docstring);
    ``conserve``: the quark number of each ``generation`` or of each ``flavour``."""
    family = GENERATION if conserve == "generation" else {q: q for q in GENERATION}
    partons = ["g"] + [q for f in flavours for q in (f, f + "~")]
    lepton_charge3 = 3 * sum(LEPTON_CHARGE[lep] for lep in leptons)
    out = []
    for a, b in itertools.product(partons, repeat=2):
        for final in itertools.combinations_with_replacement(partons, n_jets):
            if _charge3(a) + _charge3(b) - sum(map(_charge3, final)) != lepton_charge3:
                continue
            number: Counter = Counter()
            for x, sign in [(a, 1), (b, 1)] + [(x, -1) for x in final]:
                base, q = _flavour(x)
                if q:
                    number[family[base]] += sign * q
            quarks = sum(1 for x in (a, b, *final) if x != "g")
            if (quarks >= 2 or not leptons) and not any(number.values()):
                out.append((a, b, final))
    return out


def proton_pdf(name: str, member: int, flavours: list[str], device):
    """The PDF set ``name`` (:func:`nis.pdf.load_pdf`); ConfigError if it lacks a quark of
    ``flavours`` or its antiquark."""
    from nis.pdf import load_pdf

    pdf = load_pdf(name, member, device=device)
    missing = [q for q in flavours if PDG[q] not in pdf.flavours or -PDG[q] not in pdf.flavours]
    if missing:
        raise ConfigError(f"integrand.flavours: the PDF set {name} has no density for {missing}")
    return pdf


@dataclass
class HadronicConfig:
    """A ``p p -> leptons + jets`` or ``p p -> jets`` process; see the module docstring for the keys."""

    matrix_element: str
    sqrt_s: float
    pdf: str
    pdf_member: int = 0
    mass_window: list = field(default_factory=list)
    resonance: dict = field(default_factory=dict)
    scale: object = 91.1876
    flavours: list = field(default_factory=lambda: list(LIGHT_QUARKS))
    cuts: dict = field(default_factory=dict)
    met_min: float = 0.0
    jet_cuts: dict = field(default_factory=dict)
    parameters: dict = field(default_factory=dict)
    provider: str = "builtin"
    subprocesses: str = "auto"

    def __post_init__(self):
        if not is_hadronic(self.matrix_element):
            raise ConfigError(f"integrand.matrix_element: a hadronic process reads 'p p -> ...'; got {self.matrix_element!r}")
        final = self.matrix_element.partition("->")[2].split()
        self.leptons = tuple(x for x in final if x != JET)
        self.n_jets = len(final) - len(self.leptons)
        pair = len(self.leptons) == 2 and set(self.leptons) in LEPTON_PAIRS
        if not (pair and self.n_jets <= MAX_JETS) and not (not self.leptons and 2 <= self.n_jets <= MAX_PURE_JETS):
            raise ConfigError(
                f"integrand.matrix_element: p p -> {' '.join(final)} is not available; hadronic processes are a"
                f" lepton pair (mu+ mu-, e+ e-, e+ ve, e- ve~, mu+ vm, ...) plus up to {MAX_JETS} 'j', or 2 to"
                f" {MAX_PURE_JETS} 'j' alone"
            )
        neutral = not any(x in NEUTRINOS for x in self.leptons)
        if self.provider == "builtin" and not (self.leptons and neutral):
            raise ConfigError(
                f"integrand.provider: the built-in matrix elements cover p p -> l+ l- + up to {MAX_JETS} j (photon"
                f" and Z); use provider: sherpa for {self.matrix_element!r}"
            )
        if not self.leptons:
            if self.mass_window or self.resonance or self.cuts:
                raise ConfigError("integrand: mass_window, resonance and cuts are for the lepton pair; p p -> jets"
                                  " takes jet_cuts only")
        if self.met_min < 0 or (self.met_min and neutral):
            raise ConfigError(f"integrand.met_min must be >= 0 GeV and needs a neutrino in the final state; got {self.met_min}")
        if self.subprocesses not in SUBPROCESS_MODES:
            raise ConfigError(f"integrand.subprocesses must be one of {SUBPROCESS_MODES}; got {self.subprocesses!r}")
        if self.provider not in ("builtin", "sherpa"):
            raise ConfigError(f"integrand.provider must be builtin or sherpa for p p processes; got {self.provider!r}")
        if self.sqrt_s <= 0:
            raise ConfigError(f"integrand.sqrt_s must be positive (GeV); got {self.sqrt_s}")
        if self.leptons and (len(self.mass_window) != 2 or not 0 < self.mass_window[0] < self.mass_window[1] <= self.sqrt_s):
            raise ConfigError(
                f"integrand.mass_window must be [m_min, m_max] in GeV with 0 < m_min < m_max <= sqrt_s (the lepton"
                f" pair's mass; a photon pole at 0 needs a lower bound); got {self.mass_window!r}"
            )
        unknown = set(self.resonance) - {"mass", "width"}
        if unknown or (self.resonance and not {"mass", "width"} <= set(self.resonance)):
            raise ConfigError(f"integrand.resonance must be {{mass: GeV, width: GeV}}; got {self.resonance!r}")
        if isinstance(self.scale, str):
            if self.scale not in SCALES:
                raise ConfigError(f"integrand.scale must be a number (GeV) or one of {SCALES}; got {self.scale!r}")
        elif isinstance(self.scale, bool) or not isinstance(self.scale, (int, float)) or self.scale <= 0:
            raise ConfigError(f"integrand.scale must be a positive number (GeV) or one of {SCALES}; got {self.scale!r}")
        unknown = [f for f in self.flavours if f not in GENERATION]
        if unknown or not self.flavours:
            raise ConfigError(
                f"integrand.flavours: unknown or no quark(s) {unknown or self.flavours}; choose from {list(GENERATION)}"
            )
        parsed = {}
        for key in ("cuts", "jet_cuts"):
            try:
                parsed[key] = Cuts.from_dict(getattr(self, key))
            except ValueError as exc:
                raise ConfigError(f"integrand.{key}: {exc}") from None
        if self.n_jets and self.leptons and not self.resonance:
            raise ConfigError("integrand.resonance: with jets, give the lepton pair's resonance {mass: GeV, width: GeV}"
                              " (the Z or the W); its Breit-Wigner shapes the pair's mass")
        jet_cuts = parsed["jet_cuts"]
        if self.n_jets and not jet_cuts.pt_min > 0:
            raise ConfigError("integrand.jet_cuts: jets need pt_min > 0 GeV (a parton's soft and collinear limits diverge)")
        if self.n_jets >= 2 and not jet_cuts.delta_r_min > 0:
            raise ConfigError("integrand.jet_cuts: two or more jets need delta_r_min > 0 (two partons' collinear limit"
                              " diverges), e.g. 0.4")

    @classmethod
    def from_mapping(cls, data: dict) -> "HadronicConfig":
        if "channels" in data:
            raise ConfigError(f"integrand.channels ({data['channels']!r}): channels files and madspace's channels"
                              " are for 2 -> n processes at a fixed energy; p p -> ... processes have their own"
                              " phase space")
        return from_dict(cls, dict(data), "integrand")


@dataclass
class Subprocess:
    """One partonic channel: parton ``a`` from proton 1, ``b`` from proton 2 (PDG ids), ``|M|^2`` as
    a function of lab momenta (n, 2 + n_final, 4) ordered (a, b, leptons, partons), on the host,
    times its final state's symmetry factor."""

    a: int
    b: int
    name: str
    matrix_element: object
    factor: float

    @classmethod
    def named(cls, name: str, matrix_element) -> "Subprocess":
        """The channel of process string ``name`` (its incoming PDG ids read by the bridge)."""
        from nis.bridge import parse_process

        a, b = parse_process(name)[0]
        return cls(a, b, name, matrix_element, matrix_element.info.symmetry_factor)

    def __call__(self, host: np.ndarray) -> np.ndarray:
        return np.asarray(self.matrix_element(host)) * self.factor


class HadronicIntegrand(Integrand):
    """sigma(p p -> leptons + jets) in pb; see the module docstring."""

    n_channels = 1
    exact = None

    def __init__(self, config: HadronicConfig, name: str | None = None, device: str | torch.device = "cpu"):
        self.config, self.name = config, name or config.matrix_element
        self.pdf = proton_pdf(config.pdf, config.pdf_member, config.flavours, device)
        charged = [2 + i for i, x in enumerate(config.leptons) if x not in NEUTRINOS]
        self.neutrinos = [2 + i for i, x in enumerate(config.leptons) if x in NEUTRINOS]
        self.lepton_cuts = Cuts.from_dict({**config.cuts, "partons": charged}) if charged else None
        first_jet, n_j = 2 + len(config.leptons), config.n_jets
        self.jet_cuts = Cuts.from_dict({**config.jet_cuts, "partons": list(range(first_jet, first_jet + n_j))}) if n_j else None
        self._phase_space()
        self.subprocesses = self._subprocesses()
        mode = config.subprocesses
        self.sampled = mode == "sample" or (mode == "auto" and len(self.subprocesses) > AUTO_SAMPLE_ABOVE)
        if self.sampled:
            self.sub_prob = self._pilot_probabilities()
            self.sub_cdf = torch.cumsum(self.sub_prob, 0)
            self.dims += 1

    def _phase_space(self) -> None:
        cfg = self.config
        n_j, n_l = cfg.n_jets, len(cfg.leptons)
        m_lo, m_hi = cfg.mass_window if n_l else (0.0, cfg.sqrt_s)
        self.pair = None
        if n_j == 0:  # the lepton pair alone: its cuts built in
            pair_mapping = BreitWignerMass(**cfg.resonance) if cfg.resonance else PowerLawMass(nu=1.0)
            cuts = self.lepton_cuts
            self.pair = LeptonPairPhaseSpace(
                PartonFractions(cfg.sqrt_s, m_lo**2, m_hi**2, pair_mapping),
                pt_min=max(cuts.pt_min if cuts else 0.0, cfg.met_min),
                eta_max=cuts.rapidity_max if cuts else math.inf,
                charged=tuple(x not in NEUTRINOS for x in cfg.leptons),
            )
            self.dims = self.pair.dims
            return
        shat_min = (m_lo + n_j * self.jet_cuts.pt_min) ** 2
        self.fractions = PartonFractions(cfg.sqrt_s, shat_min, cfg.sqrt_s**2, PowerLawMass(nu=1.0))
        if n_l:  # the lepton pair, then the partons one by one
            root, first = cluster(leaf(0), leaf(1), BreitWignerMass(**cfg.resonance)), 2
        else:
            root, first = leaf(0), 1
        n = n_l + n_j
        for k in range(first, n):
            root = cluster(root, leaf(k), FlatMass() if k < n - 1 else None)  # the last cluster is the root
        self.tree = TreeChannel(root, n, root_pt_min=self.jet_cuts.pt_min)  # the last parton is the root's child
        self.dims = 2 + self.tree.dims

    def _subprocesses(self) -> list[Subprocess]:
        cfg = self.config
        builtin = cfg.provider == "builtin"
        found = subprocesses(cfg.leptons, cfg.n_jets, cfg.flavours, "flavour" if builtin else "generation")
        names = [f"{a} {b} -> {' '.join(cfg.leptons)} {' '.join(final)}".strip() for a, b, final in found]
        if builtin:
            from nis.bridge import MatrixElement

            mes = [MatrixElement(name, parameters=cfg.parameters) for name in names]
        else:
            from nis.bridge.sherpa import settings_from_parameters, sherpa_matrix_elements

            mes = sherpa_matrix_elements(names, settings=settings_from_parameters(cfg.parameters))
        return [Subprocess.named(name, me) for name, me in zip(names, mes)]

    def _pilot_probabilities(self) -> Tensor:
        """p_k: 90% each subprocess's share of sigma on a pilot sample, 10% uniform."""
        n_sub = len(self.subprocesses)
        u = torch.rand(PILOT_POINTS, self.dims, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
        p, x1, x2, shat, w = self.momenta(u)
        keep = self._passes(p, w)
        share = torch.zeros(n_sub, dtype=torch.float64)
        if keep.any():
            p, x1, x2, shat, w = (t[keep] for t in (p, x1, x2, shat, w))
            share = self._by_subprocess(p, x1, x2, shat).mul(w[:, None]).abs().mean(0).cpu()
        if not share.sum() > 0:
            share = torch.ones(n_sub, dtype=torch.float64)
        prob = (1 - UNIFORM_SHARE) * share / share.sum() + UNIFORM_SHARE / n_sub
        return prob / prob.sum()

    def scale2(self, p: Tensor, shat: Tensor) -> Tensor:
        """mu_F^2 per event (GeV^2)."""
        scale = self.config.scale
        if scale == "mass":
            return shat
        if scale == "ht":
            return pt(p[:, 2:]).sum(dim=1) ** 2
        return torch.full_like(shat, float(scale) ** 2)

    def momenta(self, u: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        """Lab momenta (n, 2 + n_final, 4), x1, x2, shat and the phase-space weight of cube points u."""
        if self.pair is not None:
            k, x1, x2, shat, w = self.pair(u)
            return lab_momenta(k, x1, x2, self.config.sqrt_s), x1, x2, shat, w
        x1, x2, shat, w_x = self.fractions(u[:, 0], u[:, 1])
        k, w_ps = self.tree.forward(u[:, 2:2 + self.tree.dims], shat)
        return lab_momenta(k, x1, x2, self.config.sqrt_s), x1, x2, shat, w_x * w_ps

    def subprocess_index(self, u: Tensor) -> Tensor:
        """The subprocess each cube point picks (sampled subprocesses only), shape (n,)."""
        cdf = self.sub_cdf.to(u)
        return torch.searchsorted(cdf, u[:, -1].contiguous()).clamp_max(len(self.subprocesses) - 1)

    def choose_subprocesses(self, u: Tensor, rng: np.random.Generator) -> np.ndarray:
        """The subprocess of each unweighted event at cube points u, shape (n,): the sampled one
        (its events are distributed as f_k), else one drawn with probability f_k / sum_j f_j."""
        if self.sampled:
            return self.subprocess_index(u).cpu().numpy()
        p, x1, x2, shat, _ = self.momenta(u)
        share = self._by_subprocess(p, x1, x2, shat).abs().cpu().numpy()
        cdf = np.cumsum(share / share.sum(axis=1, keepdims=True), axis=1)
        return np.minimum((rng.random(len(share))[:, None] > cdf).sum(axis=1), len(self.subprocesses) - 1)

    def _passes(self, p: Tensor, w: Tensor) -> Tensor:
        keep = w > 0
        if self.config.leptons:
            m_lo, m_hi = self.config.mass_window
            m2 = mass2(p[:, 2] + p[:, 3])
            keep &= (m2 >= m_lo**2) & (m2 <= m_hi**2)
        for cuts in (self.lepton_cuts, self.jet_cuts):
            if cuts is not None:
                keep &= cuts.mask(p)
        if self.config.met_min:
            keep &= pt(p[:, self.neutrinos].sum(dim=1)) >= self.config.met_min
        return keep

    def evaluate(self, u: Tensor, channel: int) -> IntegrandBatch:
        p, x1, x2, shat, w = self.momenta(u)
        value = torch.zeros_like(w)
        idx = torch.nonzero(self._passes(p, w)).squeeze(1)
        if idx.numel():
            k = self.subprocess_index(u[idx]) if self.sampled else None
            value[idx] = self._cross_section(p[idx], x1[idx], x2[idx], shat[idx], k) * w[idx]
        return IntegrandBatch(value=value, features=u)

    def _pdfs(self, p: Tensor, x1: Tensor, x2: Tensor, shat: Tensor) -> tuple[Tensor, Tensor]:
        q2 = self.scale2(p, shat)
        return self.pdf.xfxQ2_all(x1, q2) / x1[:, None], self.pdf.xfxQ2_all(x2, q2) / x2[:, None]

    def _by_subprocess(self, p: Tensor, x1: Tensor, x2: Tensor, shat: Tensor) -> Tensor:
        """``f_a(x1) f_b(x2) |M_ab|^2 conv / (2 shat)`` of every subprocess, shape (n, K)."""
        f1, f2 = self._pdfs(p, x1, x2, shat)
        col = self.pdf.flavour_index
        host = p.detach().to("cpu", torch.float64).contiguous().numpy()
        me = [f1[:, col(s.a)] * f2[:, col(s.b)] * torch.from_numpy(s(host)).to(shat) for s in self.subprocesses]
        return GEV2_TO_PB / (2.0 * shat)[:, None] * torch.stack(me, 1)

    def _cross_section(self, p: Tensor, x1: Tensor, x2: Tensor, shat: Tensor, k: Tensor | None = None) -> Tensor:
        """``sum_ab f_a(x1) f_b(x2) |M_ab|^2 conv / (2 shat)`` (densities f = xf / x); with ``k``
        (sampled subprocesses) only subprocess k of each point, divided by p_k."""
        if k is None:
            return self._by_subprocess(p, x1, x2, shat).sum(1)
        f1, f2 = self._pdfs(p, x1, x2, shat)
        col = self.pdf.flavour_index
        host = p.detach().to("cpu", torch.float64).contiguous().numpy()
        k_host = k.cpu().numpy()
        total = torch.zeros_like(shat)
        for j in np.unique(k_host):
            sub = self.subprocesses[j]
            rows = np.nonzero(k_host == j)[0]
            r = torch.from_numpy(rows).to(shat.device)
            me = torch.from_numpy(sub(np.ascontiguousarray(host[rows]))).to(shat)
            total[r] = f1[r, col(sub.a)] * f2[r, col(sub.b)] * me / self.sub_prob[j].to(shat)
        return GEV2_TO_PB / (2.0 * shat) * total
