"""LHE output and colour flows: files pylhe reads back, conserved momenta, consistent colour lines."""

import numpy as np
import pylhe
import pytest

from nis.events.colour import colour_flows
from nis.events.lhe import LHEEvents, LHEInit, write_lhe

SQRT_S = 91.188


def three_jets(n, rng):
    """e+ e- -> q qbar g momenta (n, 5, 4) from energy fractions x1, x2, randomly rotated."""
    out = []
    while len(out) < n:
        x1, x2 = rng.uniform(0.05, 1.0, 2)
        x3 = 2 - x1 - x2
        if not 0 < x3 < 1:
            continue
        e = 0.5 * SQRT_S
        cos12 = 1 - 2 * (1 - x3) / (x1 * x2)
        s12 = np.sqrt(max(0.0, 1 - cos12**2))
        k1 = x1 * e * np.array([1, 0, 0, 1.0])
        k2 = x2 * e * np.array([1, s12, 0, cos12])
        k3 = np.concatenate([[x3 * e], -(k1[1:] + k2[1:])])
        q, _ = np.linalg.qr(rng.normal(size=(3, 3)))  # random rotation (or reflection)
        final = np.stack([k1, k2, k3])
        final[:, 1:] = final[:, 1:] @ q.T
        beams = np.array([[e, 0, 0, e], [e, 0, 0, -e]])
        out.append(np.concatenate([beams, final]))
    return np.stack(out)


def check_colour_lines(pdg, tags, n_in=2):
    """Every tag joins exactly one colour to one anticolour, in the all-outgoing view."""
    t = tags.copy()
    t[:n_in] = t[:n_in, ::-1]
    cols = [c for c in t[:, 0] if c]
    acols = [a for a in t[:, 1] if a]
    assert sorted(cols) == sorted(acols) and len(set(cols)) == len(cols)
    for p, (c, a) in zip(pdg, tags):
        if abs(p) == 21:
            assert c and a
        elif 1 <= abs(p) <= 6:
            assert (c > 0) != (a > 0)
        else:
            assert c == a == 0


def test_lhe_round_trip_with_pylhe(tmp_path):
    rng = np.random.default_rng(3)
    p = three_jets(20, rng)
    pdg_row = [-11, 11, 2, -2, 21]
    tags = colour_flows(pdg_row, p, rng)
    weight = np.full(20, 41.5)
    weight[3] = -41.5
    path = write_lhe(
        tmp_path / "ee3j.lhe",
        LHEInit((-11, 11), (SQRT_S / 2, SQRT_S / 2), 41.5, 0.2, 41.5),
        LHEEvents(np.tile(pdg_row, (20, 1)), p, tags, weight, np.zeros(5), SQRT_S, 1 / 132.507, 0.118),
    )
    assert not (tmp_path / "ee3j.lhe.tmp").exists()
    lhe = pylhe.LHEFile.fromfile(path)
    assert lhe.init.procInfo[0].xSection == pytest.approx(41.5)
    assert lhe.init.initInfo.weightingStrategy == 3
    events = list(lhe.events)
    assert len(events) == 20
    for k, ev in enumerate(events):
        mom = np.array([[q.e, q.px, q.py, q.pz] for q in ev.particles])
        status = np.array([q.status for q in ev.particles])
        balance = mom[status == 1].sum(0) - mom[status == -1].sum(0)
        assert np.abs(balance).max() < 1e-9 * SQRT_S
        assert ev.eventinfo.weight == pytest.approx(weight[k])
        tags_back = np.array([[q.color1, q.color2] for q in ev.particles], dtype=int)
        check_colour_lines(pdg_row, tags_back)


def test_inconsistent_event_arrays_are_refused(tmp_path):
    p = three_jets(2, np.random.default_rng(1))
    with pytest.raises(ValueError, match="inconsistent shapes"):
        LHEEvents(np.zeros((3, 5), int), p, np.zeros((2, 5, 2), int), np.ones(2), np.zeros(5), 1.0, 0.1, 0.1)


@pytest.mark.parametrize(
    "pdg",
    [
        [-11, 11, 1, -1], [-11, 11, 1, -1, 21, 21, 21], [21, 21, 21, 21, 21, 21], [1, -1, 21, 21], [21, 1, 1, 21],
        [1, -1, 2, -2], [1, -1, 13, -13, 2, -2, 21], [2, 1, 2, 1, -13, 13], [21, 2, -11, 11, 2, 1, -1],
    ],
)
def test_colour_lines_are_consistent(pdg):
    rng = np.random.default_rng(5)
    n = len(pdg)
    p = np.abs(rng.normal(size=(50, n, 4))) + 0.1
    p[..., 0] = np.linalg.norm(p[..., 1:], axis=-1) + 0.5  # timelike, so every |s_ij| > 0
    for tags in colour_flows(pdg, p, rng):
        check_colour_lines(pdg, tags)


def test_colour_flow_probability_follows_antenna_weights():
    """q qbar g g: ordering (q g1 g2 qbar) is picked with weight 1/(s_q1 s_12 s_2qb) against (q g2 g1 qbar)."""
    rng = np.random.default_rng(7)
    p = np.abs(rng.normal(size=(1, 6, 4))) + 0.2
    p[..., 0] = np.linalg.norm(p[..., 1:], axis=-1) + 0.3
    p = np.repeat(p, 40_000, axis=0)
    tags = colour_flows([-11, 11, 1, -1, 21, 21], p, rng)
    first = tags[:, 4, 1] == tags[:, 2, 0]  # gluon 4 takes the quark's colour: order q g4 g5 qbar

    def s(i, j):
        a, b = p[0, i], p[0, j]
        return 2 * abs(a[0] * b[0] - a[1:] @ b[1:])

    w1 = 1 / (s(2, 4) * s(4, 5) * s(5, 3))
    w2 = 1 / (s(2, 5) * s(5, 4) * s(4, 3))
    expected = w1 / (w1 + w2)
    assert first.mean() == pytest.approx(expected, abs=5 * np.sqrt(expected * (1 - expected) / len(first)))


def test_two_quark_lines_pair_by_antenna_weights():
    """u u~ -> d d~ (all outgoing: u~ u d d~): the u~-side quark joins d~ with weight 1/s, else u~ with 1/s'."""
    rng = np.random.default_rng(11)
    p = np.abs(rng.normal(size=(1, 4, 4))) + 0.2
    p[..., 0] = np.linalg.norm(p[..., 1:], axis=-1) + 0.3
    p = np.repeat(p, 40_000, axis=0)
    tags = colour_flows([2, -2, 1, -1], p, rng)
    # crossed: particle 1 (incoming u~) is an outgoing quark, particle 0 an outgoing antiquark
    to_dbar = tags[:, 1, 1] == tags[:, 3, 1]  # incoming u~'s anticolour flows on to the outgoing d~

    def s(i, j):
        a, b = p[0, i], p[0, j]
        return 2 * abs(a[0] * b[0] - a[1:] @ b[1:])

    w_dbar = 1 / (s(1, 3) * s(2, 0))
    w_ubar = 1 / (s(1, 0) * s(2, 3))
    expected = w_dbar / (w_dbar + w_ubar)
    assert to_dbar.mean() == pytest.approx(expected, abs=5 * np.sqrt(expected * (1 - expected) / len(to_dbar)))


def test_unsupported_colour_structure_is_named():
    with pytest.raises(ValueError, match="no colour-flow rule"):
        colour_flows([1, 21, 21, 21], np.ones((1, 4, 4)), np.random.default_rng(0))


def test_nis_integrate_writes_lhe_that_pylhe_reads(tmp_path):
    """e+e- -> 3 jets end to end: cross section in the init block, N events, conserved momenta,
    light flavours with both up- and down-type present, consistent colour lines."""
    import json

    from nis.bridge import sm_defaults
    from nis.cli import main

    config = tmp_path / "ee3j.yaml"
    config.write_text(
        "process: ee3j\n"
        "integrand: {matrix_element: 'e+ e- -> q q~ g', sqrt_s: 91.188, cuts: {y_cut: 0.02}}\n"
        "training: {calls: 4000}\nintegration: {calls: 10000, validation_calls: 4000}\n"
    )
    lhe, out = tmp_path / "ee3j.lhe", tmp_path / "r.json"
    args = ["integrate", str(config), "--quiet", "--checkpoint", "none", "--events", "300", "--lhe", str(lhe)]
    assert main(args + ["--json", str(out)]) == 0
    r = json.loads(out.read_text())
    assert r["lhe"] == str(lhe) and r["n_events"] == 300
    defaults = sm_defaults()
    f = pylhe.LHEFile.fromfile(lhe)
    assert f.init.procInfo[0].xSection == pytest.approx(r["cross_section_pb"])
    assert f.init.procInfo[0].error == pytest.approx(r["error_pb"])
    assert (f.init.initInfo.beamA, f.init.initInfo.beamB) == (-11, 11)
    events = list(f.events)
    assert len(events) == 300
    quarks = set()
    for ev in events:
        mom = np.array([[q.e, q.px, q.py, q.pz] for q in ev.particles])
        status = np.array([q.status for q in ev.particles])
        assert np.abs(mom[status == 1].sum(0) - mom[status == -1].sum(0)).max() < 1e-8 * 91.188
        ids = [int(q.id) for q in ev.particles]
        assert ids[:2] == [-11, 11] and ids[3] == -ids[2] and ids[4] == 21
        quarks.add(ids[2])
        check_colour_lines(ids, np.array([[q.color1, q.color2] for q in ev.particles], dtype=int))
        assert abs(ev.eventinfo.weight) >= r["cross_section_pb"] * (1 - 1e-9)
        # the config sets no couplings: the event carries the providers' defaults
        assert (ev.eventinfo.aqcd, ev.eventinfo.aqed) == pytest.approx((defaults["alpha_s"], defaults["alpha"]))
    assert quarks <= {1, 2, 3, 4, 5} and {1, 3, 5} & quarks and {2, 4} & quarks


def test_lhe_needs_events_and_a_process(tmp_path, capsys):
    from nis.cli import main

    config = tmp_path / "g.yaml"
    config.write_text("process: g\nintegrand: {function: gaussian, dims: 2}\n")
    assert main(["integrate", str(config), "--events", "10", "--lhe", str(tmp_path / "x.lhe")]) == 2
    assert "test function" in capsys.readouterr().err
    config.write_text("process: m\nintegrand: {matrix_element: 'e+ e- -> mu+ mu-', sqrt_s: 91.2}\n")
    assert main(["integrate", str(config), "--lhe", str(tmp_path / "x.lhe")]) == 2
    assert "--lhe needs --events" in capsys.readouterr().err
    assert not (tmp_path / "x.lhe").exists()
