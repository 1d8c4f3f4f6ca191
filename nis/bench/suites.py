"""The named benchmark suites: which processes, at which jet multiplicity, with which budget.

A :class:`Case` is one process: a config from ``examples/`` (with changes, e.g. the jet count or
the matrix-element provider), the native Sherpa run card that matches it where Sherpa can run
it, and the methods that apply. A :class:`Suite` is a list of cases with a training budget and
an evaluation sample in integrand (matrix-element) calls, the same for every method, and the
seeds. ``nis bench SUITE`` runs one (see :mod:`nis.bench.run`).

Cuts of ``w-jets`` and ``z-jets`` (13 TeV, LO, NNPDF3.1 NNLO, fixed scale m_Z): the lepton(s)
pT > 20 GeV and |eta| < 2.5, 66 < m_mumu < 116 GeV for the Z, every parton pT > 20 GeV,
|y| < 6 and Delta R > 0.4 between partons: the parton-level version of the anti-kT R = 0.4 jet
cuts used in the flow-integrator studies of W/Z + jets (Gao et al., Bothmann et al., 2020).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

import yaml

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

#: every method a suite can run, in table order
METHODS = ("vegas", "nis", "nis-fixed-alpha", "nis-madspace", "madnis", "madspace", "sherpa", "sherpa-own")
#: integrand changes a method runs with (on top of the case's)
METHOD_CHANGES = {"nis-madspace": {"channels": "madspace"}}
METHOD_NOTES = {
    "vegas": "VEGAS alone on nis' channels (one grid per channel, prior channel weights), whole budget adapting",
    "nis": "a flow per channel and learned channel weights alpha_i(x), with its VEGAS fallback where the flow loses",
    "nis-fixed-alpha": "nis with the prior channel weights kept fixed (train_alpha: false)",
    "nis-madspace": "nis (flows, learned alpha_i(x), VEGAS fallback) on madspace's channels (channels: madspace)",
    "madnis": "madnis 1.0.0 on the same channels, prior and budget (its defaults, float64)",
    "madspace": "madspace 0.2.1's phase-space mappings (MadGraph-style, nis' channel topologies, cut-aware lower"
                " bounds) and channel weights, VEGAS grids on top (refined by nis: madspace's optimiser fails from"
                " Python); see nis/bench/madspace_peer.py",
    "sherpa": "the Sherpa executable alone (Comix, its own multi-channel integrator) on the same process and cuts,"
              " its integration stopped at the same budget (PSI: NRAWMAX)",
    "sherpa-own": "Sherpa alone with its own stopping rule (default optimisation, as users run it): more points",
}
SHERPA_METHODS = ("sherpa", "sherpa-own")
#: case-name suffixes of rows that repeat a case on other matrix elements: labelled in the tables,
#: kept out of the plots beside their case (the sampling is the same; they show the cost)
ME_VARIANTS = {"_sherpa_me": "Sherpa ME", "_builtin_me": "built-in ME"}


def me_variant(case: str) -> str | None:
    """``"Sherpa ME"`` for ``ee_3jets_sherpa_me``, ``"built-in ME"`` for ``pp_z_3j_builtin_me``, else None."""
    return next((label for suffix, label in ME_VARIANTS.items() if case.endswith(suffix)), None)


@dataclass(frozen=True)
class Case:
    """One process of a suite."""

    name: str  # row label, e.g. "ee_3jets"
    jets: int  # jet multiplicity (the x axis of the plots)
    config: str  # example config under examples/
    changes: dict = field(default_factory=dict)  # merged into the config's ``integrand``
    sherpa_card: str | None = None  # examples/sherpa/<card> for native Sherpa, "hadronic": built from the config
    methods: tuple[str, ...] = METHODS
    train_calls: int | None = None  # overrides the suite's budget for this case
    why_not: dict = field(default_factory=dict)  # method -> why it does not apply

    def run_config(self) -> dict:
        """The example config with this case's changes, as a mapping (``load_config`` input)."""
        data = yaml.safe_load((EXAMPLES / self.config).read_text())
        data = copy.deepcopy(data)
        data["process"] = self.name
        data["integrand"].update(copy.deepcopy(self.changes))
        return data


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    cases: tuple[Case, ...]
    train_calls: int  # integrand calls each method may spend before the evaluation
    eval_calls: int  # fresh points each method draws for its figures
    seeds: int = 3


def _ee(n: int, sherpa_me: bool = False) -> Case:
    if sherpa_me:
        return Case(f"ee_{n}jets_sherpa_me", n, f"ee_{n}jets.yaml", {"provider": "sherpa"}, None, ("vegas", "nis"),
                    why_not={"others": "same sampling as the built-in row (equal matrix elements): run for the cost only"})
    why = {} if n > 2 else {"nis-fixed-alpha": "one channel: no channel weights to learn"}
    methods = METHODS if n > 2 else tuple(m for m in METHODS if m != "nis-fixed-alpha")
    return Case(f"ee_{n}jets", n, f"ee_{n}jets.yaml", sherpa_card=f"ee_{n}jets.yaml", methods=methods, why_not=why)


def _gg(n: int) -> Case:
    return Case(f"gg_{n}g", n, f"gg_{n}g.yaml",
                methods=("vegas", "nis", "nis-fixed-alpha", "nis-madspace", "madnis", "madspace"),
                why_not={"sherpa, sherpa-own": "fixed partonic energy with gluon beams: no Sherpa beam set-up gives it"})


_LEPTONS = {"w": ("pp_wplus_1j.yaml", "p p -> e+ ve"), "z": ("pp_zmumu_1j.yaml", "p p -> mu+ mu-")}


def _vj(boson: str, n: int, builtin_me: bool = False) -> Case:
    config, me = _LEPTONS[boson]
    changes = {"matrix_element": me + " j" * n}
    if builtin_me:
        changes["provider"] = "builtin"  # nis' own Z/gamma* + jets providers, alpha_s^n alpha^2
        return Case(f"pp_{boson}_{n}j_builtin_me", n, config, changes, methods=("vegas", "nis", "madnis"),
                    why_not={"others": f"as pp_{boson}_{n}j on nis' built-in matrix elements (Sherpa's at order"
                                       f" alpha_s^{n} alpha^2): run for the cost"})
    if boson == "z" and n == 0:
        changes["provider"] = "builtin"  # q q~ -> mu+ mu-: nis' own matrix element
    if n == 0:
        changes["jet_cuts"] = {}
    return Case(f"pp_{boson}_{n}j", n, config, changes, sherpa_card="hadronic",
                methods=("vegas", "nis", "madnis", "sherpa", "sherpa-own"),
                why_not={"nis-fixed-alpha": "one channel (the partonic channels are summed): no channel weights",
                         "nis-madspace": "madspace's channels are for 2 -> n at a fixed energy here",
                         "madspace": "nis' p p integrand has no value at given (p, x1, x2) for madspace's hadronic"
                                     " mapping to call"})


SUITES = {
    s.name: s
    for s in (
        Suite("smoke", "e+e- -> 3 jets on a tiny budget, every method: the suite's own test (a few minutes)",
              (_ee(3),), train_calls=6_000, eval_calls=6_000),
        Suite("ee-jets", "e+e- -> 2, 3, 4, 5 jets at the Z pole (Durham y_cut 0.01), built-in and Sherpa matrix elements",
              tuple(_ee(n) for n in (2, 3, 4, 5)) + tuple(_ee(n, True) for n in (2, 3, 4, 5)),
              train_calls=100_000, eval_calls=100_000),
        Suite("gg-gluons", "g g -> 2, 3, 4 gluons at sqrt(s_hat) = 500 GeV (pT > 30 GeV, |y| < 2.5, Delta R > 0.4)",
              tuple(_gg(n) for n in (2, 3, 4)), train_calls=100_000, eval_calls=100_000),
        Suite("w-jets", "p p -> W+ (-> e+ nu) + 0, 1, 2, 3 jets at 13 TeV", tuple(_vj("w", n) for n in range(4)),
              train_calls=50_000, eval_calls=50_000),
        Suite("z-jets", "p p -> Z/gamma* (-> mu+ mu-) + 0, 1, 2, 3 jets at 13 TeV, Sherpa's and built-in matrix elements",
              tuple(_vj("z", n) for n in range(4)) + tuple(_vj("z", n, True) for n in (1, 2, 3)),
              train_calls=50_000, eval_calls=50_000),
    )
}


def get_suite(name: str) -> Suite:
    try:
        return SUITES[name]
    except KeyError:
        raise KeyError(f"no benchmark suite {name!r}; the suites are: {', '.join(SUITES)}") from None


def get_case(spec: str) -> tuple[Suite, Case]:
    """The suite and case of ``SUITE:CASE`` (e.g. ``ee-jets:ee_3jets``), as scripts name them."""
    suite_name, _, case_name = spec.partition(":")
    suite = get_suite(suite_name)
    for case in suite.cases:
        if case.name == case_name:
            return suite, case
    raise KeyError(f"suite {suite_name!r} has no case {case_name!r}; its cases: {', '.join(c.name for c in suite.cases)}")
