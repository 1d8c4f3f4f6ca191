"""Coupling flows on [0,1]^d: the change-of-variables formula holds (log-determinants equal the
autograd Jacobian, densities integrate to one), the map is a bijection of the unit cube (inverse
round trips, outputs in [0,1] even at the faces), it starts as the identity, trains (gradients
everywhere), saves and loads, and its masks let every dimension see every other.

Checks run in float64 on flows with randomised parameters (not the identity), on the CPU and,
when there is one, on CUDA."""

from __future__ import annotations

import io
import math

import pytest
import torch

from nis.flows import MLP, CouplingBlock, Flow, binary_masks, rq_spline

DIMS = (1, 2, 3, 5, 8)
CONDS = (0, 3)
F64 = torch.float64
EDGE_VALUES = (0.0, 1.0, 1e-12, 1.0 - 1e-7)


@pytest.fixture(
    params=["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA"))]
)
def device(request) -> torch.device:
    return torch.device(request.param)


def randomise(flow: Flow, scale: float = 0.1, seed: int = 0) -> Flow:
    """Add Gaussian noise of std ``scale`` to every parameter (moves the flow off the identity)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(scale * torch.randn(p.shape, generator=gen, dtype=p.dtype).to(p.device))
    return flow


def make_flow(dims, cond, device, dtype=F64, scale=0.1, seed=0, **kw) -> Flow:
    torch.manual_seed(1234 + dims + 10 * cond)  # the default initialisation of the hidden layers
    flow = Flow(dims, cond, **kw).to(device=device, dtype=dtype)
    return randomise(flow, scale, seed + dims + 10 * cond) if scale else flow


def uniform(n, dims, device, dtype=F64, seed=1, low=0.0, high=1.0):
    gen = torch.Generator().manual_seed(seed)
    return (low + (high - low) * torch.rand(n, dims, generator=gen, dtype=F64)).to(device=device, dtype=dtype)


def condition(n, cond, device, dtype=F64, seed=2, same=False):
    if not cond:
        return None
    gen = torch.Generator().manual_seed(seed)
    c = torch.randn(1 if same else n, cond, generator=gen, dtype=F64).to(device=device, dtype=dtype)
    return c.expand(n, cond) if same else c


both = pytest.mark.parametrize("dims,cond", [(d, c) for d in DIMS for c in CONDS])


# -- the flow --------------------------------------------------------------------------------


@both
def test_shapes_dtype_device_and_range(dims, cond, device):
    flow = make_flow(dims, cond, device)
    n = 64
    z, c = uniform(n, dims, device), condition(n, cond, device)
    x, log_det = flow(z, c)
    assert x.shape == (n, dims) and log_det.shape == (n,)
    z2, log_q = flow.inverse(x, c)
    assert z2.shape == (n, dims) and log_q.shape == (n,)
    assert flow.log_prob(x, c).shape == (n,)
    s, log_q_s = flow.sample(n, c, generator=torch.Generator(device).manual_seed(0))
    assert s.shape == (n, dims) and log_q_s.shape == (n,)
    for t in (x, log_det, z2, log_q, s, log_q_s):
        assert t.dtype == F64 and t.device.type == device.type
        assert torch.isfinite(t).all()
    assert ((x >= 0) & (x <= 1)).all() and ((s >= 0) & (s <= 1)).all()
    # the randomised flow really moves points
    assert (x - z).abs().max() > 1e-3
    # empty batches pass through
    x0, ld0 = flow(uniform(0, dims, device), condition(0, cond, device))
    assert x0.shape == (0, dims) and ld0.shape == (0,)


@both
def test_identity_at_initialisation(dims, cond, device):
    flow = make_flow(dims, cond, device, scale=0.0)
    z, c = uniform(200, dims, device), condition(200, cond, device)
    x, log_det = flow(z, c)
    torch.testing.assert_close(x, z, atol=1e-15, rtol=0)
    torch.testing.assert_close(log_det, torch.zeros_like(log_det), atol=1e-14, rtol=0)
    z2, log_q = flow.inverse(z, c)
    torch.testing.assert_close(z2, z, atol=1e-15, rtol=0)
    torch.testing.assert_close(log_q, torch.zeros_like(log_q), atol=1e-14, rtol=0)


@both
def test_inverse_round_trips_and_opposite_log_dets(dims, cond, device):
    flow = make_flow(dims, cond, device)
    n = 500
    z, c = uniform(n, dims, device), condition(n, cond, device)
    with torch.no_grad():
        x, fwd = flow(z, c)
        z_back, inv = flow.inverse(x, c)
        torch.testing.assert_close(z_back, z, atol=1e-9, rtol=0)
        torch.testing.assert_close(inv, -fwd, atol=1e-8, rtol=0)
        # and the other way round, from arbitrary points of the cube
        x = uniform(n, dims, device, seed=5)
        z, inv = flow.inverse(x, c)
        x_back, fwd = flow(z, c)
        torch.testing.assert_close(x_back, x, atol=1e-9, rtol=0)
        torch.testing.assert_close(fwd, -inv, atol=1e-8, rtol=0)


@both
def test_log_det_equals_autograd_jacobian(dims, cond, device):
    flow = make_flow(dims, cond, device)
    points = uniform(3, dims, device, low=0.02, high=0.98, seed=7)
    c = condition(3, cond, device)
    for i in range(points.shape[0]):
        ci = None if c is None else c[i : i + 1]
        point = points[i]

        def fwd(p):
            return flow(p.unsqueeze(0), ci)[0][0]

        def inv(p):
            return flow.inverse(p.unsqueeze(0), ci)[0][0]

        jac = torch.autograd.functional.jacobian(fwd, point)
        log_det = flow(point.unsqueeze(0), ci)[1][0]
        torch.testing.assert_close(log_det, torch.linalg.slogdet(jac).logabsdet, atol=1e-8, rtol=1e-8)
        jac_inv = torch.autograd.functional.jacobian(inv, point)
        log_q = flow.inverse(point.unsqueeze(0), ci)[1][0]
        torch.testing.assert_close(log_q, torch.linalg.slogdet(jac_inv).logabsdet, atol=1e-8, rtol=1e-8)


@both
def test_density_integrates_to_one(dims, cond, device):
    """q(x) = exp(log_prob) is a normalised density on the unit cube (for a fixed condition)."""
    flow = make_flow(dims, cond, device)
    with torch.no_grad():
        if dims <= 2:  # midpoint rule on a fine grid
            m = 100_000 if dims == 1 else 400
            grid = ((torch.arange(m, dtype=F64) + 0.5) / m).to(device)
            x = grid[:, None] if dims == 1 else torch.cartesian_prod(grid, grid)
            q = flow.log_prob(x, condition(x.shape[0], cond, device, same=True)).exp()
            assert abs(float(q.mean()) - 1.0) < 1e-3
            return
        # importance estimates both ways: E_uniform[q] = 1 and E_q[1/q] = vol([0,1]^d) = 1
        n = 20_000
        c = condition(n, cond, device, same=True)
        q = flow.log_prob(uniform(n, dims, device, seed=11), c).exp()
        _, log_det = flow(uniform(n, dims, device, seed=12), c)
        for w in (q, log_det.exp()):
            mean, sem = float(w.mean()), float(w.std()) / math.sqrt(n)
            assert 1e-4 < sem < 0.05  # a non-trivial density, and a meaningful check
            assert abs(mean - 1.0) < 5 * sem


@both
def test_gradients_reach_every_parameter(dims, cond, device):
    flow = make_flow(dims, cond, device)
    n = 256
    c = condition(n, cond, device)
    x, log_det = flow(uniform(n, dims, device), c)
    loss = flow.log_prob(uniform(n, dims, device, seed=3), c).mean() + x.square().mean() + log_det.mean()
    loss.backward()
    for name, p in flow.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        assert p.grad.abs().max() > 0, name


@both
def test_save_and_load_round_trip(dims, cond, device):
    flow = make_flow(dims, cond, device)
    z, c = uniform(100, dims, device), condition(100, cond, device)
    x, ld = flow(z, c)
    zi, ldi = flow.inverse(z, c)

    buffer = io.BytesIO()
    torch.save(flow, buffer)
    buffer.seek(0)
    whole = torch.load(buffer, weights_only=False)

    buffer = io.BytesIO()
    torch.save(flow.state_dict(), buffer)
    buffer.seek(0)
    fresh = Flow(dims, cond).to(device=device, dtype=F64)
    fresh.load_state_dict(torch.load(buffer))

    for other in (whole, fresh):
        x2, ld2 = other(z, c)
        zi2, ldi2 = other.inverse(z, c)
        assert torch.equal(x, x2) and torch.equal(ld, ld2)
        assert torch.equal(zi, zi2) and torch.equal(ldi, ldi2)


@pytest.mark.parametrize("dtype", [torch.float32, F64], ids=["float32", "float64"])
@pytest.mark.parametrize("stress", [False, True], ids=["random", "steep"])
@both
def test_edge_points_stay_finite_and_inside(dims, cond, dtype, stress, device):
    """Coordinates exactly 0, exactly 1, 1e-12 and 1-1e-7 give finite values and gradients and
    points in [0,1], also for very steep splines (parameters blown up)."""
    flow = make_flow(dims, cond, device, dtype=dtype, scale=1.0 if stress else 0.1)
    if stress:
        with torch.no_grad():
            for p in flow.parameters():
                p.mul_(10.0)
    values = torch.tensor(EDGE_VALUES, dtype=dtype)
    gen = torch.Generator().manual_seed(3)
    rows = values[torch.randint(len(EDGE_VALUES), (128, dims), generator=gen)]
    points = torch.cat([values[:, None].expand(-1, dims), rows]).to(device)
    c = condition(points.shape[0], cond, device, dtype=dtype)
    for direction in (flow.forward, flow.inverse):
        out, log_det = direction(points, c)
        assert torch.isfinite(out).all() and torch.isfinite(log_det).all()
        assert ((out >= 0) & (out <= 1)).all()
    flow.zero_grad()
    (flow.log_prob(points, c).sum() + flow(points, c)[1].sum()).backward()
    for name, p in flow.named_parameters():
        assert torch.isfinite(p.grad).all(), name


@both
def test_sampling_is_seeded_and_consistent(dims, cond, device):
    flow = make_flow(dims, cond, device)
    c = condition(300, cond, device)
    with torch.no_grad():
        a, log_qa = flow.sample(300, c, generator=torch.Generator(device).manual_seed(42))
        b, log_qb = flow.sample(300, c, generator=torch.Generator(device).manual_seed(42))
        other, _ = flow.sample(300, c, generator=torch.Generator(device).manual_seed(43))
        assert torch.equal(a, b) and torch.equal(log_qa, log_qb)
        assert not torch.equal(a, other)
        torch.testing.assert_close(flow.log_prob(a, c), log_qa, atol=1e-8, rtol=0)


def test_float32_module_follows_dtype():
    flow = randomise(Flow(3).float())
    assert flow.dtype == torch.float32
    x, log_q = flow.sample(10, generator=torch.Generator().manual_seed(0))
    assert x.dtype == torch.float32 and log_q.dtype == torch.float32
    # masks and index buffers keep their integer types through .to(dtype)
    assert all(c.mask.dtype == torch.bool and c.transformed.dtype == torch.long for c in flow.couplings)


def test_clear_errors_for_bad_inputs():
    flow = Flow(3, 2).double()
    z = torch.rand(4, 3, dtype=F64)
    c = torch.rand(4, 2, dtype=F64)
    with pytest.raises(TypeError, match="float64.*float32"):
        flow(z.float(), c.float())
    with pytest.raises(ValueError, match="conditional"):
        flow(z)
    with pytest.raises(ValueError, match=r"shape \(4, 2\)"):
        flow(z, c[:, :1])
    with pytest.raises(ValueError, match=r"shape \(n, 3\)"):
        flow(z[:, :2], c)
    with pytest.raises(ValueError, match="unconditional"):
        Flow(3).double()(z, c)
    with pytest.raises(ValueError, match="activation"):
        Flow(3, activation="sigmoidish")
    with pytest.raises(ValueError, match="dims"):
        Flow(0)
    with pytest.raises(ValueError, match="minimum bin size"):
        Flow(2, bins=1000)(torch.rand(2, 2))


def test_unconditional_one_dim_flow_is_a_single_spline_from_a_constant():
    flow = Flow(1)
    assert len(flow.couplings) == 1
    (coupling,) = flow.couplings
    assert coupling.mask.tolist() == [True] and coupling.subnet.in_features == 0
    assert [name for name, _ in flow.named_parameters()] == ["couplings.0.subnet.constant"]
    # a one-dim conditional flow learns from the condition only
    cond_flow = Flow(1, 4)
    assert cond_flow.couplings[0].subnet.in_features == 4


def test_blocks_and_layers_are_configurable():
    flow = Flow(4, blocks=5, layers=3, hidden=7, activation="silu", bins=6)
    assert len(flow.couplings) == 10
    x, log_q = randomise(flow.double()).sample(20, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(flow.log_prob(x), log_q)
    linear = MLP(3, 5, layers=0)
    assert len(linear.net) == 1 and torch.equal(linear(torch.rand(2, 3)), torch.zeros(2, 5))


# -- masks -----------------------------------------------------------------------------------


@pytest.mark.parametrize("dims", (1, 2, 3, 4, 5, 7, 8, 9, 16, 33))
def test_masks_condition_every_pair(dims):
    masks = binary_masks(dims)
    assert len(masks) == max(1, math.ceil(math.log2(dims)))
    for k, mask in enumerate(masks):
        assert mask.dtype == torch.bool and mask.shape == (dims,)
        assert mask.tolist() == [bool((i >> k) & 1) for i in range(dims)]
    flow = Flow(dims, hidden=4, layers=1)
    transformed = [set() for _ in range(dims)]  # dims every dim was transformed given
    for coupling in flow.couplings:
        for i in coupling.transformed.tolist():
            transformed[i].update(coupling.conditioning.tolist())
    for i in range(dims):
        assert transformed[i] == set(range(dims)) - {i}
    # every dimension is transformed at least once
    assert set().union(*(c.transformed.tolist() for c in flow.couplings)) == set(range(dims))


# -- the spline on its own -------------------------------------------------------------------


def spline_params(n, k, bins, scale, dtype=F64, seed=0, shared=False):
    gen = torch.Generator().manual_seed(seed)
    rows = 1 if shared else n
    w, h, d = (scale * torch.randn(rows, k, m, generator=gen, dtype=F64) for m in (bins, bins, bins + 1))
    return tuple(t.expand(n, k, -1).to(dtype) for t in (w, h, d))


def test_spline_zero_parameters_are_the_identity():
    x = torch.rand(1000, 4, generator=torch.Generator().manual_seed(0), dtype=F64)
    x[:4, 0] = torch.tensor(EDGE_VALUES, dtype=F64)
    params = spline_params(1000, 4, 10, 0.0)
    for inverse in (False, True):
        y, lad = rq_spline(x, *params, inverse=inverse)
        torch.testing.assert_close(y, x, atol=1e-15, rtol=0)
        torch.testing.assert_close(lad, torch.zeros_like(lad), atol=1e-15, rtol=0)


@pytest.mark.parametrize("dtype", [torch.float32, F64], ids=["float32", "float64"])
@pytest.mark.parametrize("scale", [1.0, 20.0], ids=["random", "steep"])
def test_spline_monotone_onto_unit_interval(dtype, scale):
    n = 5001
    x = torch.linspace(0, 1, n, dtype=dtype)[:, None].expand(n, 3).contiguous()
    params = spline_params(n, 3, 8, scale, dtype=dtype, shared=True)
    # monotone up to rounding: where a steep spline is almost flat, neighbours can differ by an ulp
    ulp = 2 * torch.finfo(dtype).eps
    y, lad = rq_spline(x, *params)
    assert torch.isfinite(y).all() and torch.isfinite(lad).all()
    assert (y[1:] >= y[:-1] - ulp).all()
    assert (y[0] == 0).all() and (y[-1] == 1).all()
    # inverse: monotone too, same end points
    x_back, lad_inv = rq_spline(x, *params, inverse=True)
    assert torch.isfinite(x_back).all() and torch.isfinite(lad_inv).all()
    assert (x_back[1:] >= x_back[:-1] - ulp).all()
    assert (x_back[0] == 0).all() and (x_back[-1] == 1).all()


def test_spline_inverse_and_derivative_are_accurate():
    n, k, bins = 2000, 3, 12
    params = spline_params(n, k, bins, 2.0, seed=4)
    x = torch.rand(n, k, generator=torch.Generator().manual_seed(5), dtype=F64).requires_grad_(True)
    y, lad = rq_spline(x, *params)
    (dydx,) = torch.autograd.grad(y.sum(), x)  # elementwise map: the gradient is the derivative
    torch.testing.assert_close(lad, dydx.log(), atol=1e-10, rtol=1e-10)
    x_back, lad_inv = rq_spline(y.detach(), *params, inverse=True)
    torch.testing.assert_close(x_back, x.detach(), atol=1e-10, rtol=0)
    torch.testing.assert_close(lad_inv, -lad.detach(), atol=1e-9, rtol=0)


def test_spline_rejects_wrong_shapes():
    x = torch.rand(4, 2)
    w, h, d = torch.zeros(4, 2, 5), torch.zeros(4, 2, 5), torch.zeros(4, 2, 5)
    with pytest.raises(ValueError, match="shapes"):
        rq_spline(x, w, h, d)


def test_coupling_leaves_conditioning_dims_untouched():
    coupling = CouplingBlock(torch.tensor([True, False, True, False]), 1, bins=5, hidden=8).double()
    randomise(coupling)
    z = torch.rand(50, 4, generator=torch.Generator().manual_seed(0), dtype=F64)
    c = torch.rand(50, 1, generator=torch.Generator().manual_seed(1), dtype=F64)
    x, _ = coupling(z, c)
    assert torch.equal(x[:, [1, 3]], z[:, [1, 3]])
    assert (x[:, [0, 2]] - z[:, [0, 2]]).abs().max() > 1e-3


def test_nan_parameters_show_in_the_density_not_in_the_points():
    """A diverged training step (NaN weights) must not hand NaN coordinates to an integrand:
    the points stay in [0,1]^d and the NaN appears in log_det / log_prob instead."""
    flow = randomise(Flow(3).double())
    with torch.no_grad():
        flow.couplings[0].subnet.net[-1].bias.fill_(float("nan"))
    x, log_q = flow.sample(50, generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(x).all() and ((x >= 0) & (x <= 1)).all()
    assert torch.isnan(log_q).all()
    z, log_det = flow.inverse(x)
    assert torch.isfinite(z).all() and torch.isnan(log_det).all()
