"""The built-in test functions: exact integrals, channel identities, symmetries, errors, devices."""

import math

import numpy as np
import pytest
import torch
from numpy.polynomial.legendre import leggauss
from scipy import integrate

from nis.integrator.integrand import IntegrandBatch, checked_evaluate
from nis.testfunctions import (
    TEST_FUNCTIONS,
    Annulus,
    Camel,
    Circles,
    Gaussian,
    Polynomial,
    RingLine,
    _circles_integral,
    _normal_mass,
    make_test_function,
)

F64 = torch.float64


def uniform(n, dims, seed, dtype=F64, device="cpu"):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, dims, generator=g, dtype=F64).to(device=device, dtype=dtype)


def gl_grid(n_panels, n_gl, a=0.0, b=1.0):
    """Composite Gauss-Legendre nodes and weights on [a, b]."""
    x, w = leggauss(n_gl)
    edges = np.linspace(a, b, n_panels + 1)
    h = np.diff(edges)[:, None]
    mid = 0.5 * (edges[1:] + edges[:-1])[:, None]
    return (mid + 0.5 * h * x).ravel(), (0.5 * h * w).ravel()


def grid_integral_2d(fn, n_panels, n_gl):
    """Tensor-product composite Gauss-Legendre of fn over the unit square."""
    x, w = gl_grid(n_panels, n_gl)
    xx, yy = np.meshgrid(x, x, indexing="ij")
    pts = torch.from_numpy(np.stack([xx.ravel(), yy.ravel()], axis=1))
    vals = fn(pts).numpy().reshape(len(x), len(x))
    return float(w @ vals @ w)


# ----------------------------------------------------------------------------- exact integrals by MC

MC_CASES = [
    ("gaussian", {"dims": 2}, 400_000),
    ("gaussian", {"dims": 4, "width": 0.3, "center": 0.4}, 400_000),
    ("gaussian", {"dims": 8}, 400_000),
    ("camel", {"dims": 2}, 400_000),
    ("camel", {"dims": 2, "width": 0.1}, 400_000),
    ("camel", {"dims": 4}, 400_000),
    ("annulus", {}, 400_000),
    ("annulus", {"dims": 3}, 400_000),
    ("circles", {}, 1_000_000),
    ("polynomial", {"dims": 18}, 200_000),
    ("polynomial", {"dims": 1}, 200_000),
    ("ring_line", {}, 1_000_000),
]


@pytest.mark.parametrize("name,params,n", MC_CASES, ids=[f"{c[0]}-{c[1]}" for c in MC_CASES])
def test_exact_agrees_with_plain_monte_carlo(name, params, n):
    f = make_test_function(name, **params)
    u = uniform(n, f.dims, seed=1234 + len(name) + f.dims)
    v = f.fn(u)
    mean, err = v.mean().item(), v.std().item() / math.sqrt(n)
    assert err > 0
    assert abs(mean - f.exact) < 5 * err, (f.name, mean, err, f.exact)


# ----------------------------------------------------------------------------- closed forms, independently


@pytest.mark.parametrize("center,width", [(0.5, 0.2), (1 / 3, 0.1), (2 / 3, 0.01), (0.3, 1.5), (1.4, 0.2), (-0.2, 0.1)])
def test_normal_mass_against_quad(center, width):
    def pdf(x):
        return math.exp(-((x - center) ** 2) / (2 * width * width)) / (width * math.sqrt(2 * math.pi))

    pts = [center] if 0 < center < 1 else None
    ref = integrate.quad(pdf, 0.0, 1.0, points=pts, epsabs=0, epsrel=1e-13, limit=200)[0]
    assert _normal_mass(0.0, 1.0, center, width) == pytest.approx(ref, rel=1e-10, abs=1e-300)


@pytest.mark.parametrize(
    "cls,params", [(Gaussian, {}), (Gaussian, {"width": 0.05, "center": 0.3}), (Camel, {}), (Camel, {"width": 0.1})]
)
def test_one_dimensional_factor_against_quad_and_power_law(cls, params):
    f1 = cls(dims=1, **params)

    def fn(x):
        return f1.fn(torch.tensor([[x]], dtype=F64)).item()

    ref = integrate.quad(fn, 0.0, 1.0, points=[0.3, 1 / 3, 0.5, 2 / 3], epsabs=0, epsrel=1e-12, limit=200)[0]
    assert f1.exact == pytest.approx(ref, rel=1e-10)
    if cls is Gaussian:  # a product of identical factors
        assert cls(dims=5, **params).exact == pytest.approx(f1.exact**5, rel=1e-14)


@pytest.mark.parametrize("width", [0.2, 0.1])
def test_camel_2d_against_fine_grid(width):
    f = Camel(dims=2, width=width)
    ref = grid_integral_2d(f.fn, 40, 12)
    assert f.exact == pytest.approx(ref, rel=1e-11)


def test_gaussian_exact_is_the_product_over_dims():
    for dims in (1, 3, 16):
        f = Gaussian(dims=dims, width=0.2, center=0.5)
        m = math.erf(0.5 / (0.2 * math.sqrt(2)))  # Phi(2.5) - Phi(-2.5)
        assert f.exact == pytest.approx(m**dims, rel=1e-14)


def test_annulus_against_chord_and_slice_integrals():
    r1, r2 = Annulus.r1, Annulus.r2

    def chord(t, r):
        return 2 * math.sqrt(max(r * r - t * t, 0.0))

    ref2 = integrate.quad(lambda x: chord(x - 0.5, r2) - chord(x - 0.5, r1), 0, 1, points=[0.05, 0.3, 0.7, 0.95],
                          epsabs=0, epsrel=1e-12)[0]
    assert Annulus(2).exact == pytest.approx(ref2, rel=1e-10)
    assert Annulus(2).exact == pytest.approx(math.pi * (r2**2 - r1**2), rel=1e-15)
    # 3D: integrate the area of 2D annular slices over z
    ref3 = integrate.quad(lambda z: math.pi * (max(r2**2 - z * z, 0) - max(r1**2 - z * z, 0)), -0.5, 0.5,
                          points=[-r2, -r1, r1, r2], epsabs=0, epsrel=1e-12)[0]
    assert Annulus(3).exact == pytest.approx(ref3, rel=1e-10)
    assert Annulus(1).exact == pytest.approx(2 * (r2 - r1), rel=1e-14)


def _circles_scalar(x, y):
    c = Circles
    p, w, rr = c.power, c.w, c.r * c.r
    return y**p * math.exp(-w * abs((x - c.a1) ** 2 + (y - c.b1) ** 2 - rr)) + (1 - y) ** p * math.exp(
        -w * abs((x - c.a2) ** 2 + (y - c.b2) ** 2 - rr)
    )


def test_circles_fn_matches_formula_and_geometry():
    c = Circles()
    u = uniform(50, 2, seed=7)
    ref = torch.tensor([_circles_scalar(a, b) for a, b in u.tolist()], dtype=F64)
    assert torch.allclose(c.fn(u), ref, rtol=1e-13, atol=0)
    centre_dist = math.hypot(c.a1 - c.a2, c.b1 - c.b2)
    assert centre_dist < 2 * c.r  # the circles overlap
    for a, b in ((c.a1, c.b1), (c.a2, c.b2)):  # and lie inside the square
        assert min(a, b, 1 - a, 1 - b) > c.r


def test_circles_quadrature_against_cartesian_scipy_and_finer_grid():
    c = Circles()
    # an independent route: nested scipy quad in Cartesian coordinates, kinks as break points
    rr = c.r * c.r

    def inner(y):
        pts = []
        for a, b in ((c.a1, c.b1), (c.a2, c.b2)):
            d = rr - (y - b) ** 2
            if d > 0:
                pts += [a - math.sqrt(d), a + math.sqrt(d)]
        return integrate.quad(_circles_scalar, 0, 1, args=(y,), points=pts or None, epsabs=1e-15, epsrel=1e-11,
                              limit=200)[0]

    ybreaks = sorted({c.b1 - c.r, c.b1 + c.r, c.b2 - c.r, c.b2 + c.r})
    ref = integrate.quad(inner, 0, 1, points=ybreaks, epsabs=1e-15, epsrel=1e-10, limit=200)[0]
    assert c.exact == pytest.approx(ref, rel=1e-9)
    # the same quadrature with every resolution doubled
    finer = _circles_integral(c.a1, c.b1, c.a2, c.b2, c.r, c.w, c.power, resolution=2)
    assert c.exact == pytest.approx(finer, rel=1e-12)


def test_ring_line_closed_forms():
    f = RingLine()
    R, s = f.R, f.s

    def radial(r):
        return 2 * math.pi * r * math.exp(-((r - R) ** 2) / (2 * s * s))

    z = integrate.quad(radial, 0, 1, points=[R - 5 * s, R, R + 5 * s], epsabs=0, epsrel=1e-13, limit=200)[0]
    assert f.ring_norm == pytest.approx(z, rel=1e-11)
    tail = integrate.quad(radial, f.disc, f.disc + 1, epsabs=0, epsrel=1e-10, limit=200)[0] / f.ring_norm
    assert f.ring_tail_bound == pytest.approx(tail, rel=1e-8)
    assert 0 < f.ring_tail_bound < 1e-80  # the ring's mass outside the square is far below float64 resolution

    def line(y):
        return math.exp(-((y - f.y0) ** 2) / (2 * f.sl**2)) / (f.sl * math.sqrt(2 * math.pi))

    lm = integrate.quad(line, 0, 1, points=[f.y0], epsabs=0, epsrel=1e-13, limit=200)[0]
    assert f.line_mass == pytest.approx(lm, rel=1e-11)
    assert f.exact == pytest.approx(f.ring_mass + f.line_mass, rel=1e-15)
    # the whole function on a fine Cartesian grid (panels of 0.005, 10 nodes each way)
    assert f.exact == pytest.approx(grid_integral_2d(f.fn, 200, 10), rel=1e-9)


def test_ring_line_geometry_is_as_documented():
    f = RingLine()
    # the line crosses the ring: |y0 - c| < R
    assert abs(f.y0 - f.center) < f.R
    # and leaves the disc of channel 0 near its ends
    assert (f.y0 - f.center) ** 2 + 0.5**2 > f.disc**2


# ----------------------------------------------------------------------------- RingLine channels


def test_ring_line_multichannel_identity():
    f = RingLine()
    n = 400_000
    total, var = 0.0, 0.0
    for c in range(f.n_channels):
        b = f(uniform(n, 2, seed=11 + c), c)
        v = b.prior[:, c] * b.value
        total += v.mean().item()
        var += v.var().item() / n
    err = math.sqrt(var)
    assert abs(total - f.exact) < 5 * err, (total, err)
    assert err < 0.01 * f.exact


def test_ring_line_channel_zero_alone_sees_only_the_disc():
    f = RingLine()
    n = 200_000
    u = uniform(n, 2, seed=3)
    b = f(u, 0)
    assert ((b.features - 0.5).norm(dim=1) <= f.disc + 1e-12).all()
    assert torch.allclose(b.value, f.fn(b.features) * math.pi * f.disc * u[:, 0], rtol=1e-12, atol=0)
    # channel 0 alone integrates f over the disc: the ring (1) plus the line's part inside it
    half = math.sqrt(f.disc**2 - (f.y0 - f.center) ** 2)
    line_in_disc = 2 * half  # the line's 1D density integrates to ~1 across the (thin) line
    est, err = b.value.mean().item(), b.value.std().item() / math.sqrt(n)
    assert abs(est - (1.0 + line_in_disc)) < 5 * err + 0.01


def test_ring_line_prior_rows():
    f = RingLine()
    corners = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.02, 0.25], [0.98, 0.25]], dtype=F64)
    u = torch.cat([uniform(100_000, 2, seed=5), corners])
    for c in range(2):
        b = f(u, c)
        p = b.prior
        assert p.shape == (len(u), 2)
        assert torch.isfinite(p).all() and (p >= 0).all()
        assert torch.allclose(p.sum(dim=1), torch.ones(len(u), dtype=F64), atol=1e-14, rtol=0)
        outside = ((b.features - 0.5) ** 2).sum(dim=1) >= f.disc**2
        if c == 1:
            assert outside.sum() > 1000
        assert (p[outside, 0] == 0).all() and (p[outside, 1] == 1).all()
    # corners: both terms underflow in linear space; the row goes to channel 1
    p = f.prior(corners)
    assert torch.equal(p[:4], torch.tensor([[0.0, 1.0]] * 4, dtype=F64))
    assert torch.equal(p[4:], torch.tensor([[0.0, 1.0]] * 2, dtype=F64))  # on the line, outside the disc
    # on the ring, far from the line: channel 0; on the line, far from the ring: channel 1
    p = f.prior(torch.tensor([[0.5, 0.8], [0.15, 0.25 + 1e-9]], dtype=F64))
    assert p[0, 0] == pytest.approx(1.0, abs=1e-12) and p[1, 1] == pytest.approx(1.0, abs=1e-12)
    # proportional to the two terms where both are representable
    x = torch.tensor([[0.5 - math.sqrt(0.3**2 - 0.25**2), 0.25]], dtype=F64)  # a crossing point
    ring = math.exp(0.0) / f.ring_norm
    line = 1 / (f.sl * math.sqrt(2 * math.pi))
    assert f.prior(x)[0, 0].item() == pytest.approx(ring / (ring + line), rel=1e-6)


def test_ring_line_float32_rows_stay_valid():
    f = RingLine()
    for c in range(2):
        b = f.evaluate(uniform(20_000, 2, seed=9, dtype=torch.float32), c)
        assert b.value.dtype == torch.float32 and torch.isfinite(b.value).all()
        assert torch.isfinite(b.prior).all() and (b.prior >= 0).all()
        assert torch.allclose(b.prior.sum(1), torch.ones(len(b.prior)), atol=1e-6)


def test_ring_line_polar_jacobian_by_autograd():
    f = RingLine()
    u = uniform(20, 2, seed=21) * 0.98 + 0.01
    _, jac = f.channel_map(u, 0)
    for i in range(len(u)):
        J = torch.autograd.functional.jacobian(lambda t: f.channel_map(t[None], 0)[0][0], u[i])
        assert torch.det(J).abs().item() == pytest.approx(jac[i].item(), rel=1e-12)
    _, jac1 = f.channel_map(u, 1)
    assert torch.equal(jac1, torch.ones(len(u), dtype=F64))


# ----------------------------------------------------------------------------- symmetries


def test_camel_symmetric_under_reflection():
    for dims, width in ((2, 0.2), (5, 0.1)):
        f = Camel(dims=dims, width=width)
        u = uniform(2000, dims, seed=dims)
        assert torch.allclose(f.fn(u), f.fn(1 - u), rtol=1e-11, atol=1e-300)


def test_gaussian_symmetric_under_permutations():
    f = Gaussian(dims=5, width=0.15, center=0.3)
    u = uniform(2000, 5, seed=8)
    g = torch.Generator().manual_seed(0)
    for _ in range(3):
        perm = torch.randperm(5, generator=g)
        assert torch.allclose(f.fn(u[:, perm]), f.fn(u), rtol=1e-12, atol=0)
    # not symmetric under reflection off-centre: the check above can fail
    assert not torch.allclose(f.fn(1 - u), f.fn(u), rtol=1e-3)


def test_polynomial_symmetric_under_reflection_and_circles_under_point_reflection():
    f = Polynomial(dims=18)
    u = uniform(2000, 18, seed=4)
    assert torch.allclose(f.fn(u), f.fn(1 - u), rtol=1e-12, atol=0)
    c = Circles()
    u = uniform(2000, 2, seed=6)
    assert torch.allclose(c.fn(u), c.fn(1 - u), rtol=1e-9, atol=1e-300)


# ----------------------------------------------------------------------------- registry and errors


def test_registry_names_and_specs():
    assert set(TEST_FUNCTIONS) == {"gaussian", "camel", "annulus", "circles", "polynomial", "ring_line"}
    assert make_test_function("camel", dims=8).name == "camel_8d"
    assert make_test_function("camel", dims=8, width=0.1).name == "camel_8d_w0.1"
    assert make_test_function("gaussian", dims=4).name == "gaussian_4d"
    assert make_test_function("polynomial").name == "polynomial_18d"
    assert make_test_function("Ring_Line").name == "ring_line"
    for key, cls in TEST_FUNCTIONS.items():
        f = make_test_function(key)
        assert type(f) is cls and isinstance(f.exact, float) and f.exact > 0
        spec = dict(f.spec)
        g = make_test_function(spec.pop("function"), **spec)
        assert g.name == f.name and g.exact == f.exact and g.dims == f.dims


def test_checked_evaluate_on_the_cube_and_its_corners():
    for key in TEST_FUNCTIONS:
        f = make_test_function(key)
        edges = [torch.zeros(1, f.dims, dtype=F64), torch.ones(1, f.dims, dtype=F64)]
        u = torch.cat([uniform(500, f.dims, seed=2), *edges])
        for c in range(f.n_channels):
            out = checked_evaluate(f, u, c)
            assert isinstance(out, IntegrandBatch) and out.value.shape == (len(u),)
            assert (out.value >= 0).all()
            if f.n_channels == 1:
                assert out.prior is None and out.features is u
                assert torch.equal(out.value, f.fn(u))


def test_unknown_function():
    with pytest.raises(ValueError, match="nope") as exc:
        make_test_function("nope")
    for known in TEST_FUNCTIONS:
        assert known in str(exc.value)
    with pytest.raises(ValueError, match="known"):
        make_test_function(3)


def test_unknown_parameter_lists_accepted():
    for err in (TypeError, ValueError):
        with pytest.raises(err) as exc:
            make_test_function("camel", dims=2, widht=0.1)
        msg = str(exc.value)
        assert "widht" in msg and "dims" in msg and "width" in msg
    with pytest.raises(TypeError, match="accepted: dims"):
        make_test_function("ring_line", width=0.1)


@pytest.mark.parametrize(
    "name,params,word",
    [
        ("gaussian", {"dims": 0}, "dims"),
        ("camel", {"dims": -3}, "dims"),
        ("camel", {"dims": 2.5}, "dims"),
        ("polynomial", {"dims": True}, "dims"),
        ("annulus", {"dims": "2"}, "dims"),
        ("gaussian", {"width": 0.0}, "width"),
        ("camel", {"width": -0.1}, "width"),
        ("camel", {"width": float("nan")}, "width"),
        ("gaussian", {"center": float("inf")}, "center"),
        ("circles", {"dims": 3}, "dims must be 2"),
        ("ring_line", {"dims": 1}, "dims must be 2"),
    ],
)
def test_bad_parameter_values(name, params, word):
    with pytest.raises(ValueError, match=word):
        make_test_function(name, **params)


def test_bad_channel():
    with pytest.raises(ValueError, match="channel"):
        Camel(2).evaluate(uniform(3, 2, seed=0), 1)
    with pytest.raises(ValueError, match="channel"):
        RingLine().evaluate(uniform(3, 2, seed=0), 2)


# ----------------------------------------------------------------------------- devices


def test_evaluate_runs_on_the_meta_device():
    """A CPU stand-in for device safety: meta tensors have no data, so any host read
    (.item(), a numpy constant, a CPU tensor mixed in) would fail here."""
    for key in TEST_FUNCTIONS:
        f = make_test_function(key)
        u = torch.empty(7, f.dims, dtype=F64, device="meta")
        for c in range(f.n_channels):
            b = f.evaluate(u, c)
            assert b.value.device.type == "meta" and b.value.shape == (7,)
            assert b.features.device.type == "meta" and b.features.shape == (7, f.dims)
            if f.n_channels > 1:
                assert b.prior.device.type == "meta" and b.prior.shape == (7, f.n_channels)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu_without_host_syncs():
    for key, params in [("gaussian", {"dims": 4}), ("camel", {"dims": 8, "width": 0.1}), ("annulus", {}),
                        ("circles", {}), ("polynomial", {}), ("ring_line", {})]:
        f = make_test_function(key, **params)
        u = uniform(4096, f.dims, seed=17)
        ug = u.cuda()
        for c in range(f.n_channels):
            cpu = f.evaluate(u, c)
            torch.cuda.synchronize()
            torch.cuda.set_sync_debug_mode("error")
            try:
                gpu = f.evaluate(ug, c)
            finally:
                torch.cuda.set_sync_debug_mode("default")
            assert gpu.value.device == ug.device and gpu.features.device == ug.device
            assert torch.allclose(gpu.value.cpu(), cpu.value, rtol=1e-12, atol=1e-300)
            assert torch.allclose(gpu.features.cpu(), cpu.features, rtol=1e-14, atol=0)
            if cpu.prior is not None:
                assert torch.allclose(gpu.prior.cpu(), cpu.prior, rtol=1e-12, atol=1e-15)
