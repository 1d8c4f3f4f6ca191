"""Colour flows for unweighted events, in the leading-colour sense a parton shower needs.

The matrix elements are summed over colours, but a shower (Pythia 8 reading the LHE file)
needs one planar colour connection per event. Every tree-level process handled here is, in the
all-outgoing (crossed) view, either colourless, one quark line ``q g ... g qbar`` or a ring of
gluons. For such a process a colour flow is an ordering of the gluons, and nis picks one with
probability proportional to the leading-colour *antenna* weight of that ordering,

    P(sigma)  ~  1 / (|s_{a sigma_1}| |s_{sigma_1 sigma_2}| ... |s_{sigma_k b}|),

the eikonal/Parke-Taylor denominator that dominates each ordering's squared partial amplitude in
the soft and collinear regions. (This is the usual approximation of the leading-colour weights;
it is exact in those limits, which are where the shower starts.)

Tags follow the LHE convention: a colour line joins a colour tag of an outgoing particle to the
same anticolour tag of another outgoing particle; for incoming particles the roles swap.
"""

from __future__ import annotations

import itertools

import numpy as np

FIRST_TAG = 501


def _kind(pdg: int) -> str:
    a = abs(pdg)
    if a == 21:
        return "g"
    if 1 <= a <= 6:
        return "q" if pdg > 0 else "qbar"
    return "none"


def _compositions(items: tuple, parts: int):
    """Every split of the ordered ``items`` into ``parts`` consecutive (possibly empty) runs."""
    if parts == 1:
        yield (items,)
        return
    for cut in range(len(items) + 1):
        for rest in _compositions(items[cut:], parts - 1):
            yield (items[:cut], *rest)


def _chains(pdg: list[int], n_in: int) -> tuple[str, list[list[tuple[int, ...]]]]:
    """Candidate colour flows of the particles, in the all-outgoing view: each a list of colour
    lines ``(q, g, ..., g, qbar)``, or one ring of gluons."""
    crossed = [-p if (i < n_in and abs(p) != 21) else p for i, p in enumerate(pdg)]
    kinds = [_kind(p) for p in crossed]
    quarks = [i for i, k in enumerate(kinds) if k == "q"]
    antis = [i for i, k in enumerate(kinds) if k == "qbar"]
    gluons = [i for i, k in enumerate(kinds) if k == "g"]
    if not quarks and not antis and not gluons:
        return "none", []
    if quarks and len(quarks) == len(antis):
        # leading colour: each quark's line ends on some antiquark, the gluons spread over the lines
        flows = []
        for partners in itertools.permutations(antis):
            for perm in itertools.permutations(gluons):
                for runs in _compositions(perm, len(quarks)):
                    flows.append([(q, *run, qb) for q, run, qb in zip(quarks, runs, partners)])
        return "lines", flows
    if not quarks and not antis and len(gluons) >= 2:
        first, rest = gluons[0], gluons[1:]
        return "ring", [[(first, *perm)] for perm in itertools.permutations(rest)]
    raise ValueError(
        f"no colour-flow rule for PDG ids {pdg}: nis assigns colour to quark lines plus gluons or to gluons alone"
    )


def colour_flows(pdg: list[int], momenta: np.ndarray, rng: np.random.Generator, n_in: int = 2) -> np.ndarray:
    """Colour and anticolour tags, shape (N, n, 2), for events of momenta (N, n, 4) of ``pdg``."""
    n_events, n, _ = momenta.shape
    tags = np.zeros((n_events, n, 2), dtype=np.int64)
    shape, orders = _chains(list(pdg), n_in)
    if shape == "none":
        return tags
    metric = np.array([1.0, -1.0, -1.0, -1.0])
    s = 2.0 * np.abs(np.einsum("eik,ejk,k->eij", momenta, momenta, metric))  # |s_ij|
    links = [
        [pair for line in flow for pair in zip(line[:-1], line[1:])] + ([(flow[0][-1], flow[0][0])] if shape == "ring" else [])
        for flow in orders
    ]
    weight = np.stack([1.0 / np.prod([s[:, i, j] for i, j in pairs], axis=0) for pairs in links], axis=1)
    weight /= weight.sum(axis=1, keepdims=True)
    choice = (rng.random(n_events)[:, None] > np.cumsum(weight, axis=1)).sum(axis=1)
    choice = np.minimum(choice, len(orders) - 1)
    for k, flow in enumerate(orders):
        rows = choice == k
        tag = FIRST_TAG
        for line in flow:
            m = len(line)
            for pos, particle in enumerate(line):
                if shape == "ring":  # tag T+pos+1 joins this gluon's colour to the next one's anticolour
                    col, acol = tag + (pos + 1) % m, tag + pos
                else:  # q (colour only) ... gluons ... qbar (anticolour only)
                    col = tag + pos if pos < m - 1 else 0
                    acol = tag + pos - 1 if pos > 0 else 0
                tags[rows, particle] = (col, acol)
            tag += m
    incoming = np.arange(n) < n_in
    tags[:, incoming] = tags[:, incoming][..., ::-1]
    return tags
