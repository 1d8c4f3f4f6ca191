"""A stated, simple detector: resolution smearing and efficiencies for muons and jets.

This is a stand-in for a fast simulation such as Delphes, written down so that every number is
visible; it is meant for unfolding studies, not for comparison with a real experiment. Objects
come in at particle level (the two hardest prompt muons after the shower, anti-kT jets of the visible
final state without them) and go out as reconstructed objects:

* **muons**: found with probability ``efficiency`` inside ``|eta| < eta_max`` (zero outside);
  ``pT -> pT (1 + r)``, ``r ~ N(0, sigma)`` with ``sigma = a (+) b pT`` (added in quadrature,
  pT in GeV; the tracker's curvature resolution grows with pT); eta and phi smeared by Gaussians
  of width ``angle``. Muons below ``pt_min`` after smearing are lost.
* **jets**: found with probability ``efficiency`` inside ``|eta| < eta_max``; the energy smeared
  by the calorimeter resolution ``sigma_E / E = stochastic / sqrt(E) (+) constant`` (E in GeV),
  the mass scaled with it (direction and velocity kept), then eta and phi by Gaussians of width
  ``angle``. Jets below ``pt_min`` after smearing are lost; the rest are sorted by pT.

Defaults are typical of an LHC general-purpose detector (muon pT resolution 1% (+) 0.01%/GeV,
jet energy 80%/sqrt(E) (+) 5%). A YAML file can override any of them::

    muons: {efficiency: 0.95, eta_max: 2.5, pt_min: 10, a: 0.01, b: 1.0e-4, angle: 0.001}
    jets:  {efficiency: 0.98, eta_max: 4.5, pt_min: 25, stochastic: 0.8, constant: 0.05, angle: 0.02}
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from nis.config import ConfigError, from_dict, load_yaml
from nis.events.kinematics import from_pt_eta_phi_m, pt_eta_phi_m


@dataclass
class MuonResponse:
    efficiency: float = 0.95
    eta_max: float = 2.5
    pt_min: float = 10.0  #: GeV, after smearing
    a: float = 0.01  #: constant term of sigma(pT)/pT
    b: float = 1.0e-4  #: term growing with pT, per GeV
    angle: float = 0.001  #: Gaussian width of eta and phi


@dataclass
class JetResponse:
    efficiency: float = 0.98
    eta_max: float = 4.5
    pt_min: float = 25.0  #: GeV, after smearing
    stochastic: float = 0.8  #: sigma_E / E = stochastic / sqrt(E / GeV) (+) constant
    constant: float = 0.05
    angle: float = 0.02  #: Gaussian width of eta and phi


@dataclass
class Detector:
    muons: MuonResponse = field(default_factory=MuonResponse)
    jets: JetResponse = field(default_factory=JetResponse)

    def __post_init__(self):
        for name, response in (("muons", self.muons), ("jets", self.jets)):
            if not 0.0 < response.efficiency <= 1.0:
                raise ConfigError(f"detector.{name}.efficiency must lie in (0, 1]; got {response.efficiency}")
            for key in ("eta_max", "pt_min", "angle"):
                if getattr(response, key) < 0:
                    raise ConfigError(f"detector.{name}.{key} must be >= 0; got {getattr(response, key)}")

    @classmethod
    def load(cls, path) -> "Detector":
        """The detector of a YAML file (unknown keys and wrong types are refused)."""
        return load_yaml(path, cls)

    @classmethod
    def from_mapping(cls, data: dict | None) -> "Detector":
        return from_dict(cls, data or {}, "detector")

    def muons_seen(self, muons: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Smear particle-level muons (N, k, 4), zero rows for absent ones; returns (muons (N, k, 4)
        pT-ordered with zeros where lost, count (N,))."""
        r = self.muons
        pt, eta, phi, m = pt_eta_phi_m(muons)
        present = pt > 0
        sigma = np.hypot(r.a, r.b * pt)
        pt = pt * (1.0 + sigma * rng.standard_normal(pt.shape))
        eta = eta + r.angle * rng.standard_normal(eta.shape)
        phi = phi + r.angle * rng.standard_normal(phi.shape)
        found = present & (rng.random(pt.shape) < r.efficiency) & (np.abs(eta) < r.eta_max) & (pt >= r.pt_min)
        return _ordered(from_pt_eta_phi_m(pt, eta, phi, m), found)

    def jets_seen(self, jets: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Smear particle-level jets (N, J, 4), zero rows for absent ones; returns (jets (N, J, 4)
        pT-ordered with zeros where lost, count (N,))."""
        r = self.jets
        pt, eta, phi, m = pt_eta_phi_m(jets)
        present = pt > 0
        energy = np.where(present, jets[..., 0], 1.0)
        rel = np.hypot(r.stochastic / np.sqrt(np.maximum(energy, 1e-3)), r.constant)
        scale = np.clip(1.0 + rel * rng.standard_normal(pt.shape), 0.0, None)
        pt, m = pt * scale, m * scale  # E and |p| scale together: direction and velocity kept
        eta = eta + r.angle * rng.standard_normal(eta.shape)
        phi = phi + r.angle * rng.standard_normal(phi.shape)
        found = present & (rng.random(pt.shape) < r.efficiency) & (np.abs(eta) < r.eta_max) & (pt >= r.pt_min)
        return _ordered(from_pt_eta_phi_m(pt, eta, phi, m), found)


def _ordered(p: np.ndarray, found: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Objects ``found`` first, by decreasing pT; the others zeroed."""
    p = np.where(found[..., None], p, 0.0)
    key = np.where(found, -np.hypot(p[..., 1], p[..., 2]), np.inf)
    order = np.argsort(key, axis=1, kind="stable")
    return np.take_along_axis(p, order[..., None], axis=1), found.sum(axis=1)
