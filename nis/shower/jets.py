"""Jets of one event with FastJet: anti-kT (or kT, Cambridge/Aachen) over four-momenta.

Momenta are numpy arrays ``(n, 4)`` in the nis order ``(E, px, py, pz)``, GeV; jets come back
in the same order, sorted by decreasing pT, with the indices of their constituents.
:func:`exclusive_subjet_sets` reads one exclusive clustering at several subjet counts (with the
constituents of each subjet). Collider coordinates: :mod:`nis.events.kinematics`.
"""

from __future__ import annotations

import numpy as np

from nis.shower.pythia import load_fastjet

ALGORITHMS = ("antikt", "kt", "cambridge")


def _definition(fastjet, algorithm: str, radius: float):
    if algorithm not in ALGORITHMS:
        raise ValueError(f"jet algorithm must be one of {ALGORITHMS}; got {algorithm!r}")
    if not radius > 0:
        raise ValueError(f"jet radius must be positive; got {radius}")
    which = {"antikt": fastjet.antikt_algorithm, "kt": fastjet.kt_algorithm, "cambridge": fastjet.cambridge_algorithm}
    return fastjet.JetDefinition(which[algorithm], float(radius))


def _pseudojets(fastjet, momenta: np.ndarray) -> list:
    out = []
    for i, (e, px, py, pz) in enumerate(np.asarray(momenta, dtype=np.float64)):
        pj = fastjet.PseudoJet(float(px), float(py), float(pz), float(e))
        pj.set_user_index(i)
        out.append(pj)
    return out


def _four(jet) -> list[float]:
    return [jet.e(), jet.px(), jet.py(), jet.pz()]


def cluster(
    momenta: np.ndarray, radius: float = 0.4, pt_min: float = 0.0, algorithm: str = "antikt"
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Inclusive jets of the particles ``momenta`` (n, 4) with pT >= pt_min GeV.

    Returns ``(jets, constituents)``: jets (m, 4) sorted by decreasing pT and, for each, the
    indices of its particles in ``momenta``.
    """
    fastjet = load_fastjet()
    seq = fastjet.ClusterSequence(_pseudojets(fastjet, momenta), _definition(fastjet, algorithm, radius))
    jets = fastjet.sorted_by_pt(seq.inclusive_jets(float(pt_min)))
    four = np.array([_four(j) for j in jets], dtype=np.float64).reshape(-1, 4)
    parts = [np.array(sorted(c.user_index() for c in j.constituents()), dtype=np.int64) for j in jets]
    return four, parts


def exclusive_subjets(momenta: np.ndarray, n: int, algorithm: str = "kt") -> np.ndarray:
    """The particles ``momenta`` (m, 4) clustered exclusively into exactly ``min(n, m)`` subjets
    (kT by default: the N-subjettiness axes), shape (min(n, m), 4), sorted by decreasing pT."""
    fastjet = load_fastjet()
    if len(momenta) == 0:
        return np.zeros((0, 4))
    seq = fastjet.ClusterSequence(_pseudojets(fastjet, momenta), _definition(fastjet, algorithm, 1.0))
    jets = fastjet.sorted_by_pt(seq.exclusive_jets(int(min(n, len(momenta)))))
    return np.array([_four(j) for j in jets], dtype=np.float64).reshape(-1, 4)


def exclusive_subjet_sets(
    momenta: np.ndarray, ns: tuple[int, ...] = (1, 2), algorithm: str = "kt"
) -> dict[int, tuple[np.ndarray, list[np.ndarray]]]:
    """One exclusive clustering of the particles ``momenta`` (m, 4), read at several stages.

    For each n in ``ns``: ``(subjets (min(n, m), 4), constituent indices of each)``, subjets
    sorted by decreasing pT. The jet radius is FastJet's largest (1000), so no particle is
    merged with the beam and every particle ends in exactly one subjet (the N-subjettiness
    convention for kT axes; :func:`exclusive_subjets` uses R = 1, where a particle farther than
    R from all others can drop out).
    """
    fastjet = load_fastjet()
    out: dict[int, tuple[np.ndarray, list[np.ndarray]]] = {}
    if len(momenta) == 0:
        return {int(n): (np.zeros((0, 4)), []) for n in ns}
    seq = fastjet.ClusterSequence(
        _pseudojets(fastjet, momenta), _definition(fastjet, algorithm, fastjet.JetDefinition.max_allowable_R)
    )
    for n in ns:
        jets = fastjet.sorted_by_pt(seq.exclusive_jets(int(min(n, len(momenta)))))
        four = np.array([_four(j) for j in jets], dtype=np.float64).reshape(-1, 4)
        parts = [np.array(sorted(c.user_index() for c in j.constituents()), dtype=np.int64) for j in jets]
        out[int(n)] = (four, parts)
    return out
