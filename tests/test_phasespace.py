"""Physics tests of nis.phasespace: RAMBO, mappings, channels files, multi-channel identity, cuts."""

import math
from pathlib import Path

import pytest
import torch
import yaml

from nis.phasespace import (
    CHANNELS_DIR,
    BreitWignerMass,
    ChannelsError,
    Cuts,
    PowerLawMass,
    TExchange,
    boost,
    boost_from_rest,
    boost_to_rest,
    check_momentum_conservation,
    check_on_shell,
    find_channels_file,
    incoming_momenta,
    load_channels,
    mass2,
    massless_volume,
    parse_process,
    process_matches,
    rambo_forward,
    rambo_inverse,
    t_channel_decay,
    t_channel_inverse,
    two_body_decay,
    two_body_inverse,
)
from nis.phasespace.invariants import power_law_forward
from nis.phasespace.kinematics import kallen

F64 = torch.float64
SQRT_S = 1000.0
FILES = sorted(CHANNELS_DIR.glob("*.yaml"))


pytestmark = pytest.mark.usefixtures("one_thread")


def rand(n, d, seed):
    return torch.rand(n, d, generator=torch.Generator().manual_seed(seed), dtype=F64)


def full(n, value):
    return torch.full((n,), float(value), dtype=F64)


def mc(values):
    """Mean and its standard error."""
    return values.mean().item(), values.std().item() / math.sqrt(values.numel())


def assert_mc(values, exact, sigmas=5.0):
    mean, err = mc(values)
    assert abs(mean - exact) <= sigmas * err + 1e-12 * abs(exact), (mean, err, exact)


def file_process(path):
    proc = yaml.safe_load(Path(path).read_text())["process"]
    return proc, len(parse_process(proc)[1])


# ---------------------------------------------------------------- RAMBO


def test_massless_volume_two_body():
    assert massless_volume(2, 1e6) == pytest.approx(1.0 / (8.0 * math.pi), rel=1e-14)


@pytest.mark.parametrize("n", [2, 3, 4, 5, 6])
def test_rambo_forward_inverse(n):
    N = 4000
    u = rand(N, 3 * n - 4, n)
    shat = full(N, SQRT_S**2)
    k, w = rambo_forward(u, shat)
    p = torch.cat([incoming_momenta(shat.sqrt()), k], 1)
    assert k.shape == (N, n, 4) and w.shape == (N,)
    assert bool(check_momentum_conservation(p, 1e-12).all())
    assert bool(check_on_shell(k, 0.0, 1e-10).all())
    assert bool((k[..., 0] > 0).all())
    assert torch.allclose(w, full(N, massless_volume(n, SQRT_S**2)), rtol=1e-13, atol=0)
    u2, w2 = rambo_inverse(k, shat)
    assert (u2 - u).abs().max().item() < 1e-10
    assert torch.equal(w2, w)
    k2, _ = rambo_forward(u2, shat)
    assert (k2 - k).abs().max().item() < 1e-10 * SQRT_S


def test_rambo_is_flat():
    """Flat three-body phase space is uniform on the Dalitz triangle: s_ij/s ~ Dirichlet(1,1,1)."""
    N = 100_000
    k, _ = rambo_forward(rand(N, 5, 7), full(N, 1.0))
    for i, j in ((0, 1), (0, 2), (1, 2)):
        x = mass2(k[:, i] + k[:, j])
        assert_mc(x, 1.0 / 3.0)
        assert_mc(x * x, 1.0 / 6.0)


# ---------------------------------------------------------------- one-dimensional mappings


@pytest.mark.parametrize("nu", [0.0, 0.5, 1.0, 1.5, 2.0])
def test_power_law_mapping(nu):
    N = 50_000
    lo, hi, shat = full(N, 2.0), full(N, 500.0), full(N, 1000.0)
    m = PowerLawMass(nu, s0_frac=0.01)
    u = rand(N, 1, 1)[:, 0]
    s, w = m.forward(u, lo, hi, shat)
    assert bool(((s >= 2.0 - 1e-12) & (s <= 500.0 + 1e-9)).all())
    assert_mc(w, 498.0)  # int ds over the range
    assert_mc(w * s, (500.0**2 - 2.0**2) / 2)  # int s ds: the Jacobian, not only its mean
    u2, w2 = m.inverse(s, lo, hi, shat)
    assert (u2 - u).abs().max().item() < 1e-10
    assert torch.allclose(w2, w, rtol=1e-10)
    # the density is the power law: w * (s + s0)^-nu is constant
    c = w * (s + 10.0) ** (-nu)
    assert torch.allclose(c, c[:1].expand_as(c), rtol=1e-9)


def test_power_law_smin_marks_unreachable():
    m = PowerLawMass(1.0, s0_frac=0.0, smin_frac=0.1)
    lo, hi, shat = full(3, 0.0), full(3, 100.0), full(3, 100.0)
    s, _ = m.forward(torch.tensor([0.0, 0.5, 1.0], dtype=F64), lo, hi, shat)
    assert s[0].item() == pytest.approx(10.0) and s[2].item() == pytest.approx(100.0)
    u, _ = m.inverse(full(3, 5.0), lo, hi, shat)
    assert bool((u < 0).all())


def test_breit_wigner_mapping():
    N = 50_000
    M, G = 91.19, 2.5
    lo, hi = full(N, 50.0**2), full(N, 150.0**2)
    m = BreitWignerMass(M, G)
    u = rand(N, 1, 2)[:, 0]
    s, w = m.forward(u, lo, hi, hi)
    assert_mc(w, 150.0**2 - 50.0**2)
    bw = 1.0 / ((s - M * M) ** 2 + (M * G) ** 2)
    exact = (math.atan((150.0**2 - M * M) / (M * G)) - math.atan((50.0**2 - M * M) / (M * G))) / (M * G)
    assert_mc(w * bw, exact)
    assert torch.allclose(w * bw, full(N, exact), rtol=1e-10)  # exactly flat in the BW variable
    u2, w2 = m.inverse(s, lo, hi, hi)
    assert (u2 - u).abs().max().item() < 1e-10 and torch.allclose(w2, w, rtol=1e-10)


# ---------------------------------------------------------------- two-body decay and t-channel block


def _moving(P_rest, beta=(0.3, -0.2, 0.5)):
    return boost(P_rest, torch.tensor(beta, dtype=F64).expand(P_rest.shape[0], 3))


def test_boosts_round_trip():
    p = rand(100, 4, 3) * 10.0
    Q = torch.tensor([50.0, 3.0, -4.0, 20.0], dtype=F64).expand(100, 4)
    assert torch.allclose(boost_from_rest(boost_to_rest(p, Q), Q), p, rtol=1e-12, atol=1e-11)
    rest = boost_to_rest(Q, Q)
    assert torch.allclose(rest[:, 1:], torch.zeros(100, 3, dtype=F64), atol=1e-12)
    assert torch.allclose(rest[:, 0], mass2(Q).sqrt())
    beta = Q[:, 1:] / Q[:, :1]
    assert torch.allclose(boost(p, beta), boost_from_rest(p, Q), rtol=1e-12, atol=1e-11)


def test_momentum_conservation_check_detects_violation():
    k, _ = rambo_forward(rand(10, 5, 4), full(10, 100.0))
    p = torch.cat([incoming_momenta(full(10, 10.0)), k], 1)
    assert bool(check_momentum_conservation(p).all())
    p[3, 4, 1] += 1e-6
    assert check_momentum_conservation(p, 1e-9).tolist() == [i != 3 for i in range(10)]


def test_two_body_decay():
    N = 20_000
    s, s1, s2 = 400.0**2, 60.0**2, 150.0**2
    P = _moving(torch.tensor([400.0, 0, 0, 0], dtype=F64).expand(N, 4))
    u = rand(N, 2, 5)
    k1, k2, w = two_body_decay(P, full(N, s1), full(N, s2), u[:, 0], u[:, 1])
    assert torch.allclose(k1 + k2, P, atol=1e-10)
    assert torch.allclose(mass2(k1), full(N, s1), rtol=1e-9) and torch.allclose(mass2(k2), full(N, s2), rtol=1e-9)
    assert torch.allclose(w, full(N, math.sqrt(kallen(s, s1, s2)) / (8 * math.pi * s)))
    u1, u2, w2 = two_body_inverse(P, k1, full(N, s1), full(N, s2))
    assert (torch.stack([u1, u2], 1) - u).abs().max().item() < 1e-10 and torch.allclose(w, w2)


def test_tree_root_pt_min_draws_exactly_the_region_the_cut_accepts():
    """A three-parton tree at fixed energy with ``root_pt_min``: the root's children pass the pT
    bound at every point, the volume equals the uniform tree's with the cut applied afterwards
    (at a smaller error), and the inverse undoes the forward map."""
    from nis.phasespace import TreeChannel, cluster, leaf

    n, pt_min = 200_000, 40.0
    shat = full(n, 500.0**2)

    def tree(**kw):
        return TreeChannel(cluster(cluster(leaf(0), leaf(1)), leaf(2)), 3, **kw)

    u = rand(n, 5, 7)
    k, w = tree(root_pt_min=pt_min).forward(u, shat)
    pt = torch.hypot(k[:, 2, 1], k[:, 2, 2])
    assert bool((pt[w > 0] >= pt_min * (1 - 1e-12)).all())  # (w = 0: a (0 1) mass too large for any pT >= 40)
    ok = torch.nonzero(w > 0).squeeze(1)[:2000]
    u_back, w_back = tree(root_pt_min=pt_min).inverse(k[ok], shat[ok])
    assert (u_back - u[ok]).abs().max().item() < 1e-9 and torch.allclose(w_back, w[ok], rtol=1e-9)
    k0, w0 = tree().forward(rand(n, 5, 8), shat)
    pt0 = torch.hypot(k0[:, 2, 1], k0[:, 2, 2])
    for power in (0, 2):  # the volume, and a 1/pT^2 emission that the mapping follows
        (mean, err) = mc(w / pt.clamp(min=pt_min) ** power)
        (mean0, err0) = mc(w0 * (pt0 >= pt_min) / pt0.clamp(min=pt_min) ** power)
        assert abs(mean - mean0) < 4.5 * math.hypot(err, err0)
    assert err < 0.5 * err0
    with pytest.raises(ValueError, match="root_pt_min"):
        tree(root_pt_min=-1.0)


@pytest.mark.parametrize("nu", [0.0, 1.0, 2.0])
@pytest.mark.parametrize("case", ["root-massless", "root-massive", "spacelike-moving"])
def test_t_channel_block(nu, case):
    N = 20_000
    sqrt_s = 500.0
    rest = torch.tensor([sqrt_s, 0, 0, 0], dtype=F64).expand(N, 4)
    if case == "spacelike-moving":
        # p_b massless with energy > sqrt_s/2: q_a = P - p_b is spacelike, as down a t-channel chain
        eb = 0.7 * sqrt_s
        pb = torch.tensor([eb, eb * 0.6, 0.0, -eb * 0.8], dtype=F64).expand(N, 4)
        P, qa = _moving(rest), _moving(rest - pb)
        s1, s2 = 40.0**2, 0.0
    else:
        P = rest
        qa = incoming_momenta(full(N, sqrt_s))[:, 0]
        s1, s2 = (0.0, 0.0) if case == "root-massless" else (80.0**2, 120.0**2)
    shat = full(N, sqrt_s**2)
    ex = TExchange(nu=nu, mass=0.0, s0_frac=1e-3)
    u = rand(N, 2, 6)
    k1, k2, w = t_channel_decay(P, qa, full(N, s1), full(N, s2), u[:, 0], u[:, 1], ex, shat)
    assert torch.allclose(k1 + k2, P, atol=1e-9)
    assert torch.allclose(mass2(k1), full(N, s1), atol=1e-7 * sqrt_s**2)
    assert_mc(w, math.sqrt(kallen(sqrt_s**2, s1, s2)) / (8 * math.pi * sqrt_s**2))
    # the momenta realise the sampled t
    s = sqrt_s**2
    sa, sb = mass2(qa), mass2(P - qa)
    ea, pa = (s + sa - sb) / (2 * sqrt_s), kallen(s, sa, sb).sqrt() / (2 * sqrt_s)
    e1, kk = (s + s1 - s2) / (2 * sqrt_s), math.sqrt(kallen(s, s1, s2)) / (2 * sqrt_s)
    t0, tc = sa + s1 - 2 * ea * e1, 2 * pa * kk
    y_lo = -(t0 + tc)
    y, _ = power_law_forward(u[:, 0], y_lo, -(t0 - tc), nu, 1e-3 * s + torch.relu(-y_lo))
    assert torch.allclose(mass2(qa - k1), -y, atol=1e-8 * s)
    ut, up, w2 = t_channel_inverse(P, qa, k1, full(N, s1), full(N, s2), ex, shat)
    assert (torch.stack([ut, up], 1) - u).abs().max().item() < 1e-7
    assert torch.allclose(w2, w, rtol=1e-7)


# ---------------------------------------------------------------- channels files


@pytest.fixture(scope="module", params=FILES, ids=[p.stem for p in FILES])
def channel_file(request):
    proc, n_out = file_process(request.param)
    return request.param, proc, n_out, load_channels(request.param, n_out, SQRT_S, process=proc)


def test_channel_files_exist():
    assert {p.name for p in FILES} >= {
        "ee_mumu.yaml", "ee_qq.yaml", "ee_qqg.yaml", "ee_qqgg.yaml", "ee_qqggg.yaml",
        "gg_gg.yaml", "gg_ggg.yaml", "gg_gggg.yaml",
    }


def test_channels_volume_and_densities(channel_file):
    """Each channel: momenta valid, MC integral of w = massless volume, density(map(u)) = 1/w."""
    path, proc, n_out, cs = channel_file
    assert cs.dims == 3 * n_out - 4 and len(cs.names) == cs.n_channels
    V = massless_volume(n_out, SQRT_S**2)
    N = 6000 if cs.n_channels > 15 else 10_000 if cs.n_channels > 5 else 20_000
    ps, ws, us = [], [], []
    for c in range(cs.n_channels):
        u = rand(N, cs.dims, 100 + c)
        p, w = cs.map(c, u)
        assert p.shape == (N, n_out + 2, 4)
        assert bool(check_momentum_conservation(p, 1e-12).all()), cs.names[c]
        assert bool(check_on_shell(p, 0.0, 1e-9).all()), cs.names[c]
        assert_mc(w / V, 1.0)
        ps.append(p[:200])
        ws.append(w[:200])
        us.append(u[:200])
    g = cs.densities(torch.cat(ps))  # one call for all channels' points
    assert g.shape == (200 * cs.n_channels, cs.n_channels)
    assert bool((g > 0).all())  # every channel covers the whole phase space
    for c in range(cs.n_channels):
        rows = slice(200 * c, 200 * (c + 1))
        assert torch.allclose(g[rows, c] * ws[c], torch.ones(200, dtype=F64), rtol=1e-6), cs.names[c]
        u2, _ = cs.inverse(c, ps[c])
        assert (u2 - us[c]).abs().max().item() < 1e-6, cs.names[c]


def assert_channels_match_rambo(cs, f, n, seed, ref_n, ref_seed):
    """The multi-channel integral of f (n points per channel) equals flat RAMBO's (ref_n points)
    within 5 combined standard errors."""
    got, err = _multichannel(cs, f, n, seed)
    k, w = rambo_forward(rand(ref_n, cs.dims, ref_seed), full(ref_n, SQRT_S**2))
    ref, ref_err = mc(w * f(torch.cat([incoming_momenta(full(ref_n, SQRT_S)), k], 1)))
    assert abs(got - ref) < 5 * math.hypot(err, ref_err), (got, err, ref, ref_err)


def _multichannel(cs, f, n, seed):
    """sum_c E_{u ~ channel c}[alpha_c w_c f] with alpha_c = g_c / sum_k g_k, and its error."""
    ps, ws = zip(*(cs.map(c, rand(n, cs.dims, seed + c)) for c in range(cs.n_channels)))
    p = torch.cat(ps)
    alpha = cs.prior(p)  # one densities call for all channels' points
    terms = alpha[torch.arange(p.shape[0]), torch.arange(cs.n_channels).repeat_interleave(n)] * torch.cat(ws) * f(p)
    total, var = 0.0, 0.0
    for c in range(cs.n_channels):
        mean, err = mc(terms[c * n : (c + 1) * n])
        total, var = total + mean, var + err**2
    return total, math.sqrt(var)


def test_multichannel_identity_ee_qqg_durham():
    cs = load_channels(CHANNELS_DIR / "ee_qqg.yaml", 3, SQRT_S, process="e+ e- -> d d~ g")
    cuts = Cuts(y_cut=0.02)
    s = SQRT_S**2

    def f(p):  # antenna-like s^2 / (s35 s45) inside the Durham cut
        return cuts.mask(p) * s * s / (mass2(p[:, 2] + p[:, 4]) * mass2(p[:, 3] + p[:, 4]))

    assert_channels_match_rambo(cs, f, 20_000, 11, 200_000, 12)


def test_multichannel_identity_ee_qqgg_durham():
    cs = load_channels(CHANNELS_DIR / "ee_qqgg.yaml", 4, SQRT_S, process="e+ e- -> u u~ g g")
    cuts = Cuts(y_cut=0.01)
    s = SQRT_S**2

    def f(p):  # one colour antenna q 5 6 q~, inside the Durham cut
        s35, s56, s46 = (mass2(p[:, i] + p[:, j]) for i, j in ((2, 4), (4, 5), (3, 5)))
        return cuts.mask(p) * s * s / (s35 * s56 + s56 * s46)

    assert_channels_match_rambo(cs, f, 3000, 51, 60_000, 52)


def test_multichannel_identity_gg_gg_analytic():
    cs = load_channels(CHANNELS_DIR / "gg_gg.yaml", 2, SQRT_S, process="g g -> g g")
    cuts = Cuts(pt_min=100.0, rapidity_max=2.0)
    s = SQRT_S**2

    def f(p):  # s^2 / (t u) inside the cuts
        t, u = mass2(p[:, 0] - p[:, 2]), mass2(p[:, 0] - p[:, 3])
        return cuts.mask(p) * s * s / (t * u)

    a = min(math.sqrt(1 - 4 * 100.0**2 / s), math.tanh(2.0))
    got, err = _multichannel(cs, f, 20_000, 21)
    assert abs(got - math.atanh(a) / (2 * math.pi)) < 5 * err


def test_multichannel_identity_gg_ggg_hadron_cuts():
    cs = load_channels(CHANNELS_DIR / "gg_ggg.yaml", 3, SQRT_S, process="g g -> g g g")
    cuts = Cuts(pt_min=30.0, rapidity_max=2.5, delta_r_min=0.4)

    def f(p):
        return cuts.mask(p).to(F64)

    assert_channels_match_rambo(cs, f, 4000, 31, 100_000, 32)


def test_load_with_process_string():
    cs = load_channels(CHANNELS_DIR / "ee_qqg.yaml", "e+ e- -> s s~ g", 91.188)
    assert cs.n_channels == 3 and cs.dims == 5 and cs.names == ["flat", "s35", "s45"]
    with pytest.raises(ChannelsError, match="is for process"):
        load_channels(CHANNELS_DIR / "ee_qqg.yaml", "e+ e- -> s s~ g g", 91.188)


def test_variable_partonic_energy():
    cs = load_channels(CHANNELS_DIR / "gg_ggg.yaml", 3, SQRT_S)
    sqrt_s = 200.0 + 800.0 * rand(500, 1, 41)[:, 0]
    for c in (0, 1, 7):
        p, w = cs.map(c, rand(500, cs.dims, 42), sqrt_s=sqrt_s)
        assert torch.allclose(mass2(p[:, 0] + p[:, 1]), sqrt_s**2)
        assert torch.allclose(cs.densities(p)[:, c] * w, torch.ones(500, dtype=F64), rtol=1e-6)


# ---------------------------------------------------------------- process strings


@pytest.mark.parametrize(
    "file_proc, proc, ok",
    [
        ("e+ e- -> q q~ g", "e+ e- -> d d~ g", True),
        ("e+ e- -> q q~ g", "e+ e-  ->  b bbar g", True),
        ("e+ e- -> q q~ g", "e+ e- -> d~ d g", False),
        ("e+ e- -> q q~ g", "e+ e- -> d d~ g g", False),
        ("e+ e- -> q q~ g", "e+ e- -> t t~ g", False),
        ("g g -> g g g", "g g -> g g g", True),
        ("g g -> g g g", "e+ e- -> g g g", False),
    ],
)
def test_process_matching(file_proc, proc, ok):
    assert process_matches(file_proc, proc) is ok


def test_find_channels_file():
    assert find_channels_file("e+ e- -> u u~ g g").name == "ee_qqgg.yaml"
    assert find_channels_file("g g -> g g g g").name == "gg_gggg.yaml"
    with pytest.raises(ChannelsError, match="no channels file"):
        find_channels_file("u u~ -> e+ e-")


# ---------------------------------------------------------------- bad channels files

GOOD = {"process": "e+ e- -> q q~ g", "channels": [{"name": "flat", "rambo": True}, {"name": "s35", "s": [[3, 5], 4]}]}


def _with_channel(ch, **top):
    d = {"process": "e+ e- -> q q~ g", "channels": [{"name": "flat", "rambo": True}, {"name": "bad", **ch}]}
    d.update(top)
    return yaml.safe_dump(d, default_flow_style=None, sort_keys=False)


BAD = {
    "wrong-count": (yaml.safe_dump(GOOD), {"n_out": 4}, "has 3 final-state particles"),
    "other-process": (yaml.safe_dump(GOOD), {"process": "g g -> g g g"}, "is for process"),
    "index-out-of-range": (_with_channel({"s": [[3, 6], 4]}), {}, "particle index 6 is out of range"),
    "incoming-index": (_with_channel({"s": [[1, 5], 4]}), {}, "incoming"),
    "prop-all": (_with_channel({"s": [[3, 4, 5]]}), {}, "contains all final-state particles"),
    "prop-all-nested": (_with_channel({"t": [[3, [4, 5]]]}), {}, "contains all final-state particles"),
    "prop-one": (_with_channel({"s": [[3], 4, 5]}), {}, "contains only one particle"),
    "duplicate": (_with_channel({"s": [[3, 5], 3]}), {}, "appears twice"),
    "one-block": (_with_channel({"s": [[3, 5]]}), {}, "at least two blocks"),
    "missing-particle": (_with_channel({"t": [3, 4]}), {}, "missing"),
    "bw-no-width": (_with_channel({"s": [{"prop": [3, 5], "mass": 91.0}, 4]}), {}, "Breit-Wigner"),
    "negative-width": (_with_channel({"s": [{"prop": [3, 5], "mass": 91.0, "width": -1}, 4]}), {}, "outside"),
    "unknown-option": (_with_channel({"s": [{"prop": [3, 5], "power": 1}, 4]}), {}, "unknown option"),
    "no-regulator": (_with_channel({"s": [[3, 5], 4]}, defaults={"s0_frac": 0.0}), {}, "diverges"),
    "two-kinds": (_with_channel({"s": [[3, 5], 4], "t": [3, 4, 5]}), {}, "exactly one"),
    "rambo-false": (_with_channel({"rambo": False}), {}, "'rambo' must be true"),
    "not-a-particle": (_with_channel({"s": [["x", 5], 4]}), {}, "not a particle number"),
    "dup-name": ('process: "e+ e- -> q q~ g"\nchannels:\n  - {name: a, rambo: true}\n  - {name: a, rambo: true}\n', {},
                 "duplicate channel name"),
    "no-process": ("channels:\n  - {rambo: true}\n", {}, "'process'"),
    "bad-process": ('process: "e+ e- q q~ g"\nchannels:\n  - {rambo: true}\n', {}, "not of the form"),
    "empty": ('process: "e+ e- -> q q~ g"\nchannels: []\n', {}, "non-empty"),
    "bad-yaml": ('process: "e+ e- -> q q~ g"\nchannels:\n  - {rambo: true\n', {}, "not valid YAML"),
    "unknown-top": ('process: "e+ e- -> q q~ g"\nchanels:\n  - {rambo: true}\n', {}, "unknown key"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_channel_files(tmp_path, case):
    text, kwargs, message = BAD[case]
    path = tmp_path / f"{case}.yaml"
    path.write_text(text)
    kw = {"n_out": 3, "process": "e+ e- -> d d~ g"}
    kw.update(kwargs)
    with pytest.raises(ChannelsError, match=message) as info:
        load_channels(path, kw.pop("n_out"), SQRT_S, **kw)
    msg = str(info.value)
    assert str(path) in msg
    if "bad" in text and "name: bad" in text:
        assert "line " in msg and "'bad'" in msg, msg


def test_error_names_line(tmp_path):
    path = tmp_path / "lines.yaml"
    path.write_text('process: "e+ e- -> q q~ g"\nchannels:\n  - name: flat\n    rambo: true\n  - name: oops\n'
                    "    s: [[3, 7], 4]\n")
    with pytest.raises(ChannelsError, match=r"lines.yaml: line 6, channel 1 \('oops'\): particle index 7"):
        load_channels(path, 3, SQRT_S)


# ---------------------------------------------------------------- cuts


def _event(final, sqrt_s=SQRT_S):
    k = torch.tensor(final, dtype=F64)[None]
    return torch.cat([incoming_momenta(full(1, sqrt_s)), k], 1)


def test_durham_back_to_back_and_mercedes():
    e = SQRT_S / 2
    p = _event([[e, 0, 0, e], [e, 0, 0, -e]])  # y = 2 E^2 (1 - cos pi) / s = 1
    assert Cuts(y_cut=0.999).mask(p).tolist() == [True]
    e = SQRT_S / 3  # three partons at 120 degrees: y = 2 (s/9)(3/2)/s = 1/3
    dirs = [(0.0, 1.0), (math.sqrt(3) / 2, -0.5), (-math.sqrt(3) / 2, -0.5)]
    p = _event([[e, e * x, e * y, 0.0] for x, y in dirs])
    assert Cuts(y_cut=0.333).mask(p).tolist() == [True]
    assert Cuts(y_cut=0.334).mask(p).tolist() == [False]
    assert Cuts(y_cut=0.334, partons=(2, 3)).mask(p).tolist() == [False]
    assert Cuts(m_min=0.99 * SQRT_S / math.sqrt(3)).mask(p).tolist() == [True]  # m_ij^2 = s/3
    assert Cuts(e_min=e * 1.01).mask(p).tolist() == [False]


def test_hadron_cuts():
    e = SQRT_S / 2
    # back-to-back at 90 degrees: pT = E, y = 0, Delta R = pi
    p = _event([[e, e, 0, 0], [e, -e, 0, 0]])
    assert Cuts(pt_min=e * 0.99, rapidity_max=0.1, delta_r_min=3.1).mask(p).tolist() == [True]
    assert Cuts(pt_min=e * 1.01).mask(p).tolist() == [False]
    assert Cuts(delta_r_min=3.2).mask(p).tolist() == [False]
    # rapidity 1: pz = E tanh(1)
    c, s = math.tanh(1.0), 1 / math.cosh(1.0)
    p = _event([[e, e * s, 0, e * c], [e, -e * s, 0, -e * c]])
    assert Cuts(rapidity_max=1.0001).mask(p).tolist() == [True]
    assert Cuts(rapidity_max=0.9999).mask(p).tolist() == [False]


@pytest.mark.parametrize(
    "kwargs",
    [{"pt_min": -1.0}, {"y_cut": 1.0}, {"y_cut": 1.5}, {"y_cut": -0.1}, {"delta_r_min": float("nan")},
     {"rapidity_max": 0.0}, {"partons": (0, 2)}, {"partons": (2, 2)}, {"e_min": "3"}],
)
def test_bad_cuts(kwargs):
    with pytest.raises(ValueError, match="Cuts"):
        Cuts(**kwargs)


def test_cuts_from_dict():
    assert Cuts.from_dict({"y_cut": 0.01}).y_cut == 0.01
    with pytest.raises(ValueError, match="unknown cut"):
        Cuts.from_dict({"ycut": 0.01})
