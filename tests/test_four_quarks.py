"""The built-in provider lepton_pair_four_quarks (a charged-lepton pair and two quark lines with at
most one gluon, any crossing) through nis.bridge.MatrixElement, and point by point against Sherpa.

Sherpa (Comix) computes every order of the couplings unless told otherwise; for p p -> l+ l- j j
with four quarks that adds photon/Z/W exchange between the quark lines (O(alpha^4)) and its
interference with the gluon exchange (O(alpha_s alpha^3)). The comparisons therefore ask Sherpa for
the provider's order with the per-process option Order: {QCD: 2 + n_g, EW: 2} (powers of alpha_s
and alpha in |M|^2). The gauge, Lorentz, CP, colour and collinear checks are in
cpp/tests/test_four_quarks.cpp.
"""

from __future__ import annotations

import gc

import numpy as np
import pytest

bridge = pytest.importorskip("nis.bridge", reason="nis._bridge is not built")
MatrixElement = bridge.MatrixElement

from nis.bridge.sherpa_install import sherpa_prefix  # noqa: E402
from test_matrix_elements import rambo  # noqa: E402

needs_sherpa = pytest.mark.skipif(sherpa_prefix() is None, reason="Sherpa is not installed (bash setup.sh)")

# q q~ -> l l Q Q~ (other and same flavour), q Q, q Q~, q q, q~ q~, in shuffled particle orders
HADRONIC_4 = [
    "u u~ -> mu+ mu- d d~",
    "d~ d -> mu- u~ mu+ u",
    "u u~ -> mu+ mu- u u~",
    "s~ s -> s mu+ s~ mu-",
    "u d -> mu+ mu- u d",
    "d u~ -> e+ d u~ e-",
    "d s~ -> mu+ mu- d s~",
    "u u -> mu+ mu- u u",
    "u~ u~ -> u~ mu- u~ mu+",
    "c u~ -> ta- c ta+ u~",
    "u u~ -> mu+ mu- b b~",
]
# the same with a gluon: q q~ -> l l Q Q~ g, q g -> l l q Q Q~, q Q -> l l q Q g, q q -> l l q q g, ...
HADRONIC_5 = [
    "u u~ -> mu+ mu- d d~ g",
    "g d -> d mu- u u~ mu+",
    "u g -> mu+ mu- u d d~",
    "g u -> mu+ mu- u u u~",
    "u d -> mu+ mu- u d g",
    "u u -> mu+ mu- u u g",
    "u~ u -> g u mu+ u~ mu-",
    "d~ s~ -> g mu+ d~ mu- s~",
    "u~ g -> mu+ mu- u~ u~ u",
]
LEPTONIC = [
    "e+ e- -> u u~ d d~",
    "e- e+ -> d u d~ u~",
    "e+ e- -> u u~ u u~",
    "e+ e- -> u u~ d d~ g",
    "e+ e- -> u u~ u u~ g",
    "e- e+ -> g s~ s c~ c",
]


def momenta(process: str, n: int, sqrt_s: float = 300.0, seed: int = 11) -> np.ndarray:
    """``n`` RAMBO points of ``process`` at ``sqrt_s`` (GeV), incoming along z, float64 (n, n_ext, 4)."""
    n_out = len(process.split("->")[1].split())
    return rambo(n_out, sqrt_s, n, np.random.default_rng(seed))


def n_gluons(process: str) -> int:
    return process.split().count("g")


def test_the_built_in_provider_takes_the_four_quark_processes():
    for process in HADRONIC_4 + HADRONIC_5 + LEPTONIC:
        me = MatrixElement(process)
        p = momenta(process, 5)
        v = me(p)
        assert np.all(np.isfinite(v)) and np.all(v > 0), process
        info = me.info
        assert (info.order_qcd, info.order_qed) == (2 + n_gluons(process), 2), process
    assert MatrixElement("u u -> mu+ mu- u u").info.symmetry_factor == pytest.approx(0.5)
    assert MatrixElement("e+ e- -> u u~ u u~ g").info.symmetry_factor == pytest.approx(0.25)
    assert MatrixElement("u g -> mu+ mu- u d d~").info.average == pytest.approx(1 / 96)


@pytest.mark.parametrize(
    "process",
    ["u u~ -> mu+ mu- d d~ g g", "u u~ -> mu+ mu- u d~", "u u~ -> e+ mu- d d~", "u u~ -> mu+ mu- d d~ u u~"],
)
def test_processes_outside_its_scope_are_left_to_others(process):
    with pytest.raises(bridge.BridgeError, match="no built-in provider"):
        MatrixElement(process)


def test_sherpa_run_cards_carry_per_process_orders():
    from nis.bridge.sherpa import run_card

    procs = ["u d -> mu+ mu- u d", "u d -> mu+ mu- u d g"]
    card = run_card(procs, process_settings=[{"Order": {"QCD": 2, "EW": 2}}, {"Order": {"QCD": 3, "EW": 2}}])
    assert card["PROCESSES"] == [
        {"1 2 -> -13 13 2 1": {"Order": {"QCD": 2, "EW": 2}}},
        {"1 2 -> -13 13 2 1 21": {"Order": {"QCD": 3, "EW": 2}}},
    ]
    assert run_card(procs, process_settings={"Order": {"QCD": 2, "EW": 2}})["PROCESSES"][1] == {
        "1 2 -> -13 13 2 1 21": {"Order": {"QCD": 2, "EW": 2}}
    }
    assert run_card(procs)["PROCESSES"][0] == {"1 2 -> -13 13 2 1": {}}
    with pytest.raises(bridge.BridgeError, match="one per process"):
        run_card(procs, process_settings=[{}])


def compare_with_sherpa(processes: list[str], n_points: int, sqrt_s: float = 300.0) -> dict[str, float]:
    """Max |Sherpa / built-in - 1| per process, Sherpa at the built-in's order (one run card)."""
    from nis.bridge.sherpa import settings_from_parameters, sherpa_matrix_elements

    orders = [{"Order": {"QCD": 2 + n_gluons(p), "EW": 2}} for p in processes]
    mes = sherpa_matrix_elements(processes, settings=settings_from_parameters({}), process_settings=orders)
    try:
        out = {}
        for process, me in zip(processes, mes):
            assert me.info.pdg_out == bridge.parse_process(process)[1]
            p = momenta(process, n_points, sqrt_s)
            ours = MatrixElement(process)(p)
            assert np.all(ours > 0), process
            out[process] = float(np.max(np.abs(me(p) / ours - 1)))
        return out
    finally:
        mes.clear()
        gc.collect()


@needs_sherpa
def test_hadronic_four_quark_processes_equal_sherpa():
    """p p -> l+ l- j j, four-quark subprocesses at alpha_s^2 alpha^2: 1e-8 relative."""
    dev = compare_with_sherpa(HADRONIC_4, 20)
    assert max(dev.values()) < 1e-8, dev


@needs_sherpa
def test_hadronic_four_quark_processes_with_a_gluon_equal_sherpa():
    """p p -> l+ l- j j j, four quarks and a gluon at alpha_s^3 alpha^2: 1e-8 relative."""
    dev = compare_with_sherpa(HADRONIC_5, 15)
    assert max(dev.values()) < 1e-8, dev


@needs_sherpa
def test_e_plus_e_minus_to_four_and_five_jets_equal_sherpa():
    """e+ e- -> q q~ Q Q~ (+ g), other and same flavours: 1e-8 relative."""
    dev = compare_with_sherpa(LEPTONIC, 15)
    assert max(dev.values()) < 1e-8, dev


@needs_sherpa
def test_sherpa_at_every_order_adds_the_electroweak_exchanges():
    """What Sherpa computes without an Order (nis' default card): every order of the couplings,
    here |M|^2 = (alpha_s^2 alpha^2: the built-in) + (alpha_s alpha^3: interference with photon, Z
    and W exchange between the quark lines) + (alpha^4), each order from its own run card."""
    from nis.bridge.sherpa import settings_from_parameters, sherpa_matrix_element

    process = "u d -> mu+ mu- u d"
    p = momenta(process, 10)
    ours = MatrixElement(process)(p)
    parts = {}
    for name, options in [("all", None), ("interference", {"Order": {"QCD": 1, "EW": 3}}),
                          ("electroweak", {"Order": {"QCD": 0, "EW": 4}})]:
        me = sherpa_matrix_element(process, settings=settings_from_parameters({}), process_settings=options)
        parts[name] = me(p)
        del me
        gc.collect()  # one Sherpa at a time
    assert np.max(np.abs((ours + parts["interference"] + parts["electroweak"]) / parts["all"] - 1)) < 1e-8
    assert np.median(np.abs(parts["all"] / ours - 1)) > 1e-3  # not negligible at these points
