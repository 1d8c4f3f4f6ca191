"""Jet substructure: the jet mass and N-subjettiness tau_1, tau_2 and tau_21 = tau_2 / tau_1.

N-subjettiness (Thaler, Van Tilburg, arXiv:1011.2268) measures how well a jet is described by
N axes::

    tau_N = sum_k pT_k min(dR_1k, ..., dR_Nk)^beta / d0,     d0 = sum_k pT_k R^beta

with k over the jet's constituents, R the jet radius and dR the distance in (rapidity,
azimuth). Here beta = 1 and the N axes are the exclusive kT subjets of the constituents
(:func:`nis.shower.jets.exclusive_subjet_sets`, E-scheme four-momenta, so tau_1's axis is the
jet itself). tau_N lies in [0, 1]-ish; a jet of N hard, narrow prongs has tau_N ~ 0, so a
two-prong W jet has small tau_21, a one-prong QCD jet tau_21 near 1. tau_21 is 0 by convention
when tau_1 = 0 (a jet of one particle).

Momenta are numpy arrays (n, 4) as (E, px, py, pz) in GeV, one jet's constituents.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from nis.phasespace import kinematics as kin
from nis.shower.jets import exclusive_subjet_sets

__all__ = ["jet_mass", "delta_r", "nsubjettiness", "substructure"]


def _torch(p: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(p, dtype=np.float64))


def jet_mass(momenta: np.ndarray) -> float:
    """Invariant mass of the sum of the constituents (n, 4), GeV."""
    return float(kin.mass(_torch(np.asarray(momenta, dtype=np.float64).sum(0))))


def delta_r(momenta: np.ndarray, axes: np.ndarray) -> np.ndarray:
    """Distances sqrt(dy^2 + dphi^2) of every particle (n, 4) to every axis (k, 4): (n, k)."""
    p, a = _torch(momenta), _torch(axes)
    dy = kin.rapidity(p)[:, None] - kin.rapidity(a)[None, :]
    dphi = torch.remainder(kin.azimuth(p)[:, None] - kin.azimuth(a)[None, :] + math.pi, 2 * math.pi) - math.pi
    return torch.sqrt(dy * dy + dphi * dphi).numpy()


def nsubjettiness(momenta: np.ndarray, axes: np.ndarray, beta: float = 1.0, radius: float = 1.0) -> float:
    """tau_N of the constituents (n, 4) for the given N axes (N, 4) (see the module docstring)."""
    momenta = np.asarray(momenta, dtype=np.float64)
    if len(momenta) == 0:
        return 0.0
    pt = np.hypot(momenta[:, 1], momenta[:, 2])
    d0 = pt.sum() * radius**beta
    if len(axes) == 0 or d0 <= 0:
        return 0.0
    dmin = delta_r(momenta, axes).min(axis=1)
    return float((pt * dmin**beta).sum() / d0)


def substructure(
    momenta: np.ndarray, radius: float = 1.0, beta: float = 1.0, subjets: dict | None = None
) -> dict[str, float]:
    """``{"mass", "tau1", "tau2", "tau21"}`` of one jet's constituents (n, 4).

    ``subjets``: :func:`nis.shower.jets.exclusive_subjet_sets` of these constituents for n = 1
    and 2, when already computed (the images use the same clustering); else it is run here.
    """
    momenta = np.asarray(momenta, dtype=np.float64)
    if subjets is None:
        subjets = exclusive_subjet_sets(momenta, (1, 2), "kt")
    tau1 = nsubjettiness(momenta, subjets[1][0], beta, radius)
    tau2 = nsubjettiness(momenta, subjets[2][0], beta, radius)
    return {"mass": jet_mass(momenta) if len(momenta) else 0.0, "tau1": tau1, "tau2": tau2,
            "tau21": tau2 / tau1 if tau1 > 0 else 0.0}
