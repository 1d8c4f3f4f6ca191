"""Z/gamma* (-> mu mu) + 1, 2, 3 jets at parton level: momenta <-> network features.

Each object is (pT, eta, phi, m). What the networks see, for an event with n jets:

* muons ordered by pT (mu1, mu2), jets ordered by pT (j1 ... jn);
* ``log(pT - pT_min)`` for the transverse momenta (pT_min: the generation cut), ``eta`` as it is,
  ``atanh(phi / pi)`` for azimuths measured from the leading muon (so mu1's azimuth, always 0,
  is left out);
* masses are left out: the objects are massless partons and muons (they are rebuilt with m = 0);
* the **leading jet recoils**: at leading order the final state balances in the transverse plane,
  so j1's pT and azimuth follow from the other objects, ``pT(j1) = -(pT(mu1) + pT(mu2) + pT(j2) +
  ...)`` as vectors; a density over all (pT, eta, phi) would live on a lower-dimensional surface.

The free features, in blocks that match the networks (:mod:`nis.generative.inn`)::

    base (every n)   log(pT_mu1 - pT_min), eta_mu1, log(pT_mu2 - pT_min), eta_mu2, atanh(phi_mu2/pi), eta_j1
    jet 2 (n >= 2)   log(pT_j2 - pT_min), eta_j2, atanh(phi_j2/pi)
    jet 3 (n == 3)   log(pT_j3 - pT_min), eta_j3, atanh(phi_j3/pi)

6 + 3 (n - 1) numbers. :class:`Whitening` then standardises and whitens them per multiplicity
with the Cholesky factor of their covariance, ``z = L^-1 (x - mean)``: lower triangular, so the
whitened base block depends on the base features only and the blocks keep their meaning.
Generation draws a uniform overall azimuth and assigns mu+ to the leading muon with the
training sample's frequency.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from nis.events.kinematics import massless, pt_eta_phi, wrap

__all__ = [
    "BLOCK_DIMS", "MULTIPLICITIES", "feature_dims", "to_features", "from_features", "observables",
    "Whitening", "min_jet_delta_r", "FeatureError",
]

MULTIPLICITIES = (1, 2, 3)
BLOCK_DIMS = (6, 3, 3)  # base, second jet, third jet
PHI_CLAMP = 1.0 - 1e-9


class FeatureError(ValueError):
    """Events that do not fit the Z + jets layout."""


def feature_dims(n_jets: int) -> int:
    """Number of free features of an event with ``n_jets`` jets."""
    if n_jets not in MULTIPLICITIES:
        raise FeatureError(f"{n_jets} jets: the Z + jets models know {MULTIPLICITIES} jets")
    return sum(BLOCK_DIMS[:n_jets])


def _split(momenta: np.ndarray, labels: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(muons pT-ordered (N, 2, 4), jets pT-ordered (N, n, 4), leading muon is mu+ (N,))."""
    mu = [i for i, x in enumerate(labels) if x in ("mu+", "mu-")]
    jets = [i for i, x in enumerate(labels) if x == "j"]
    if len(mu) != 2 or len(mu) + len(jets) != len(labels) or len(jets) not in MULTIPLICITIES:
        raise FeatureError(
            f"particles {labels}: the Z + jets models need mu+ mu- and 1 to 3 'j' (events of"
            " nis integrate examples/generative/zmumu_<n>j.yaml --hdf5)"
        )
    m = momenta[:, mu]
    order = np.argsort(-np.hypot(m[..., 1], m[..., 2]), axis=1)
    muons = np.take_along_axis(m, order[..., None], axis=1)
    lead_plus = np.where(order[:, 0] == 0, labels[mu[0]] == "mu+", labels[mu[1]] == "mu+")
    j = momenta[:, jets]
    order = np.argsort(-np.hypot(j[..., 1], j[..., 2]), axis=1)
    return muons, np.take_along_axis(j, order[..., None], axis=1), lead_plus


def to_features(momenta: np.ndarray, labels: list[str], pt_min_mu: float, pt_min_j: float):
    """Momenta (N, 2 + n, 4) with particle ``labels`` -> (features (N, 6 + 3(n-1)), n, leading muon
    is mu+ (N,) bool)."""
    muons, jets, lead_plus = _split(np.asarray(momenta, dtype=np.float64), labels)
    n = jets.shape[1]
    pt_m, eta_m, phi_m = pt_eta_phi(muons)
    pt_j, eta_j, phi_j = pt_eta_phi(jets)
    if (pt_m <= pt_min_mu).any() or (n > 1 and (pt_j[:, 1:] <= pt_min_j).any()):
        raise FeatureError(f"events below the pT minima (muons {pt_min_mu}, jets {pt_min_j} GeV): set pt_min lower")
    ref = phi_m[:, :1]
    aphi = lambda phi: np.arctanh(np.clip(wrap(phi - ref) / np.pi, -PHI_CLAMP, PHI_CLAMP))  # noqa: E731
    cols = [np.log(pt_m[:, 0] - pt_min_mu), eta_m[:, 0], np.log(pt_m[:, 1] - pt_min_mu), eta_m[:, 1],
            aphi(phi_m[:, 1:2])[:, 0], eta_j[:, 0]]
    for k in range(1, n):
        cols += [np.log(pt_j[:, k] - pt_min_j), eta_j[:, k], aphi(phi_j[:, k:k + 1])[:, 0]]
    return np.stack(cols, axis=1), n, lead_plus


def from_features(x: np.ndarray, n: int, pt_min_mu: float, pt_min_j: float, azimuth: np.ndarray,
                  lead_plus: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Features (N, 6 + 3(n-1)) -> (momenta (N, 2 + n, 4) ordered mu+, mu-, jets by pT; labels).

    azimuth (N,): the leading muon's azimuth; lead_plus (N,) bool: the leading muon is the mu+.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.shape[1] != feature_dims(n):
        raise FeatureError(f"{x.shape[1]} features for {n} jets; expected {feature_dims(n)}")
    phi = lambda a: azimuth + np.pi * np.tanh(a)  # noqa: E731
    mu1 = massless(pt_min_mu + np.exp(x[:, 0]), x[:, 1], azimuth)
    mu2 = massless(pt_min_mu + np.exp(x[:, 2]), x[:, 3], phi(x[:, 4]))
    others = [massless(pt_min_j + np.exp(x[:, 3 * k + 3]), x[:, 3 * k + 4], phi(x[:, 3 * k + 5])) for k in range(1, n)]
    recoil = -(mu1 + mu2 + sum(others, np.zeros_like(mu1)))
    pt1 = np.hypot(recoil[:, 1], recoil[:, 2])
    j1 = massless(pt1, x[:, 5], np.arctan2(recoil[:, 2], recoil[:, 1]))
    jets = np.stack([j1] + others, axis=1)
    order = np.argsort(-np.hypot(jets[..., 1], jets[..., 2]), axis=1)
    jets = np.take_along_axis(jets, order[..., None], axis=1)
    plus = np.where(lead_plus[:, None], mu1, mu2)
    minus = np.where(lead_plus[:, None], mu2, mu1)
    return np.concatenate([plus[:, None], minus[:, None], jets], axis=1), ["mu+", "mu-"] + ["j"] * n


def min_jet_delta_r(momenta: np.ndarray, labels: list[str]) -> np.ndarray:
    """Smallest Delta R between two jets per event (inf with one jet)."""
    jets = np.asarray(momenta)[:, [i for i, x in enumerate(labels) if x == "j"]]
    _, eta, phi = pt_eta_phi(jets)
    best = np.full(jets.shape[0], np.inf)
    for a in range(jets.shape[1]):
        for b in range(a + 1, jets.shape[1]):
            best = np.minimum(best, np.hypot(eta[:, a] - eta[:, b], wrap(phi[:, a] - phi[:, b])))
    return best


def observables(momenta: np.ndarray, labels: list[str]) -> dict[str, np.ndarray]:
    """The observables of the plots: pT and eta of the pT-ordered muons and jets, m_mumu,
    pT_mumu and Delta R of jet pairs."""
    muons, jets, _ = _split(np.asarray(momenta, dtype=np.float64), labels)
    pt_m, eta_m, _ = pt_eta_phi(muons)
    pt_j, eta_j, phi_j = pt_eta_phi(jets)
    z = muons.sum(axis=1)
    out = {
        "pt_mu1": pt_m[:, 0], "pt_mu2": pt_m[:, 1], "eta_mu1": eta_m[:, 0], "eta_mu2": eta_m[:, 1],
        "m_mumu": np.sqrt(np.maximum(z[:, 0] ** 2 - (z[:, 1:] ** 2).sum(axis=1), 0.0)),
        "pt_mumu": np.hypot(z[:, 1], z[:, 2]),
    }
    for k in range(jets.shape[1]):
        out[f"pt_j{k + 1}"], out[f"eta_j{k + 1}"] = pt_j[:, k], eta_j[:, k]
    for a in range(jets.shape[1]):
        for b in range(a + 1, jets.shape[1]):
            out[f"dr_j{a + 1}j{b + 1}"] = np.hypot(eta_j[:, a] - eta_j[:, b], wrap(phi_j[:, a] - phi_j[:, b]))
    return out


class Whitening(nn.Module):
    """Per multiplicity: ``z = L^-1 (x - mean)`` with ``cov = L L^T`` (buffers, so they travel with
    the model's state_dict). Fit with :meth:`fit` on the (weighted) training features."""

    def __init__(self) -> None:
        super().__init__()
        for n in MULTIPLICITIES:
            d = feature_dims(n)
            self.register_buffer(f"mean_{n}", torch.zeros(d, dtype=torch.float64))
            self.register_buffer(f"chol_{n}", torch.eye(d, dtype=torch.float64))

    def fit(self, n: int, x: np.ndarray, weights: np.ndarray | None = None) -> None:
        w = np.ones(len(x)) if weights is None else np.asarray(weights, dtype=np.float64)
        mean = np.average(x, axis=0, weights=w)
        cov = np.cov(x, rowvar=False, aweights=w) + 1e-9 * np.eye(x.shape[1])
        getattr(self, f"mean_{n}").copy_(torch.from_numpy(mean))
        getattr(self, f"chol_{n}").copy_(torch.from_numpy(np.linalg.cholesky(cov)))

    def forward(self, x: Tensor, n: int) -> Tensor:
        """Whiten features x (N, d) of multiplicity n (float64 in, float64 out)."""
        L = getattr(self, f"chol_{n}")
        return torch.linalg.solve_triangular(L, (x - getattr(self, f"mean_{n}")).T, upper=False).T

    def inverse(self, z: Tensor, n: int) -> Tensor:
        return z.to(torch.float64) @ getattr(self, f"chol_{n}").T + getattr(self, f"mean_{n}")
