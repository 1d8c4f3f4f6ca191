"""Proton-proton processes: the x1 x2 phase space, the built-in Drell-Yan (+ jets) matrix elements
against Sherpa's own, sigma(p p -> mu+ mu-) against native Sherpa on the same PDF set, scale and cuts,
and the errors of a bad config."""

import gc
import json
import math

import numpy as np
import pytest
import torch

from nis.bridge.sherpa_install import sherpa_prefix
from nis.config import ConfigError
from nis.phasespace.cuts import Cuts
from nis.phasespace.hadronic import LeptonPairPhaseSpace, PartonFractions, lab_momenta
from nis.phasespace.invariants import BreitWignerMass, PowerLawMass
from nis.phasespace.kinematics import mass2, momentum_violation, rapidity
from nis.phasespace.tree import TreeChannel, cluster, leaf
from nis.processes.hadronic import HadronicConfig, HadronicIntegrand

SQRT_S = 13000.0
needs_sherpa = pytest.mark.skipif(sherpa_prefix() is None, reason="Sherpa is not installed (bash setup.sh)")
DY = {
    "matrix_element": "p p -> mu+ mu-",
    "sqrt_s": SQRT_S,
    "pdf": "NNPDF31_nnlo_as_0118_mc",
    "mass_window": [66, 116],
    "resonance": {"mass": 91.1876, "width": 2.4952},
    "scale": 91.1876,
    "cuts": {"pt_min": 20, "rapidity_max": 2.5},
}


def cube(n, dims, seed=0):
    return torch.rand(n, dims, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize("mapping", [PowerLawMass(nu=1.0), BreitWignerMass(91.1876, 2.4952)])
def test_parton_fractions_cover_the_region_with_the_right_volume(mapping):
    """int dx1 dx2 over x1 x2 > tau0 is 1 - tau0 + tau0 log(tau0), whatever maps shat."""
    tau0 = 50.0**2 / SQRT_S**2
    frac = PartonFractions(SQRT_S, tau0 * SQRT_S**2, SQRT_S**2, mapping)
    u = cube(400_000, 2)
    x1, x2, shat, w = frac(u[:, 0], u[:, 1])
    assert bool(((x1 > 0) & (x1 <= 1) & (x2 > 0) & (x2 <= 1)).all())
    assert torch.allclose(x1 * x2 * SQRT_S**2, shat, rtol=1e-12)
    exact = 1 - tau0 + tau0 * math.log(tau0)
    assert abs(w.mean().item() - exact) < 4 * w.std().item() / math.sqrt(len(w))


def test_lepton_pair_phase_space_without_cuts_is_the_fractions_and_an_isotropic_decay():
    frac = PartonFractions(SQRT_S, 66.0**2, 116.0**2, BreitWignerMass(91.1876, 2.4952))
    u = cube(1000, 4, seed=3)
    k, x1, x2, shat, w = LeptonPairPhaseSpace(frac)(u)
    x1_ref, x2_ref, shat_ref, w_x = frac(u[:, 0], u[:, 1])
    k_ref, w_decay = TreeChannel(cluster(leaf(0), leaf(1)), 2).forward(u[:, 2:], shat_ref)
    for a, b in ((k, k_ref), (x1, x1_ref), (x2, x2_ref), (shat, shat_ref), (w, w_x * w_decay)):
        assert torch.allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("charged", [(True, True), (True, False), (False, True)])
def test_lepton_pair_phase_space_draws_exactly_the_region_the_cuts_accept(charged):
    """Built-in pT and |eta| cuts (both leptons charged: Z; one: W): every point with weight
    passes them, and the integral of a smooth function over the accepted region equals the one
    of the uncut phase space with the cuts applied afterwards."""
    frac = PartonFractions(SQRT_S, 66.0**2, 116.0**2, BreitWignerMass(91.1876, 2.4952))
    pt_min, eta_max = 20.0, 2.5
    cuts = Cuts(pt_min=pt_min, rapidity_max=eta_max, partons=tuple(2 + i for i, c in enumerate(charged) if c))

    def integrand(space, seed):
        k, x1, x2, shat, w = space(cube(400_000, 4, seed=seed))
        p = lab_momenta(k, x1, x2, SQRT_S)
        passed = cuts.mask(p) & (torch.linalg.vector_norm(p[:, 2, 1:3], dim=-1) >= pt_min)
        cos = k[:, 0, 3] / k[:, 0, 0]
        return w * (1 + cos**2) * (1 + rapidity(p[:, 2]) ** 2 / 8), passed, w

    f_cut, passed, w = integrand(LeptonPairPhaseSpace(frac, pt_min, eta_max, charged), 4)
    assert bool(passed[w > 0].all())
    assert float((w > 0).double().mean()) > 0.99  # (a few points where no rapidity is left)
    f_all, passed_all, _ = integrand(LeptonPairPhaseSpace(frac), 5)
    f_all = f_all * passed_all
    mean, err = f_cut.mean().item(), f_cut.std().item() / math.sqrt(len(f_cut))
    mean_all, err_all = f_all.mean().item(), f_all.std().item() / math.sqrt(len(f_all))
    assert err < 0.7 * err_all  # the point of building the cuts in (0.58 measured)
    assert abs(mean - mean_all) < 4 * math.hypot(err, err_all)


def test_integrand_is_finite_on_the_edges_of_the_cube():
    """Points with coordinates exactly 0 or 1 (a float32 random number is 0 once in 2^24 draws):
    the parton fractions stay at most 1 (rounding at |y| = y_max once gave x2 = 1 + 2e-16 and a
    NaN density) and the integrand is finite everywhere."""
    integ = HadronicIntegrand(HadronicConfig.from_mapping(
        {**DY, "matrix_element": "p p -> mu+ mu- j j", "flavours": ["d", "u"], "jet_cuts": JETS}))
    g = torch.Generator().manual_seed(1)
    u = torch.rand(20_000, integ.dims, generator=g, dtype=torch.float64)
    snap = torch.rand(u.shape, generator=g) < 0.15
    u[snap] = torch.round(torch.rand(int(snap.sum()), generator=g, dtype=torch.float64))
    _, x1, x2, _, _ = integ.momenta(u)
    assert bool((x1 <= 1).all() and (x2 <= 1).all())
    value = integ.evaluate(u, 0).value
    assert bool(torch.isfinite(value).all()) and bool((value > 0).sum() > 1000)


def test_lab_momenta_conserve_momentum_and_carry_the_partonic_mass():
    integ = HadronicIntegrand(HadronicConfig.from_mapping(DY))
    p, x1, x2, shat, w = integ.momenta(cube(1000, 4, seed=1))
    assert float(momentum_violation(p).max()) < 1e-9
    assert torch.allclose(mass2(p[:, 2] + p[:, 3]), shat, rtol=1e-9)
    assert torch.allclose(mass2(p[:, 2:]), torch.zeros_like(p[:, 2:, 0]), atol=1e-6)
    assert torch.allclose(p[:, 0, 0] + p[:, 1, 0], torch.as_tensor((x1 + x2) * SQRT_S / 2))


def test_subprocesses_conserve_charge_and_flavour():
    from nis.processes.hadronic import subprocesses

    assert subprocesses(("mu+", "mu-"), 0, ["d", "u"]) == [("d", "d~", ()), ("d~", "d", ()), ("u", "u~", ()), ("u~", "u", ())]
    w = {f"{a} {b} -> {' '.join(f)}" for a, b, f in subprocesses(("e+", "ve"), 1, ["d", "u", "s", "c"])}
    assert {"u d~ -> g", "d~ u -> g", "u g -> d", "g u -> d", "d~ g -> u~", "g d~ -> u~", "c s~ -> g"} <= w
    assert len(w) == 12  # the same six for c s~; no u s~ (diagonal CKM), no u u~ (charge)
    jets = {f"{a} {b} -> {' '.join(f)}" for a, b, f in subprocesses((), 2, ["d"])}
    assert jets == {"g g -> g g", "g g -> d d~", "d d~ -> g g", "d~ d -> g g", "d d~ -> d d~", "d~ d -> d d~",
                    "d g -> g d", "g d -> g d", "d~ g -> g d~", "g d~ -> g d~", "d d -> d d", "d~ d~ -> d~ d~"}
    # the photon and the Z keep each flavour: no u d~ -> c s~ (a W's), still u u~ -> d d~ (a gluon's)
    z = {f"{a} {b} -> {' '.join(f)}" for a, b, f in subprocesses(("mu+", "mu-"), 2, ["d", "u", "s", "c"], "flavour")}
    z_gen = {f"{a} {b} -> {' '.join(f)}" for a, b, f in subprocesses(("mu+", "mu-"), 2, ["d", "u", "s", "c"])}
    assert z < z_gen and "u d~ -> s~ c" in z_gen - z and "u u~ -> d d~" in z and "u s -> u s" in z


@needs_sherpa
@pytest.mark.parametrize("n_jets, every", [(0, 1), (1, 1), (2, 3), (3, 5)])
def test_built_in_drell_yan_jets_matrix_elements_equal_sherpas(n_jets, every):
    """The built-in subprocesses of p p -> mu+ mu- + n jets (every ``every``-th of the 34 and 50
    with d and u at 2 and 3 jets: one quark line and four quarks, each kind of initial state), at
    the integrand's own phase-space points, equal Sherpa's |M|^2 through the bridge at the same
    order, alpha_s^n alpha^2 (Sherpa's default adds electroweak exchanges between two quark lines:
    tests/test_four_quarks.py): crossings, incoming colour and spin averages, symmetry factors."""
    from nis.bridge.sherpa import settings_from_parameters, sherpa_matrix_elements

    mapping = {**DY, "flavours": ["d", "u"]}
    if n_jets:
        mapping |= {"matrix_element": "p p -> mu+ mu-" + " j" * n_jets, "jet_cuts": JETS, "subprocesses": "sum"}
    integ = HadronicIntegrand(HadronicConfig.from_mapping(mapping))
    u = cube(200, integ.dims, seed=2)
    p, _, _, _, w = integ.momenta(u)
    p = p[integ._passes(p, w)][:8].numpy()
    assert len(p) == 8
    subs = integ.subprocesses[::every]
    kinds = {(tuple(sorted("q" if x != "g" else "g" for x in s.name.split()[:2])), s.name.count("g") < n_jets)
             for s in subs}
    assert len(kinds) == [1, 2, 4, 4][n_jets]  # q q, q g, g g initial states; one quark line or two
    sherpa = sherpa_matrix_elements([s.name for s in subs], settings=settings_from_parameters({}),
                                    process_settings={"Order": {"QCD": n_jets, "EW": 2}})
    try:
        for sub, me in zip(subs, sherpa):
            assert sub.factor == me.info.symmetry_factor, sub.name
            ours = sub(p)
            assert np.all(ours > 0), sub.name
            np.testing.assert_allclose(ours, me(p) * me.info.symmetry_factor, rtol=1e-8, err_msg=sub.name)
    finally:
        del sherpa
        gc.collect()


W = {
    **DY, "matrix_element": "p p -> e+ ve", "mass_window": [10, 13000], "resonance": {"mass": 80.38, "width": 2.085},
    "provider": "sherpa",
}
W_SELECTORS = [["Mass", -11, 12, 10, 13000], ["PT", -11, 20, SQRT_S], ["Eta", -11, -2.5, 2.5]]
JETS = {"pt_min": 20, "rapidity_max": 6, "delta_r_min": 0.4}


def native_and_nis(tmp_path, integrand, process, order, selectors, calls, training=None, integration=None, card=None):
    """sigma of Sherpa alone (Comix, its own integrator) and of nis integrate on the same process,
    PDF set, scale (m_Z), couplings and cuts: ``((xs, error), (xs, error))`` in pb."""
    from nis.bridge.sherpa import settings_from_parameters
    from nis.bridge.sherpa_run import run_sherpa
    from nis.cli import main

    card = {
        "EVENTS": 0, "BEAMS": 2212, "BEAM_ENERGIES": SQRT_S / 2, "ME_GENERATORS": ["Comix"],
        "SHOWER_GENERATOR": "None", "FRAGMENTATION": "None", "MI_HANDLER": "None", "BEAM_REMNANTS": False,
        "ME_QED": {"ENABLED": False}, "PDF_SET": DY["pdf"], "INTEGRATION_ERROR": 0.003,
        **settings_from_parameters({}),  # the built-in provider's couplings; scale m_Z
        "PROCESSES": [{process: {"Order": order}}], "SELECTORS": selectors, **(card or {}),
    }
    native = run_sherpa(card, tmp_path / "sherpa", timeout=1800)
    assert native.returncode == 0, native.log[-2000:]
    config = tmp_path / "nis.json"
    training = training or {"calls": 50_000, "batch_size": 2000}
    integration = {"calls": calls, "validation_calls": 20_000, **(integration or {})}
    config.write_text(json.dumps({"process": "pp", "integrand": integrand, "training": training, "integration": integration}))
    out = tmp_path / "result.json"
    assert main(["integrate", str(config), "--seed", "2", "--json", str(out)]) == 0
    ours = json.loads(out.read_text())
    return (native.xs, native.error), (ours["cross_section_pb"], ours["error_pb"])


def assert_agree(native, ours, precision):
    pull = (ours[0] - native[0]) / math.hypot(ours[1], native[1])
    assert abs(pull) < 4, (native, ours)
    assert ours[1] < precision * ours[0]


@needs_sherpa
def test_drell_yan_cross_section_equals_native_sherpa(tmp_path):
    """sigma(p p -> Z/gamma* -> mu+ mu-), 13 TeV, 66 < m < 116 GeV, pT > 20 GeV, |eta| < 2.5,
    mu_F = m_Z, NNPDF3.1, nis' built-in matrix element: equal to Sherpa's within errors."""
    selectors = [["Mass", 13, -13, 66, 116], ["PT", 13, 20, SQRT_S], ["PT", -13, 20, SQRT_S],
                 ["Eta", 13, -2.5, 2.5], ["Eta", -13, -2.5, 2.5]]
    native, ours = native_and_nis(tmp_path, DY, "93 93 -> 13 -13", {"QCD": 0, "EW": 2}, selectors, 400_000)
    assert_agree(native, ours, 0.005)


@needs_sherpa
def test_w_cross_section_equals_native_sherpa(tmp_path):
    """sigma(p p -> W+ -> e+ nu_e), e+ with pT > 20 GeV and |eta| < 2.5, Sherpa's matrix elements
    through the bridge (u d~, c s~ and mirrors): equal to Sherpa's own run within errors."""
    native, ours = native_and_nis(tmp_path, W, "93 93 -> -11 12", {"QCD": 0, "EW": 2}, W_SELECTORS, 300_000)
    assert_agree(native, ours, 0.005)


@needs_sherpa
@pytest.mark.slow
def test_w_plus_jet_cross_section_equals_native_sherpa(tmp_path):
    """p p -> W+ (-> e+ nu_e) + 1 jet, parton pT > 20 GeV, |y| < 6 (Sherpa: anti-kT 0.4 jets, |eta| < 6):
    twelve partonic channels (q q~', q g, g q and mirrors) against Sherpa's 93 93 -> -11 12 93."""
    integrand = {**W, "matrix_element": "p p -> e+ ve j", "jet_cuts": JETS}
    selectors = W_SELECTORS + [{"FastjetFinder": {"Algorithm": "antikt", "N": 1, "PTMin": 20, "DR": 0.4, "EtaMax": 6}}]
    native, ours = native_and_nis(tmp_path, integrand, "93 93 -> -11 12 93", {"QCD": 1, "EW": 2}, selectors, 500_000)
    assert_agree(native, ours, 0.01)


@needs_sherpa
@pytest.mark.slow
def test_two_jets_cross_section_equals_native_sherpa(tmp_path):
    """p p -> 2 jets from g, d and u (35 partonic channels), pT > 20 GeV, |y| < 6, Delta R > 0.4, against
    Sherpa's 901 901 -> 901 901 with the same partons. Sherpa's exactly colour-summed g g -> g g costs
    3 ms a point through the bridge, so this is VEGAS alone on 4e4 points (a 2-3% check)."""
    integrand = {"matrix_element": "p p -> j j", "sqrt_s": SQRT_S, "pdf": DY["pdf"], "scale": 91.1876,
                 "flavours": ["d", "u"], "provider": "sherpa", "jet_cuts": JETS}
    selectors = [{"FastjetFinder": {"Algorithm": "antikt", "N": 2, "PTMin": 20, "DR": 0.4, "EtaMax": 6}}]
    container = {"PARTICLE_CONTAINERS": {901: {"Name": "jdu", "Flavours": [1, -1, 2, -2, 21]}}}
    native, ours = native_and_nis(
        tmp_path, integrand, "901 901 -> 901 901", {"QCD": 2, "EW": 0}, selectors, 30_000,
        training={"calls": 10_000, "batch_size": 1000, "vegas_fraction": 1.0},
        integration={"iterations": 5, "validation_calls": 2000, "fallback": "always_vegas"}, card=container,
    )
    assert_agree(native, ours, 0.05)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"matrix_element": "p p -> e+ ve"}, "use provider: sherpa"),
        ({"matrix_element": "p p -> j j", "jet_cuts": {"pt_min": 20, "delta_r_min": 0.4}}, "use provider: sherpa"),
        ({"matrix_element": "p p -> e+ e- e+ e-"}, "is not available"),
        ({"matrix_element": "p p -> e+ ve j", "provider": "sherpa", "resonance": {}}, "give the lepton pair's resonance"),
        ({"matrix_element": "p p -> e+ ve j", "provider": "sherpa", "resonance": {"mass": 80.4, "width": 2.1}},
         "jets need pt_min"),
        ({"matrix_element": "p p -> j", "provider": "sherpa"}, "is not available"),
        ({"matrix_element": "p p -> j j", "provider": "sherpa"}, "takes jet_cuts only"),
        ({"met_min": 20}, "met_min"),
        ({"matrix_element": "p p -> mu+ mu- j j", "provider": "sherpa", "jet_cuts": {"pt_min": 20}}, "delta_r_min"),
        ({"mass_window": [0, 116]}, "mass_window"),
        ({"mass_window": [116]}, "mass_window"),
        ({"scale": "random"}, "integrand.scale"),
        ({"resonance": {"mass": 91.2}}, "integrand.resonance"),
        ({"flavours": ["t"]}, "integrand.flavours"),
        ({"cuts": {"pt_maximum": 1}}, "integrand.cuts"),
        ({"provider": "madgraph"}, "builtin or sherpa"),
        ({"colour": "red"}, "unknown key 'colour'"),
    ],
)
def test_bad_hadronic_configs_are_named(change, message):
    with pytest.raises(ConfigError, match=message):
        HadronicConfig.from_mapping({**DY, **change})


def test_unknown_pdf_set_lists_where_nis_looked():
    from nis.pdf import PDFSetNotFoundError

    with pytest.raises(PDFSetNotFoundError, match="LHAPDF_DATA_PATH"):
        HadronicIntegrand(HadronicConfig.from_mapping({**DY, "pdf": "NoSuchSet_nnlo"}))


def test_les_houches_events_of_drell_yan(tmp_path, dy_run):
    """p p -> Z/gamma* -> mu+ mu- end to end: proton beams, incoming partons x1 P1 and x2 P2 of a
    q q~ subprocess, the Z as a status-2 resonance carrying the pair's momentum and mass, its
    muons pointing to it, momentum conservation, one colour line from quark to antiquark."""
    import pylhe

    from nis.cli import main

    config = tmp_path / "dy.json"
    assert dy_run["integrand"] == DY
    config.write_text(json.dumps(dy_run))
    lhe = tmp_path / "dy.lhe"
    assert main(["integrate", str(config), "--events", "300", "--lhe", str(lhe), "--quiet", "--checkpoint", "none"]) == 0
    read = pylhe.LHEFile.fromfile(str(lhe))
    init = read.init.initInfo
    assert (init.beamA, init.beamB) == (2212, 2212)
    assert init.energyA == pytest.approx(SQRT_S / 2)
    events = list(read.events)
    assert len(events) == 300
    for ev in events:
        parts = ev.particles
        ids = [int(q.id) for q in parts]
        assert [int(q.status) for q in parts] == [-1, -1, 2, 1, 1]
        assert ids[2] == 23 and sorted(ids[3:]) == [-13, 13] and ids[0] == -ids[1] and 1 <= abs(ids[0]) <= 5
        mom = np.array([[q.e, q.px, q.py, q.pz] for q in parts])
        assert np.abs(mom[:2, 1:3]).max() == 0 and mom[0, 3] > 0 > mom[1, 3]  # along +z and -z
        assert np.abs(mom[3:].sum(0) - mom[:2].sum(0)).max() < 1e-9 * SQRT_S
        assert np.abs(mom[2] - mom[3:].sum(0)).max() < 1e-9 * SQRT_S
        assert parts[2].m == pytest.approx(math.sqrt(float(mass2(torch.tensor(mom[2])))), rel=1e-7)
        assert 66 <= parts[2].m <= 116
        assert [int(q.mother1) for q in parts[3:]] == [3, 3]
        quark = 0 if ids[0] > 0 else 1  # incoming quark's colour is the incoming antiquark's anticolour
        assert parts[quark].color1 > 0 and parts[quark].color1 == parts[1 - quark].color2


def test_event_subprocesses_follow_their_share_of_the_cross_section():
    """An event's subprocess is drawn with probability f_k / sum_j f_j at its phase-space point."""
    integrand = HadronicIntegrand(HadronicConfig.from_mapping({**DY, "subprocesses": "sum"}))
    u = cube(64, integrand.dims, seed=4)
    p, x1, x2, shat, w = integrand.momenta(u)
    point = u[integrand._passes(p, w)][:1].repeat(20_000, 1)
    share = integrand._by_subprocess(*integrand.momenta(point[:1])[:4])[0].abs()
    share = (share / share.sum()).numpy()
    counts = np.bincount(integrand.choose_subprocesses(point, np.random.default_rng(0)), minlength=len(share))
    sigma = np.sqrt(share * (1 - share) / len(point))
    assert np.all(np.abs(counts / len(point) - share) < 5 * sigma + 1e-12)


def test_sampled_subprocesses_average_to_the_sum():
    """subprocesses: sample picks one subprocess k per point with probability p_k and divides by
    it: at fixed phase-space points its average over k is exactly the summed integrand."""
    summed = HadronicIntegrand(HadronicConfig.from_mapping({**DY, "subprocesses": "sum"}))
    sampled = HadronicIntegrand(HadronicConfig.from_mapping({**DY, "subprocesses": "sample"}))
    assert sampled.sampled and not summed.sampled and sampled.dims == summed.dims + 1
    prob = sampled.sub_prob
    assert abs(prob.sum().item() - 1) < 1e-12 and bool((prob >= 0.1 / len(prob) - 1e-15).all())
    u = cube(400, summed.dims, seed=4)
    expected = summed.evaluate(u, 0).value
    assert (expected > 0).sum() > 50
    mid = torch.cumsum(prob, 0) - 0.5 * prob  # a point inside each subprocess's interval
    average = torch.zeros_like(expected)
    for k, m in enumerate(mid):
        value = sampled.evaluate(torch.cat([u, torch.full((400, 1), m.item(), dtype=u.dtype)], 1), 0).value
        assert bool((sampled.subprocess_index(torch.full((1, sampled.dims), m.item(), dtype=u.dtype)) == k).all())
        average += prob[k] * value
    assert torch.allclose(average, expected, rtol=1e-12, atol=0)
    with pytest.raises(ConfigError, match="subprocesses must be one of"):
        HadronicConfig.from_mapping({**DY, "subprocesses": "some"})
