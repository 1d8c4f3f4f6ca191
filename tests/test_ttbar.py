"""p p -> t t~ -> 6 partons (nis.processes.ttbar): the production |M|^2 against the closed-form
partonic totals, the narrow-width normalisation, Breit-Wigner masses, momentum conservation, the
hadronic cross section, config errors and the wiring (make_integrand, event files)."""

import math

import numpy as np
import pytest
import torch

from nis.config import ConfigError
from nis.phasespace.kinematics import mass, mass2
from nis.processes.integrand import GEV2_TO_PB
from nis.processes.ttbar import LABELS, PROCESS, TTbarConfig, TTbarIntegrand, is_ttbar, production_me2

pytestmark = pytest.mark.usefixtures("one_thread")

M_T, ALPHA_S = 173.0, 0.118


def sigma_qq(s, m, a):
    rho = 4 * m * m / s
    return 8 * math.pi * a * a / (27 * s) * math.sqrt(1 - rho) * (1 + rho / 2)


def sigma_gg(s, m, a):
    rho = 4 * m * m / s
    beta = math.sqrt(1 - rho)
    log = math.log((1 + beta) / (1 - beta))
    return math.pi * a * a / (3 * s) * ((1 + rho + rho * rho / 16) * log - beta * (7 / 4 + 31 * rho / 16))


def cube(n, seed=0):
    return torch.rand(n, 16, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.fixture(scope="module")
def integrand():
    return TTbarIntegrand(TTbarConfig.from_mapping({"matrix_element": PROCESS}))


@pytest.mark.parametrize("root_s", [360.0, 500.0, 2000.0])
def test_production_me2_integrates_to_the_partonic_totals(root_s):
    """sigma = 1/(2 s) beta/(16 pi) int dcos |M|^2 against ESW's closed forms (GeV^-2)."""
    s = root_s**2
    x, w = np.polynomial.legendre.leggauss(400)
    qq, gg = production_me2(torch.full((400,), s, dtype=torch.float64), torch.from_numpy(x), M_T**2, ALPHA_S)
    beta = math.sqrt(1 - 4 * M_T**2 / s)
    factor = beta / (16 * math.pi) / (2 * s)
    assert factor * float(qq.numpy() @ w) == pytest.approx(sigma_qq(s, M_T, ALPHA_S), rel=1e-6)
    assert factor * float(gg.numpy() @ w) == pytest.approx(sigma_gg(s, M_T, ALPHA_S), rel=1e-6)


def test_narrow_width_limit_is_the_luminosity_times_partonic_totals():
    """With tiny widths the integrand averages to sum L_ab sigma_ab(shat) BR^2 on the same (x1, x2)."""
    spec = {"matrix_element": PROCESS, "top": {"mass": M_T, "width": 1e-4}, "w": {"mass": 80.385, "width": 1e-4},
            "alpha_s": ALPHA_S}
    it = TTbarIntegrand(TTbarConfig.from_mapping(spec))
    u = cube(100_000, seed=3)
    value = it(u).value
    x1, x2, shat, w_x = it.fractions(u[:, 0], u[:, 1])
    lum_qq, lum_gg = it.luminosities(x1, x2)
    s = np.maximum(shat.numpy(), 4 * M_T**2)  # the top window reaches a hair below threshold
    closed = (lum_qq.numpy() * np.array([sigma_qq(v, M_T, ALPHA_S) for v in s])
              + lum_gg.numpy() * np.array([sigma_gg(v, M_T, ALPHA_S) for v in s]))
    expected = GEV2_TO_PB * closed * w_x.numpy() * it.config.br_w_hadronic**2
    assert value.mean().item() == pytest.approx(expected.mean(), rel=0.01)


def test_final_state_conserves_momentum_and_is_massless(integrand):
    p, x1, x2, shat, w = integrand.momenta(cube(2000))
    assert p.shape == (2000, 6, 4)
    e = 0.5 * integrand.config.sqrt_s
    initial = torch.stack([(x1 + x2) * e, 0 * x1, 0 * x1, (x1 - x2) * e], dim=-1)
    assert torch.allclose(p.sum(1), initial, rtol=0, atol=1e-9 * e)
    assert torch.allclose(mass2(p.sum(1)), shat, rtol=1e-10)
    assert (mass2(p).abs() <= 1e-8 * p[..., 0] ** 2).all()


def _weighted_quantiles(x, w, qs):
    order = np.argsort(x)
    c = np.cumsum(w[order])
    return np.interp(np.asarray(qs) * c[-1], c, x[order])


@pytest.mark.parametrize("which, pair", [("w", (1, 2)), ("w", (4, 5)), ("top", (0, 1, 2)), ("top", (3, 4, 5))])
def test_reconstructed_masses_follow_the_breit_wigners(integrand, which, pair):
    """Cross-section-weighted median and interquartile range of m(W) and m(t) against the
    Breit-Wigner truncated at bw_cutoff widths (quartiles at M^2 +- M Gamma tan(atan(c)/2))."""
    u = cube(100_000, seed=1)
    value = integrand(u).value.numpy()
    p = integrand.momenta(u)[0]
    m = mass(p[:, list(pair)].sum(1)).numpy()
    r = getattr(integrand.config, which)
    big_m, gamma = r["mass"], r["width"]
    lo, hi = integrand.config.mass_range(which)
    y = [math.atan((v * v - big_m**2) / (big_m * gamma)) for v in (lo, hi)]
    quart = [math.sqrt(big_m**2 + big_m * gamma * math.tan(y[0] + q * (y[1] - y[0]))) for q in (0.25, 0.5, 0.75)]
    got = _weighted_quantiles(m, value, [0.25, 0.5, 0.75])
    assert got[1] == pytest.approx(quart[1], abs=0.05 * gamma)
    assert got[2] - got[0] == pytest.approx(quart[2] - quart[0], rel=0.05)
    assert lo <= m.min() and m.max() <= hi


def test_hadronic_cross_section_is_the_lo_ttbar_rate_times_br2(integrand):
    value = integrand(cube(200_000, seed=2)).value
    assert torch.isfinite(value).all() and (value >= 0).all()
    sigma, err = value.mean().item(), value.std().item() / math.sqrt(value.numel())
    assert err < 0.02 * sigma
    # LO sigma(t t~) at 13 TeV, mu = m_t, NNPDF3.1 NNLO: about 480 pb; BR(W -> had) = 6/9 each
    assert 440 < sigma / integrand.config.br_w_hadronic**2 < 530
    assert integrand.alpha_s == pytest.approx(0.1076, abs=5e-4)


def test_cuts_remove_events():
    base = {"matrix_element": PROCESS, "cuts": {"pt_min": 30, "rapidity_max": 2.5}}
    it = TTbarIntegrand(TTbarConfig.from_mapping(base))
    u = cube(5000)
    value = it(u).value
    p = it.momenta(u)[0]
    passed = value > 0
    assert 0 < passed.float().mean() < 0.5
    from nis.phasespace.kinematics import pt

    assert (pt(p[passed]) >= 30).all()


@pytest.mark.parametrize(
    "key, value, words",
    [
        ("colour", 3, "colour"),
        ("top", {"mass": 173.0}, "integrand.top"),
        ("w", {"mass": 80.4, "width": -1}, "integrand.w.width"),
        ("flavours", ["t"], "flavours"),
        ("alpha_s", 2.0, "alpha_s"),
        ("br_w_hadronic", 0.0, "br_w_hadronic"),
        ("cuts", {"pt_min": -1}, "cuts"),
        ("cuts", {"ptmin": 10}, "cuts"),
        ("sqrt_s", 300.0, "threshold"),
    ],
)
def test_bad_config_raises_config_error_naming_the_key(key, value, words):
    with pytest.raises(ConfigError, match=words):
        TTbarConfig.from_mapping({"matrix_element": PROCESS, key: value})


def test_wiring_make_integrand_and_event_file(tmp_path):
    from nis.events.hdf5 import EventFile, read_event_file, write_event_file
    from nis.integrands import make_integrand, process_config
    from nis.processes.eventfile import final_state

    assert is_ttbar("p  p -> t t~ ->  b j j b~ j j") and not is_ttbar("p p -> j j")
    assert isinstance(process_config({"matrix_element": PROCESS}), TTbarConfig)
    it = make_integrand({"matrix_element": PROCESS, "sqrt_s": 13000}, name="tt")
    assert isinstance(it, TTbarIntegrand) and it.name == "tt"
    momenta, labels = final_state(it, {"u": cube(10), "channel": torch.zeros(10, dtype=torch.long)})
    assert labels == LABELS == ["b", "q", "q~", "b~", "q", "q~"] and momenta.shape == (10, 6, 4)
    path = write_event_file(tmp_path / "tt.h5", EventFile(momenta=momenta, labels=labels, process="tt"))
    assert np.array_equal(read_event_file(path).momenta, momenta)
