"""Kinematics of four-momentum arrays in numpy: ``(..., 4)`` as ``(E, px, py, pz)`` in GeV.

The event-level code (showered files, the detector, unfolding and generative features, jet
images) works on numpy arrays; :mod:`nis.phasespace.kinematics` holds the torch versions the
integrator needs. Objects of pT = 0 (zero-padded rows) get eta = 0.
"""

from __future__ import annotations

import numpy as np

__all__ = ["pt_eta_phi", "pt_eta_phi_m", "mass", "wrap", "from_pt_eta_phi_m", "from_pt_eta_phi_e", "massless"]


def pt_eta_phi(p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """pT, pseudorapidity and azimuth in (-pi, pi] of momenta (..., 4)."""
    pt = np.hypot(p[..., 1], p[..., 2])
    eta = np.arcsinh(p[..., 3] / np.where(pt > 0, pt, 1.0))
    return pt, eta, np.arctan2(p[..., 2], p[..., 1])


def mass(p: np.ndarray) -> np.ndarray:
    """Invariant mass ``sqrt(max(E^2 - |p|^2, 0))`` of momenta (..., 4)."""
    return np.sqrt(np.maximum(p[..., 0] ** 2 - (p[..., 1:] ** 2).sum(-1), 0.0))


def pt_eta_phi_m(p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """pT, pseudorapidity, azimuth and mass of momenta (..., 4)."""
    p = np.asarray(p, dtype=np.float64)
    return (*pt_eta_phi(p), mass(p))


def wrap(phi: np.ndarray) -> np.ndarray:
    """An angle folded into [-pi, pi)."""
    return (phi + np.pi) % (2 * np.pi) - np.pi


def from_pt_eta_phi_m(pt, eta, phi, m) -> np.ndarray:
    """Momenta (..., 4) from pT, pseudorapidity, azimuth and mass."""
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    return np.stack([np.sqrt(px**2 + py**2 + pz**2 + m * m), px, py, pz], axis=-1)


def from_pt_eta_phi_e(pt, eta, phi, energy) -> np.ndarray:
    """Momenta (..., 4) from pT, pseudorapidity, azimuth and energy."""
    pt = np.asarray(pt, dtype=np.float64)
    return np.stack([np.asarray(energy, dtype=np.float64), pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)], -1)


def massless(pt, eta, phi) -> np.ndarray:
    """Massless momenta (..., 4) from pT, pseudorapidity and azimuth (E = pT cosh eta)."""
    return from_pt_eta_phi_e(pt, eta, phi, pt * np.cosh(eta))
