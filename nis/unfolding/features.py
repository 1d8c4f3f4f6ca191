"""What the unfolding networks see: parton-level truth and the detector-level condition.

**Truth** (:class:`TruthFeatures`): the parton-level final state of Z/gamma* (-> mu+ mu-) + jets
as a fixed-length vector, built around the dimuon system so that the unfolded observables are
features themselves::

    log(pT_Z - pT_floor)           pT of the mu+ mu- pair (GeV) above its lower bound
    y_Z                            its rapidity
    bw(m_mumu)                     atanh((2/pi) atan((m^2 - M_Z^2) / (M_Z Gamma_Z))): the
                                   Breit-Wigner peak spread out over the real line
    atanh(cos theta*)              the mu+ direction in the dimuon rest frame (reached by a pure
    atanh(phi*/pi)                 boost from the lab; theta* from the beam axis, phi* from phi_Z)
    eta_j1                         the first jet in the file's order (the recoil jet)
    log pT, eta, atanh(psi/pi)     each further jet; psi = phi - phi_Z - pi (wrapped)

Azimuthal symmetry: every azimuth is measured from the dimuon's, phi_Z, which itself is not a
feature (:meth:`TruthFeatures.from_features` takes it as an argument, default 0). At leading
order the final state balances in the transverse plane, so with ``recoil=True`` (the default)
the recoil jet's pT and azimuth are left out and rebuilt from the balance (a density over all
of them would live on a lower-dimensional surface); events that do not balance to 1e-6 of
their scalar pT sum are refused. ``recoil=False`` keeps them as ``log pT, eta, atanh(psi/pi)``
(for samples with intrinsic kT). Object masses are constants per slot (fitted as the median of
the training events; LO partons and muons are massless), so momenta come back from features
exactly for massless (or fixed-mass) objects. Z + 1 jet: 6 features.

``pT_floor`` is fitted too: just below the smallest pT_Z of the training events (times
1 - 1e-3). At LO with a jet cut pT_Z is bounded from below (by the jet's pT cut), and the log of
the distance to the bound keeps every posterior sample above it, where a plain log pT_Z lets the
flow leak below the cut; without a cut the floor is near 0 and the feature is log pT_Z.

**Detector condition** (:func:`detector_condition`): the two detector muons (pT-ordered) and up
to J jets as a flat array laid out by a :class:`ConditionLayout`::

    objects (2 + J slots) x (log(1 + pT), eta, cos dphi, sin dphi, log(1 + m))
    mask    (2 + J)       1 for a real object, 0 for padding (jets beyond n_jets)
    global  (4)           log(1 + pT_mumu), y_mumu, bw(m_mumu), log(1 + |sum of jet pT vectors|)
    one-hot (4)           detector jet multiplicity 0, 1, 2, >= 3

(dphi: azimuth relative to the leading detector muon, as cos and sin so that the back-to-back
muons do not sit on the wrap-around at +-pi; padded slots are zero). :class:`FeatureScaler`
standardises such arrays with constants fitted on the training events and kept as buffers in
the model: object features per object type (muon, jet) over the real objects only, global
features per column; mask and one-hot pass unchanged and padded slots stay exactly zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from nis.events.kinematics import from_pt_eta_phi_m, mass, pt_eta_phi, wrap

__all__ = [
    "FeatureError", "TruthFeatures", "ConditionLayout", "FeatureScaler", "detector_layout", "detector_condition",
    "multiplicity_onehot", "truth_observables", "detector_observables", "bw_map", "bw_unmap", "boost",
    "MULTIPLICITY_CAP", "OBJECT_FEATURES", "GLOBAL_FEATURES",
]

M_Z, GAMMA_Z = 91.1876, 2.4952
MULTIPLICITY_CAP = 3  #: the jet-multiplicity one-hot has classes 0, 1, ..., CAP - 1 and >= CAP
CLAMP = 1.0 - 1e-12  #: |argument| of atanh is held below this
BALANCE_TOLERANCE = 1e-6  #: relative transverse imbalance allowed with recoil=True
OBJECT_FEATURES = ("log(1+pT)", "eta", "cos(dphi)", "sin(dphi)", "log(1+m)")
GLOBAL_FEATURES = ("log(1+pT_mumu)", "y_mumu", "bw(m_mumu)", "log(1+pT_jets)")
MUON, JET = 0, 1


class FeatureError(ValueError):
    """Events that do not fit the features' layout."""


# -- kinematics ----------------------------------------------------------------------------------
def _rapidity(p: np.ndarray) -> np.ndarray:
    e, pz = p[..., 0], p[..., 3]
    return 0.5 * np.log(np.maximum(e + pz, 1e-300) / np.maximum(e - pz, 1e-300))


def _atanh(x: np.ndarray) -> np.ndarray:
    return np.arctanh(np.clip(x, -CLAMP, CLAMP))


def bw_map(m: np.ndarray) -> np.ndarray:
    """``atanh((2/pi) atan((m^2 - M_Z^2) / (M_Z Gamma_Z)))``: the Z peak flattened onto R."""
    t = np.arctan((np.asarray(m, dtype=np.float64) ** 2 - M_Z**2) / (M_Z * GAMMA_Z))
    return _atanh(2 * t / np.pi)


M_FLOOR = 1e-6  #: GeV; below m = 0 the Breit-Wigner map has no inverse, so features there give this


def bw_unmap(a: np.ndarray) -> np.ndarray:
    """The inverse of :func:`bw_map` (at least ``M_FLOOR``: far-out features map to m ~ 0)."""
    t = 0.5 * np.pi * np.tanh(np.asarray(a, dtype=np.float64))
    return np.sqrt(np.maximum(M_Z**2 + M_Z * GAMMA_Z * np.tan(t), M_FLOOR**2))


def boost(p: np.ndarray, q: np.ndarray, m_q: np.ndarray | None = None) -> np.ndarray:
    """Four-momenta p (..., 4) given in the rest frame of q (..., 4) (mass m_q, default from q),
    boosted to the frame where q is what it is: ``E' = (E_p E_q + p.q) / m_q``,
    ``p' = p + q (E_p + E') / (E_q + m_q)``. The rest frame of q: boost by (E_q, -q)."""
    m_q = mass(q) if m_q is None else np.asarray(m_q, dtype=np.float64)
    e = (p[..., 0] * q[..., 0] + (p[..., 1:] * q[..., 1:]).sum(-1)) / m_q
    k = (p[..., 0] + e) / (q[..., 0] + m_q)
    return np.concatenate([e[..., None], p[..., 1:] + k[..., None] * q[..., 1:]], axis=-1)


def _muon_jet_slots(labels: list[str]) -> tuple[int, int, list[int]]:
    if labels.count("mu+") != 1 or labels.count("mu-") != 1 or len(labels) < 3:
        raise FeatureError(f"parton labels {labels}: the unfolding features need one mu+, one mu- and at least one jet")
    return labels.index("mu+"), labels.index("mu-"), [i for i, x in enumerate(labels) if x not in ("mu+", "mu-")]


# -- truth ---------------------------------------------------------------------------------------
@dataclass
class TruthFeatures:
    """Parton-level momenta (N, k, 4) in the order of ``labels`` <-> features (N, dims); see the
    module docstring. ``masses``: per slot, None until :meth:`fit` (zeros if never fitted)."""

    labels: list
    recoil: bool = True
    masses: list | None = field(default=None)
    pt_floor: float = 0.0  #: GeV, the lower bound of pT_Z (fitted)

    def __post_init__(self):
        self.labels = [str(x) for x in self.labels]
        self._plus, self._minus, self._jets = _muon_jet_slots(self.labels)

    @property
    def dims(self) -> int:
        return 5 + (1 if self.recoil else 3) + 3 * (len(self._jets) - 1)

    @property
    def names(self) -> list[str]:
        out = ["log(pT_Z - pT_floor)", "y_Z", "bw(m_mumu)", "atanh(cos theta*)", "atanh(phi*/pi)"]
        out += ["eta_j1"] if self.recoil else ["log pT_j1", "eta_j1", "atanh(psi_j1/pi)"]
        for k in range(2, len(self._jets) + 1):
            out += [f"log pT_j{k}", f"eta_j{k}", f"atanh(psi_j{k}/pi)"]
        return out

    def as_dict(self) -> dict:
        return {"labels": list(self.labels), "recoil": self.recoil, "masses": self.masses, "pt_floor": self.pt_floor}

    def _check(self, momenta: np.ndarray) -> np.ndarray:
        p = np.asarray(momenta, dtype=np.float64)
        if p.ndim != 3 or p.shape[1:] != (len(self.labels), 4):
            raise FeatureError(
                f"momenta must have shape (N, {len(self.labels)}, 4) for labels {self.labels}; got {p.shape}"
            )
        return p

    def fit(self, momenta: np.ndarray) -> "TruthFeatures":
        """Set the slot masses to the median invariant mass of each parton in ``momenta`` and the
        pT_Z floor just below their smallest pT_Z."""
        p = self._check(momenta)
        self.masses = [float(np.median(mass(p[:, i]))) if len(p) else 0.0 for i in range(len(self.labels))]
        pt_z = pt_eta_phi(p[:, self._plus] + p[:, self._minus])[0]
        self.pt_floor = float(pt_z.min()) * (1 - 1e-3) if len(p) else 0.0
        return self

    def _slot_masses(self) -> np.ndarray:
        return np.zeros(len(self.labels)) if self.masses is None else np.asarray(self.masses, dtype=np.float64)

    def to_features(self, momenta: np.ndarray) -> np.ndarray:
        """Momenta (N, k, 4) -> features (N, dims)."""
        p = self._check(momenta)
        mp, mm = p[:, self._plus], p[:, self._minus]
        z = mp + mm
        pt_z, _, phi_z = pt_eta_phi(z)
        if (pt_z <= 0).any():
            raise FeatureError("events with a dimuon pT of zero: the features measure azimuths from the dimuon's")
        if (pt_z <= self.pt_floor).any():
            raise FeatureError(f"events with a dimuon pT at or below the fitted floor {self.pt_floor:.4g} GeV: fit"
                               " the features on a sample that covers them")
        m_z = mass(z)
        if (m_z <= 0).any():
            raise FeatureError("events with a dimuon mass of zero")
        rest = boost(mp, z * np.array([1.0, -1.0, -1.0, -1.0]), m_z)
        cos = rest[:, 3] / np.linalg.norm(rest[:, 1:], axis=1)
        phi_star = wrap(np.arctan2(rest[:, 2], rest[:, 1]) - phi_z)
        cols = [np.log(pt_z - self.pt_floor), _rapidity(z), bw_map(m_z), _atanh(cos), _atanh(phi_star / np.pi)]
        jets = p[:, self._jets]
        pt_j, eta_j, phi_j = pt_eta_phi(jets)
        if (pt_j <= 0).any():
            raise FeatureError("parton-level jets with pT = 0")
        psi = lambda k: _atanh(wrap(phi_j[:, k] - phi_z - np.pi) / np.pi)  # noqa: E731
        if self.recoil:
            imbalance = np.hypot(*(z[:, 1:3] + jets[:, :, 1:3].sum(axis=1)).T)
            scale = pt_z + pt_j.sum(axis=1)
            bad = imbalance > BALANCE_TOLERANCE * scale
            if bad.any():
                raise FeatureError(
                    f"{int(bad.sum())} of {len(p)} events do not balance in the transverse plane (up to"
                    f" {float(np.max(imbalance / scale)):.2g} of their scalar pT sum): set features.recoil to false"
                )
            cols.append(eta_j[:, 0])
        else:
            cols += [np.log(pt_j[:, 0]), eta_j[:, 0], psi(0)]
        for k in range(1, len(self._jets)):
            cols += [np.log(pt_j[:, k]), eta_j[:, k], psi(k)]
        return np.stack(cols, axis=1)

    def from_features(self, x: np.ndarray, azimuth: np.ndarray | float = 0.0) -> np.ndarray:
        """Features (N, dims) -> momenta (N, k, 4) in the order of ``labels``; ``azimuth``: the
        dimuon's azimuth phi_Z (a number or (N,))."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.dims:
            raise FeatureError(f"features must have shape (N, {self.dims}); got {x.shape}")
        n = len(x)
        az = np.broadcast_to(np.asarray(azimuth, dtype=np.float64), (n,))
        masses = self._slot_masses()
        pt_z, y_z, m = self.pt_floor + np.exp(x[:, 0]), x[:, 1], bw_unmap(x[:, 2])
        cos, phi_star = np.tanh(x[:, 3]), np.pi * np.tanh(x[:, 4])
        m_t = np.sqrt(m**2 + pt_z**2)
        z = np.stack([m_t * np.cosh(y_z), pt_z * np.cos(az), pt_z * np.sin(az), m_t * np.sinh(y_z)], axis=1)
        m1, m2 = masses[self._plus], masses[self._minus]
        e1 = (m**2 + m1**2 - m2**2) / (2 * m)
        p1 = np.sqrt(np.maximum(e1**2 - m1**2, 0.0))
        sin, phi = np.sqrt(np.maximum(1 - cos**2, 0.0)), phi_star + az
        rest = np.stack([e1, p1 * sin * np.cos(phi), p1 * sin * np.sin(phi), p1 * cos], axis=1)
        mu_plus = boost(rest, z, m)
        out = np.zeros((n, len(self.labels), 4))
        out[:, self._plus], out[:, self._minus] = mu_plus, z - mu_plus
        col = 6 if self.recoil else 8
        others = []
        for slot in self._jets[1:]:
            pt, eta, psi = np.exp(x[:, col]), x[:, col + 1], np.pi * np.tanh(x[:, col + 2])
            out[:, slot] = from_pt_eta_phi_m(pt, eta, az + np.pi + psi, masses[slot])
            others.append(out[:, slot])
            col += 3
        first = self._jets[0]
        if self.recoil:
            t = -(z[:, 1:3] + sum((o[:, 1:3] for o in others), np.zeros((n, 2))))
            out[:, first] = from_pt_eta_phi_m(np.hypot(t[:, 0], t[:, 1]), x[:, 5], np.arctan2(t[:, 1], t[:, 0]),
                                             masses[first])
        else:
            out[:, first] = from_pt_eta_phi_m(np.exp(x[:, 5]), x[:, 6], az + np.pi + np.pi * np.tanh(x[:, 7]),
                                             masses[first])
        return out


def truth_observables(momenta: np.ndarray, labels: list[str]) -> dict[str, np.ndarray]:
    """Parton-level observables: pt_z, y_z, m_mumu, pt_mu1, pt_mu2 (pT-ordered muons), pt_j1 and
    eta_j1 (the hardest jet)."""
    p = np.asarray(momenta, dtype=np.float64)
    plus, minus, jets = _muon_jet_slots([str(x) for x in labels])
    z = p[:, plus] + p[:, minus]
    pt_mu = np.stack([np.hypot(p[:, i, 1], p[:, i, 2]) for i in (plus, minus)], axis=1)
    pt_j, eta_j, _ = pt_eta_phi(p[:, jets])
    lead = np.argmax(pt_j, axis=1)
    rows = np.arange(len(p))
    return {
        "pt_z": np.hypot(z[:, 1], z[:, 2]), "y_z": _rapidity(z), "m_mumu": mass(z),
        "pt_mu1": pt_mu.max(axis=1), "pt_mu2": pt_mu.min(axis=1),
        "pt_j1": pt_j[rows, lead], "eta_j1": eta_j[rows, lead],
    }


# -- detector condition --------------------------------------------------------------------------
@dataclass(frozen=True)
class ConditionLayout:
    """How a flat condition array is laid out: ``[objects (n_objects x object_features) | mask
    (n_objects) | global (global_features) | one-hot (onehot_features)]``. ``object_types``:
    the type index of every object slot (0: muon, 1: jet). A plain vector of ``d`` numbers is
    ``ConditionLayout(global_features=d)``."""

    object_types: tuple = ()
    object_features: int = 0
    global_features: int = 0
    onehot_features: int = 0

    @property
    def n_objects(self) -> int:
        return len(self.object_types)

    @property
    def n_types(self) -> int:
        return max(self.object_types) + 1 if self.object_types else 0

    @property
    def width(self) -> int:
        return self.n_objects * (self.object_features + 1) + self.global_features + self.onehot_features

    def as_dict(self) -> dict:
        return {"object_types": list(self.object_types), "object_features": self.object_features,
                "global_features": self.global_features, "onehot_features": self.onehot_features}

    @classmethod
    def from_dict(cls, d: dict) -> "ConditionLayout":
        return cls(tuple(int(t) for t in d["object_types"]), int(d["object_features"]), int(d["global_features"]),
                   int(d["onehot_features"]))

    def split(self, flat):
        """A flat (N, width) array or tensor -> (objects (N, n_objects, object_features), mask
        (N, n_objects), global (N, G), one-hot (N, H))."""
        if flat.ndim != 2 or flat.shape[1] != self.width:
            raise ValueError(f"condition must have shape (N, {self.width}) for this layout; got {tuple(flat.shape)}")
        n, o, f = flat.shape[0], self.n_objects, self.object_features
        a = o * f
        g = a + o + self.global_features
        return flat[:, :a].reshape(n, o, f), flat[:, a:a + o], flat[:, a + o:g], flat[:, g:]


def detector_layout(max_jets: int) -> ConditionLayout:
    """The layout of :func:`detector_condition` for J = ``max_jets`` jet slots."""
    return ConditionLayout((MUON, MUON) + (JET,) * max_jets, len(OBJECT_FEATURES), len(GLOBAL_FEATURES),
                           MULTIPLICITY_CAP + 1)


def multiplicity_onehot(n_jets: np.ndarray, cap: int = MULTIPLICITY_CAP) -> np.ndarray:
    """(N, cap + 1): classes 0, 1, ..., cap - 1 jets and >= cap jets."""
    n = np.minimum(np.asarray(n_jets, dtype=np.int64), cap)
    return np.eye(cap + 1)[n]


def _ordered_muons(muons: np.ndarray) -> np.ndarray:
    order = np.argsort(-np.hypot(muons[..., 1], muons[..., 2]), axis=1, kind="stable")
    return np.take_along_axis(muons, order[..., None], axis=1)


def detector_condition(muons: np.ndarray, jets: np.ndarray, n_jets: np.ndarray) -> np.ndarray:
    """Detector-level events -> flat conditions (N, width) laid out by
    ``detector_layout(J)`` (see the module docstring). muons (N, 2, 4) (both present: the
    selection), jets (N, J, 4) pT-ordered and zero-padded, n_jets (N,)."""
    muons, jets = np.asarray(muons, dtype=np.float64), np.asarray(jets, dtype=np.float64)
    n_jets = np.asarray(n_jets, dtype=np.int64)
    n, big_j = jets.shape[:2]
    if muons.shape != (n, 2, 4) or jets.shape != (n, big_j, 4) or n_jets.shape != (n,):
        raise FeatureError(f"detector muons (N, 2, 4), jets (N, J, 4) and n_jets (N,); got {muons.shape}, "
                           f"{jets.shape}, {n_jets.shape}")
    if (n_jets < 0).any() or (n_jets > big_j).any():
        raise FeatureError(f"n_jets must lie in [0, {big_j}]")
    muons = _ordered_muons(muons)
    if (np.hypot(muons[..., 1], muons[..., 2]) <= 0).any():
        raise FeatureError("the detector condition needs two detector muons per event (the selection)")
    objects = np.concatenate([muons, jets], axis=1)
    mask = np.concatenate([np.ones((n, 2)), (np.arange(big_j)[None, :] < n_jets[:, None]).astype(np.float64)], axis=1)
    pt, eta, phi = pt_eta_phi(objects)
    dphi = phi - phi[:, :1]
    per = np.stack([np.log1p(pt), eta, np.cos(dphi), np.sin(dphi), np.log1p(mass(objects))], axis=-1)
    per = np.where(mask[..., None] > 0, per, 0.0)
    z = muons.sum(axis=1)
    jet_sum = np.where(mask[:, 2:, None] > 0, jets, 0.0).sum(axis=1)
    glob = np.stack([np.log1p(np.hypot(z[:, 1], z[:, 2])), _rapidity(z), bw_map(mass(z)),
                     np.log1p(np.hypot(jet_sum[:, 1], jet_sum[:, 2]))], axis=1)
    return np.concatenate([per.reshape(n, -1), mask, glob, multiplicity_onehot(n_jets)], axis=1)


def detector_observables(muons: np.ndarray, jets: np.ndarray, n_jets: np.ndarray) -> dict[str, np.ndarray]:
    """Detector-level counterparts of :func:`truth_observables`: pt_z, y_z, m_mumu of the muon
    pair, pt_j1 and eta_j1 of the leading jet (NaN without jets), n_jets."""
    muons, jets = np.asarray(muons, dtype=np.float64), np.asarray(jets, dtype=np.float64)
    n_jets = np.asarray(n_jets)
    z = muons.sum(axis=1)
    mu = _ordered_muons(muons)
    pt_j, eta_j, _ = pt_eta_phi(jets[:, 0])
    has = n_jets > 0
    return {
        "pt_z": np.hypot(z[:, 1], z[:, 2]), "y_z": _rapidity(z), "m_mumu": mass(z),
        "pt_mu1": np.hypot(mu[:, 0, 1], mu[:, 0, 2]), "pt_mu2": np.hypot(mu[:, 1, 1], mu[:, 1, 2]),
        "pt_j1": np.where(has, pt_j, np.nan), "eta_j1": np.where(has, eta_j, np.nan), "n_jets": n_jets,
    }


# -- standardisation -----------------------------------------------------------------------------
def _weighted_moments(values: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean and standard deviation of values (M, F) per column; std 1 where it is
    (nearly) zero or there are no values."""
    total = weights.sum()
    if values.shape[0] == 0 or total <= 0:
        return np.zeros(values.shape[1]), np.ones(values.shape[1])
    mean = (weights[:, None] * values).sum(0) / total
    std = np.sqrt((weights[:, None] * (values - mean) ** 2).sum(0) / total)
    return mean, np.where(std > 1e-9, std, 1.0)


class FeatureScaler(nn.Module):
    """Standardisation of flat arrays of a :class:`ConditionLayout` (constants in buffers):
    object features per object type over the real objects, global features per column; the
    mask and the one-hot pass unchanged, padded object slots come out exactly zero."""

    def __init__(self, layout: ConditionLayout) -> None:
        super().__init__()
        self.layout = layout
        t, f, g = max(layout.n_types, 1), layout.object_features, layout.global_features
        self.register_buffer("object_mean", torch.zeros(t, f, dtype=torch.float64))
        self.register_buffer("object_std", torch.ones(t, f, dtype=torch.float64))
        self.register_buffer("global_mean", torch.zeros(g, dtype=torch.float64))
        self.register_buffer("global_std", torch.ones(g, dtype=torch.float64))

    def fit(self, flat: np.ndarray, weights: np.ndarray | None = None) -> "FeatureScaler":
        """Fit to flat arrays (N, width) with event weights (their absolute values) or none."""
        flat = np.asarray(flat, dtype=np.float64)
        w = np.ones(len(flat)) if weights is None else np.abs(np.asarray(weights, dtype=np.float64))
        obj, mask, glob, _ = self.layout.split(flat)
        types = np.asarray(self.layout.object_types, dtype=np.int64)
        for t in range(self.layout.n_types):
            values = obj[:, types == t].reshape(-1, self.layout.object_features)
            ww = (w[:, None] * mask[:, types == t]).reshape(-1)
            keep = ww > 0
            mean, std = _weighted_moments(values[keep], ww[keep])
            self.object_mean[t] = torch.from_numpy(mean)
            self.object_std[t] = torch.from_numpy(std)
        mean, std = _weighted_moments(glob, w)
        self.global_mean.copy_(torch.from_numpy(mean))
        self.global_std.copy_(torch.from_numpy(std))
        return self

    def forward(self, flat: Tensor) -> Tensor:
        """Standardise flat (N, width); returns the input's dtype."""
        obj, mask, glob, onehot = self.layout.split(flat)
        parts = []
        if self.layout.n_objects:
            types = torch.as_tensor(self.layout.object_types, device=flat.device)
            mean, std = self.object_mean[types].to(flat), self.object_std[types].to(flat)
            real = mask.unsqueeze(-1) > 0
            obj = torch.where(real, (obj - mean) / std, torch.zeros((), dtype=flat.dtype, device=flat.device))
            parts += [obj.reshape(flat.shape[0], -1), mask]
        parts += [(glob - self.global_mean.to(flat)) / self.global_std.to(flat), onehot]
        return torch.cat(parts, dim=1)

    def inverse(self, flat: Tensor) -> Tensor:
        """Undo :meth:`forward` for a layout of global features only (a plain vector)."""
        if self.layout.n_objects or self.layout.onehot_features:
            raise ValueError("inverse is for plain vectors (ConditionLayout(global_features=d))")
        return flat * self.global_std.to(flat) + self.global_mean.to(flat)
