"""Training data of the Z + jets models: nis event files of 1, 2 and 3 jets as one sample.

:func:`load_zjets` reads one event file per multiplicity (:mod:`nis.events.hdf5`, made by
``nis integrate examples/generative/zmumu_<n>j.yaml --events N --hdf5 FILE``), checks that they
fit together, and splits each into a training and an independent test part (the truth of the
plots). Multiplicities are weighted by their cross sections: the model's multiplicity fractions
are ``sigma_n / sum sigma``. The generation cuts come from the files' settings, so generated
events can be held to the same selection (:func:`passes_cuts`).

**The Delta R "magic" transformation** (:func:`magic_weights`): the minimal Delta R between
jets has a hard edge at its cut (0.4) that a flow smears out. Training events carry a weight
``f(Delta R_min)``, linear from 0 at R- = 0.2 to 1 at R+ = 1.5 and 1 above, so the network learns
the smoother ``f p``; generation undoes it by keeping an event with probability
``f(R_cut) / f(Delta R_min)`` (an unweighted sample of ``p`` again, Delta R_min >= R_cut).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from nis.events.hdf5 import EventFile, read_event_file
from nis.generative.features import MULTIPLICITIES, FeatureError, min_jet_delta_r, observables

__all__ = ["ZJetsSample", "load_zjets", "passes_cuts", "magic_weights", "magic_keep_probability"]


@dataclass
class ZJetsSample:
    """Events per multiplicity: ``train[n]``/``test[n]`` EventFiles, cross sections, cuts."""

    train: dict[int, EventFile]
    test: dict[int, EventFile]
    cross_sections: dict[int, float]
    cuts: dict = field(default_factory=dict)

    @property
    def fractions(self) -> dict[int, float]:
        total = sum(self.cross_sections.values())
        return {n: s / total for n, s in self.cross_sections.items()}


def _cuts(ev: EventFile) -> dict:
    spec = ev.generator.get("integrand", {}) if isinstance(ev.generator, dict) else {}
    return {
        "mass_window": list(spec.get("mass_window", [0.0, np.inf])),
        "muon": dict(spec.get("cuts", {})),
        "jet": dict(spec.get("jet_cuts", {})),
    }


def load_zjets(paths: list[str], test_fraction: float = 0.5, seed: int = 0) -> ZJetsSample:
    """One event file per multiplicity; ``test_fraction`` of each held out as truth."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction}")
    rng = np.random.default_rng(seed)
    train, test, sigma, cuts = {}, {}, {}, None
    for path in paths:
        ev = read_event_file(path)
        n = sum(1 for x in ev.labels if x == "j")
        if sorted(x for x in ev.labels if x != "j") != ["mu+", "mu-"] or n not in MULTIPLICITIES:
            raise FeatureError(f"{path}: particles {ev.labels}; the Z + jets models need mu+ mu- and 1 to 3 'j'")
        if n in train:
            raise FeatureError(f"{path}: a second file with {n} jets; give one file per multiplicity")
        c = _cuts(ev)
        if cuts is None:
            cuts = c
        elif c["muon"] != cuts["muon"] or c["mass_window"] != cuts["mass_window"]:
            raise FeatureError(f"{path}: muon cuts {c} differ from the other files' {cuts}")
        train[n], test[n] = ev.split(test_fraction, rng)
        sigma[n] = ev.cross_section_pb
    cuts["jet_by_n"] = {n: {k: v for k, v in _cuts(train[n])["jet"].items() if k != "partons"} for n in train}
    return ZJetsSample(train=train, test=test, cross_sections=sigma, cuts=cuts)


def passes_cuts(momenta: np.ndarray, labels: list[str], cuts: dict, n_jets: int) -> np.ndarray:
    """The generation cuts of the files (muon pT/|eta|, m_mumu window, jet pT/|y|/Delta R)."""
    obs = observables(momenta, labels)
    keep = np.ones(len(momenta), dtype=bool)
    lo, hi = cuts.get("mass_window", [0.0, np.inf])
    keep &= (obs["m_mumu"] >= lo) & (obs["m_mumu"] <= hi)
    mu = cuts.get("muon", {})
    for k in (1, 2):
        keep &= obs[f"pt_mu{k}"] >= mu.get("pt_min", 0.0)
        keep &= np.abs(obs[f"eta_mu{k}"]) <= mu.get("rapidity_max", np.inf)
    jet = cuts.get("jet_by_n", {}).get(n_jets, cuts.get("jet", {}))
    for k in range(1, n_jets + 1):
        keep &= obs[f"pt_j{k}"] >= jet.get("pt_min", 0.0)
        keep &= np.abs(obs[f"eta_j{k}"]) <= jet.get("rapidity_max", np.inf)
    if n_jets > 1:
        keep &= min_jet_delta_r(momenta, labels) >= jet.get("delta_r_min", 0.0)
    return keep


def magic_weights(delta_r: np.ndarray, r_minus: float = 0.2, r_plus: float = 1.5) -> np.ndarray:
    """``f(Delta R)``: 0 below r_minus, linear up to 1 at r_plus, 1 above (1 for inf: one jet)."""
    if not 0.0 <= r_minus < r_plus:
        raise ValueError(f"the magic transformation needs 0 <= R- < R+, got {r_minus}, {r_plus}")
    return np.clip((np.asarray(delta_r) - r_minus) / (r_plus - r_minus), 0.0, 1.0)


def magic_keep_probability(delta_r: np.ndarray, r_cut: float, r_minus: float = 0.2, r_plus: float = 1.5) -> np.ndarray:
    """Probability to keep a generated event so that the kept ones follow ``p`` again:
    ``f(R_cut) / f(Delta R)`` above the cut, 0 below."""
    f = magic_weights(delta_r, r_minus, r_plus)
    f_cut = float(magic_weights(np.array([max(r_cut, r_minus + 1e-9)]), r_minus, r_plus)[0])
    return np.where(np.asarray(delta_r) >= r_cut, f_cut / np.maximum(f, 1e-300), 0.0).clip(0.0, 1.0)
