"""Headline checks of the built-in physics matrix elements through nis.bridge.MatrixElement.

The full set (gauge invariance, colour matrices against explicit SU(3), collinear limits,
timings) is the C++ test cpp/tests/test_matrix_elements.cpp; these mirror the analytic ones.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

bridge = pytest.importorskip("nis.bridge", reason="nis._bridge is not built")
MatrixElement = bridge.MatrixElement

ALPHA, ALPHA_S, MZ, WZ, SIN2W = 1 / 132.507, 0.118, 91.1876, 2.4952, 0.22290
E2, G2 = 4 * math.pi * ALPHA, 4 * math.pi * ALPHA_S


def rambo(n_final: int, sqrt_s: float, n_events: int, rng: np.random.Generator) -> np.ndarray:
    """Flat massless n-body phase space (RAMBO) with beams along z: (n_events, 2 + n_final, 4)."""
    c = 2 * rng.random((n_events, n_final)) - 1
    phi = 2 * math.pi * rng.random((n_events, n_final))
    q0 = -np.log(rng.random((n_events, n_final)) * rng.random((n_events, n_final)))
    st = np.sqrt(1 - c * c)
    q = np.stack([q0, q0 * st * np.cos(phi), q0 * st * np.sin(phi), q0 * c], axis=-1)
    Q = q.sum(axis=1)
    M = np.sqrt(Q[:, 0] ** 2 - (Q[:, 1:] ** 2).sum(-1))
    b = -Q[:, 1:] / M[:, None]
    x, g = sqrt_s / M, Q[:, 0] / M
    a = 1 / (1 + g)
    bq = (b[:, None, :] * q[..., 1:]).sum(-1)
    p = np.empty((n_events, n_final + 2, 4))
    p[:, 0] = [sqrt_s / 2, 0, 0, sqrt_s / 2]
    p[:, 1] = [sqrt_s / 2, 0, 0, -sqrt_s / 2]
    p[:, 2:, 0] = x[:, None] * (g[:, None] * q[..., 0] + bq)
    p[:, 2:, 1:] = x[:, None, None] * (q[..., 1:] + b[:, None, :] * q[..., :1] + (a[:, None] * bq)[..., None] * b[:, None, :])
    return p


def rotate(p: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The same random rotation applied to every momentum of every event."""
    A = rng.normal(size=(3, 3))
    R, _ = np.linalg.qr(A)
    out = p.copy()
    out[..., 1:] = p[..., 1:] @ R.T
    return out


def mdot(a, b):
    return a[..., 0] * b[..., 0] - (a[..., 1:] * b[..., 1:]).sum(-1)


def couplings(s, Q, T3, z=True):
    """F[a][b] for lepton chirality a and fermion chirality b (0 = L, 1 = R)."""
    ge = [-0.5 + SIN2W, SIN2W]
    gf = [T3 - Q * SIN2W, -Q * SIN2W]
    prop = 1 / (s - MZ**2 + 1j * MZ * WZ)
    return [[-Q / s + (ge[a] * gf[b] / (SIN2W * (1 - SIN2W)) * prop if z else 0) for b in range(2)] for a in range(2)]


@pytest.fixture
def rng():
    return np.random.default_rng(20240611)


@pytest.mark.parametrize("process,Q,T3,nc,swap", [
    ("e+ e- -> mu+ mu-", -1, -0.5, 1, True),
    ("e+ e- -> mu- mu+", -1, -0.5, 1, False),
    ("e+ e- -> d d~", -1 / 3, -0.5, 3, False),
    ("e+ e- -> u u~", 2 / 3, 0.5, 3, False),
])
def test_ee_ffbar_analytic(process, Q, T3, nc, swap, rng):
    """(1/4) sum|M|^2 = e^4 Nc [(|F_LL|^2+|F_RR|^2) u^2 + (|F_LR|^2+|F_RL|^2) t^2], to 1e-12."""
    me = MatrixElement(process)
    assert me.info.average == pytest.approx(0.25)
    assert (me.info.order_qcd, me.info.order_qed) == (0, 2)
    for sqrt_s in (20.0, 91.1876, 250.0):
        p = rotate(rambo(2, sqrt_s, 50, rng), rng)
        f, fb = (p[:, 3], p[:, 2]) if swap else (p[:, 2], p[:, 3])
        s, t, u = 2 * mdot(p[:, 0], p[:, 1]), -2 * mdot(p[:, 1], f), -2 * mdot(p[:, 1], fb)
        F = couplings(s, Q, T3)
        ref = E2**2 * nc * ((abs(F[0][0]) ** 2 + abs(F[1][1]) ** 2) * u**2 + (abs(F[0][1]) ** 2 + abs(F[1][0]) ** 2) * t**2)
        np.testing.assert_allclose(me(p), ref, rtol=1e-12)


@pytest.mark.parametrize("z", [0, 1])
@pytest.mark.parametrize("flavour,Q,T3", [("d", -1 / 3, -0.5), ("u", 2 / 3, 0.5)])
def test_ee_qqg_analytic(flavour, Q, T3, z, rng):
    """Exact e+e- -> q q~ g (gamma or gamma/Z), k1 = e+, k2 = e-, p1 = q, p2 = q~, p3 = g:
    sum|M|^2 = 8 e^4 Nc CF g^2 s [(|F_LL|^2+|F_RR|^2)((k1.p1)^2+(k2.p2)^2)
                                 + (|F_LR|^2+|F_RL|^2)((k1.p2)^2+(k2.p1)^2)] / ((p1.p3)(p2.p3)), to 1e-10."""
    me = MatrixElement(f"e+ e- -> {flavour} {flavour}~ g", parameters={"z_exchange": z})
    assert (me.info.order_qcd, me.info.order_qed) == (1, 2)
    p = rotate(rambo(3, 91.1876, 200, rng), rng)
    k1, k2, p1, p2, p3 = (p[:, i] for i in range(5))
    s = 2 * mdot(k1, k2)
    F = couplings(s, Q, T3, bool(z))
    same = mdot(k1, p1) ** 2 + mdot(k2, p2) ** 2
    opp = mdot(k1, p2) ** 2 + mdot(k2, p1) ** 2
    ref = 8 * E2**2 * 3 * (4 / 3) * G2 * s * (
        (abs(F[0][0]) ** 2 + abs(F[1][1]) ** 2) * same + (abs(F[0][1]) ** 2 + abs(F[1][0]) ** 2) * opp
    ) / (mdot(p1, p3) * mdot(p2, p3)) / 4
    np.testing.assert_allclose(me(p), ref, rtol=1e-10)


def test_gg_gg_textbook(rng):
    """(1/256) sum|M|^2 = (9/2) g^4 (3 - tu/s^2 - su/t^2 - st/u^2)."""
    me = MatrixElement("g g -> g g")
    assert me.info.average == pytest.approx(1 / 256)
    assert me.info.symmetry_factor == pytest.approx(0.5)
    p = rotate(rambo(2, 300, 200, rng), rng)
    s, t, u = 2 * mdot(p[:, 0], p[:, 1]), -2 * mdot(p[:, 0], p[:, 2]), -2 * mdot(p[:, 0], p[:, 3])
    ref = 4.5 * G2**2 * (3 - t * u / s**2 - s * u / t**2 - s * t / u**2)
    # 1e-10: rounding of the textbook formula itself near the forward region (|t| << s)
    np.testing.assert_allclose(me(p), ref, rtol=1e-10)


def test_gg_ggg_parke_taylor(rng):
    """Colour-summed 5-gluon |M|^2 from the MHV (Parke-Taylor) amplitudes, exact at 5 gluons:
    4 g^6 N^3 (N^2-1) sum_{i<j} s_ij^4 sum_{12 orderings} 1/|s12 s23 s34 s45 s51|, averaged by 1/256."""
    me = MatrixElement("g g -> g g g")
    p = rotate(rambo(3, 500, 100, rng), rng)
    k = p.copy()
    k[:, :2] *= -1  # all outgoing
    sij = 2 * mdot(k[:, :, None, :], k[:, None, :, :])
    s4 = sum(sij[:, i, j] ** 4 for i in range(5) for j in range(i + 1, 5))
    den = 0
    for o in itertools.permutations((1, 2, 3, 4)):
        if o[0] > o[3]:
            continue
        seq = (0,) + o
        den = den + 1 / np.abs(np.prod([sij[:, seq[i], seq[(i + 1) % 5]] for i in range(5)], axis=0))
    ref = 4 * G2**3 * 27 * 8 * s4 * den / 256
    np.testing.assert_allclose(me(p), ref, rtol=1e-11)


@pytest.mark.parametrize("process", ["e+ e- -> d d~ g g g", "g g -> g g g g"])
def test_bose_symmetry(process, rng):
    me = MatrixElement(process)
    n = me.info.n_particles
    p = rotate(rambo(n - 2, 400, 20, rng), rng)
    ref = me(p)
    gluons = [i for i in range(2, n) if me.info.pdg_out[i - 2] == 21]
    for perm in itertools.permutations(gluons):
        q = p.copy()
        q[:, gluons] = p[:, list(perm)]
        np.testing.assert_allclose(me(q), ref, rtol=1e-12)
    if me.info.pdg_in[0] == 21:
        np.testing.assert_allclose(me(p[:, [1, 0] + list(range(2, n))]), ref, rtol=1e-12)


def test_soft_gluon_limit(rng):
    """e+e- -> d d~ g g with one gluon soft -> eikonal factor x |M|^2(d d~ g); deviation ~ lambda."""
    born_me, real_me = MatrixElement("e+ e- -> d d~ g"), MatrixElement("e+ e- -> d d~ g g")
    born = rambo(3, 200, 1, rng)
    CF, CA = 4 / 3, 3
    devs = []
    for lam in (1e-2, 1e-3, 1e-4):
        # Catani-Seymour final-final map, emitter q (2), spectator q~ (3): exact kinematics
        y, z = 0.7 * lam, 1 - lam
        pi, pk = born[0, 2], born[0, 3]
        pik = mdot(pi, pk)
        r = np.array([0, 1.0, 0.3, 0.2])
        e1 = r - mdot(r, pk) / pik * pi - mdot(r, pi) / pik * pk
        e1 /= math.sqrt(-mdot(e1, e1))
        kt = math.sqrt(2 * z * (1 - z) * y * pik) * e1
        ev = np.concatenate([born[0], np.zeros((1, 4))])
        ev[2] = z * pi + (1 - z) * y * pk + kt
        ev[5] = (1 - z) * pi + z * y * pk - kt
        ev[3] = (1 - y) * pk
        q, qb, g, k = ev[2], ev[3], ev[4], ev[5]

        def W(a, b):
            return mdot(a, b) / (mdot(a, k) * mdot(b, k))

        eik = G2 * ((2 * CF - CA) * W(q, qb) + CA * W(q, g) + CA * W(qb, g))
        devs.append(abs(real_me(ev[None])[0] / (eik * born_me(born)[0]) - 1))
    assert devs[0] < 0.3 and devs[1] < 0.03 and devs[2] < 0.003
    assert devs[2] < devs[1] < devs[0]


def test_parameters_and_refusals():
    with pytest.raises(bridge.BridgeError):
        MatrixElement("e+ e- -> d d~", parameters={"alpha_x": 1.0})
    with pytest.raises(bridge.BridgeError):
        MatrixElement("e+ e- -> d d~ g", parameters={"z_exchange": 0.5})
    me = MatrixElement("g g -> g g g g", parameters={"alpha_s": 0.1})
    assert (me.info.order_qcd, me.info.order_qed) == (4, 0)
    assert me.info.symmetry_factor == pytest.approx(1 / 24)
