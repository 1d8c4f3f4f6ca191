"""Cross sections of real processes, end to end (phase space x matrix element x integrator),
against analytic LO results: e+e- -> mu+mu- through gamma/Z, the R ratio, the Durham 3-jet rate
and g g -> g g with cuts."""

import math

import numpy as np
import pytest
from scipy import integrate

from nis.config import IntegrationConfig, TrainingConfig
from nis.integrands import make_integrand
from nis.integrator import Integrator
from nis.processes.integrand import GEV2_TO_PB

ALPHA, ALPHA_S, MZ, WZ, SW2 = 1 / 132.507, 0.118, 91.1876, 2.4952, 0.2229
EW = {"alpha": ALPHA, "mZ": MZ, "wZ": WZ, "sin2w": SW2}
CHARGE = {"mu": (-1.0, -0.5, 1), "d": (-1 / 3, -0.5, 3), "u": (2 / 3, 0.5, 3)}  # Q, T3, colours
CHARGE.update(s=CHARGE["d"], b=CHARGE["d"], c=CHARGE["u"])


def sigma_ff(f: str, sqrt_s: float, z: bool = True) -> float:
    """LO sigma(e+e- -> f fbar) in pb, vector/axial form:
    4 pi alpha^2 N_c/(3s) [Q_f^2 - 2 Q_f v_e v_f Re chi + (v_e^2 + a_e^2)(v_f^2 + a_f^2)|chi|^2]
    (Q_e = -1), v = T3 - 2 Q sin^2 theta_W, a = T3, chi = s / ((s - M_Z^2 + i M_Z Gamma_Z) 4 sw^2 cw^2)."""
    s = sqrt_s**2
    qf, t3f, nc = CHARGE[f]
    ve, ae = -0.5 + 2 * SW2, -0.5
    vf, af = t3f - 2 * qf * SW2, t3f
    chi = s / ((s - MZ**2 + 1j * MZ * WZ) * 4 * SW2 * (1 - SW2)) if z else 0.0
    bracket = qf**2 - 2 * qf * ve * vf * np.real(chi) + (ve**2 + ae**2) * (vf**2 + af**2) * abs(chi) ** 2
    return GEV2_TO_PB * 4 * math.pi * ALPHA**2 * nc / (3 * s) * bracket


def run(spec: dict, calls: int = 5_000, integration: int = 20_000, seed: int = 3, fallback: str = "both"):
    """Train (flow, or VEGAS alone with fallback='always_vegas') and integrate ``spec``."""
    f = make_integrand(spec)
    integ = Integrator(
        f,
        training=TrainingConfig(calls=calls),
        integration=IntegrationConfig(calls=integration, validation_calls=5_000, fallback=fallback),
        seed=seed,
    )
    return integ.run().estimate


@pytest.mark.parametrize("sqrt_s", [91.2, 200.0])
def test_ee_mumu_against_analytic_gamma_z(sqrt_s):
    est = run({"matrix_element": "e+ e- -> mu+ mu-", "sqrt_s": sqrt_s, "parameters": EW})
    exact = sigma_ff("mu", sqrt_s)
    # one run's pull: 4 sigma, as elsewhere (at 3 sigma one seed in 400 fails; seed 3 at the Z pole
    # gave -3.1 with the flat-cube start, while seeds 0-19 have mean pull -0.33, sd 1.04)
    assert abs(est.integral - exact) < 4 * est.error, (est.integral, est.error, exact)
    assert est.error < 0.01 * exact


def test_r_ratio_photon_only_and_with_z():
    """sigma(e+e- -> hadrons)/sigma(e+e- -> mu mu) at LO: N_c sum Q_q^2 = 11/3 for udscb (photon
    only, 10 GeV), and the gamma/Z formula summed over flavours at the Z pole."""
    for sqrt_s, z in [(10.0, False), (91.2, True)]:
        params = dict(EW, z_exchange=1.0 if z else 0.0)
        had = run({"matrix_element": "e+ e- -> q q~", "sqrt_s": sqrt_s, "parameters": params}, fallback="always_vegas")
        mumu = sigma_ff("mu", sqrt_s, z)
        exact = sum(sigma_ff(q, sqrt_s, z) for q in "dusbc")
        assert abs(had.integral - exact) < 3 * had.error
        if not z:
            assert exact / mumu == pytest.approx(11 / 3, rel=1e-12)
            assert abs(had.integral / mumu - 11 / 3) < 3 * had.error / mumu


def durham_three_jet_rate(y_cut: float) -> float:
    """LO R_3 = sigma_3jet / sigma_Born for the Durham algorithm: integral of
    (C_F alpha_s / 2 pi) (x1^2 + x2^2) / ((1 - x1)(1 - x2)) over the energy fractions where
    y_ij = min(x_i, x_j) (1 - x_k) / max(x_i, x_j) > y_cut for all three pairs.

    For each x1 the allowed x2 form intervals, found on a fine grid and refined by bisection;
    the x2 integral is then done in closed form and the x1 integral by adaptive quadrature."""

    def inside(x1, x2):
        x = (x1, x2, 2 - x1 - x2)
        pairs = [(0, 1, 2), (0, 2, 1), (1, 2, 0)]
        return np.all([np.minimum(x[i], x[j]) * (1 - x[k]) / np.maximum(x[i], x[j]) > y_cut for i, j, k in pairs], 0)

    def primitive(x1, x2):  # d/dx2 of this is (x1^2 + x2^2) / ((1 - x1)(1 - x2))
        return (-(x1**2) * np.log1p(-x2) - x2**2 / 2 - x2 - np.log1p(-x2)) / (1 - x1)

    def slice_integral(x1):
        grid = np.linspace(1 - x1, 1, 4001)[1:-1]
        ok = inside(x1, grid)
        edges = np.flatnonzero(np.diff(ok.astype(int)))
        bounds = []
        for e in edges:  # bisection between grid[e] and grid[e + 1]
            a, b = grid[e], grid[e + 1]
            for _ in range(60):
                m = 0.5 * (a + b)
                a, b = (m, b) if inside(x1, m) == ok[e] else (a, m)
            bounds.append(0.5 * (a + b))
        if ok[0]:
            bounds.insert(0, 1 - x1)
        if ok[-1]:
            bounds.append(1.0 - 1e-15)
        return sum(primitive(x1, hi) - primitive(x1, lo) for lo, hi in zip(bounds[::2], bounds[1::2]))

    val, _ = integrate.quad(slice_integral, 0, 1, limit=200, epsrel=1e-8)
    return 4 / 3 * ALPHA_S / (2 * math.pi) * val


def test_durham_three_jet_rate_at_lo():
    y_cut = 0.05
    spec = {
        "matrix_element": "e+ e- -> q q~ g",
        "sqrt_s": 91.188,
        "parameters": dict(EW, alpha_s=ALPHA_S),
        "cuts": {"y_cut": y_cut},
    }
    est = run(spec, calls=10_000, integration=40_000)
    born = sum(sigma_ff(q, 91.188) for q in "dusbc")
    r3 = durham_three_jet_rate(y_cut)
    assert 0.05 < r3 < 0.3  # the LO Durham rate at y_cut = 0.05 is about 0.1
    assert abs(est.integral / born - r3) < 3 * est.error / born, (est.integral / born, r3)


def test_gg_to_gg_with_cuts_against_the_textbook_formula():
    """sigma(gg -> gg) at sqrt(s_hat) = 500 GeV with pT > 30 GeV, |y| < 2.5: one-dimensional
    integral of (1/2) (1/(2s)) (1/(16 pi)) (9/2) g^4 (3 - tu/s^2 - su/t^2 - st/u^2) over cos(theta)."""
    sqrt_s, pt_min, y_max = 500.0, 30.0, 2.5
    s, g2 = sqrt_s**2, 4 * math.pi * ALPHA_S
    c_max = min(math.sqrt(1 - (2 * pt_min / sqrt_s) ** 2), math.tanh(y_max))

    def dsigma(c):
        t, u = -s * (1 - c) / 2, -s * (1 + c) / 2
        me = 4.5 * g2**2 * (3 - t * u / s**2 - s * u / t**2 - s * t / u**2)
        return 0.5 / (2 * s) / (16 * math.pi) * me

    exact = GEV2_TO_PB * integrate.quad(dsigma, -c_max, c_max, epsrel=1e-10)[0]
    spec = {
        "matrix_element": "g g -> g g",
        "sqrt_s": sqrt_s,
        "parameters": {"alpha_s": ALPHA_S},
        "cuts": {"pt_min": pt_min, "rapidity_max": y_max, "delta_r_min": 0.4},
    }
    est = run(spec, calls=5_000, integration=20_000, fallback="always_vegas")
    assert abs(est.integral - exact) < 3 * est.error, (est.integral, est.error, exact)


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"matrix_element": "e+ e- -> mu+ mu+", "sqrt_s": 91.2}, "e+ e- -> mu+ mu+"),
        ({"matrix_element": "e+ e- -> x x~", "sqrt_s": 91.2}, "unknown particle"),
        ({"matrix_element": "e+ e- -> mu+ mu-", "sqrt_s": 91.2, "parameters": {"alphas": 0.1}}, "unknown parameter"),
        ({"matrix_element": "e+ e- -> mu+ mu-", "sqrt_s": 91.2, "channels": "channels/ee_qqg.yaml"}, "ee_qqg.yaml"),
        ({"matrix_element": "e+ e- -> mu+ mu-", "sqrt_s": 91.2, "library": "/nonexistent/libme.so"}, "libme.so"),
    ],
)
def test_bad_processes_fail_clearly(spec, message):
    with pytest.raises(ValueError, match=message.replace("+", r"\+")):
        make_integrand(spec)


@pytest.mark.parametrize("name", ["ee_3jets", "ee_4jets", "gg_3g"])
def test_cube_edges_give_finite_features_and_priors_in_every_channel(name):
    """Points with a coordinate exactly 0 or 1 (float32 flows produce them) map to degenerate
    momenta in some channels; the integrand must still return finite values, features and prior
    rows summing to one, or a whole run stops on one unlucky point."""
    import torch

    from nis.config import load_config

    integrand = make_integrand(load_config(f"examples/{name}.yaml").integrand, name=name)
    gen = torch.Generator().manual_seed(0)
    for channel in range(integrand.n_channels):
        for edge in (0.0, 1.0):
            u = torch.rand(2 * integrand.dims, integrand.dims, generator=gen, dtype=torch.float64)
            for d in range(integrand.dims):
                u[d, d] = edge
                u[integrand.dims + d, : d + 1] = edge
            batch = integrand(u, channel)  # the checked call: raises on NaN/inf
            assert torch.isfinite(batch.features).all() and torch.isfinite(batch.prior).all()
            torch.testing.assert_close(batch.prior.sum(dim=1), torch.ones(len(u), dtype=torch.float64))
