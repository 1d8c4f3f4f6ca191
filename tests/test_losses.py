"""Each loss against its closed form between two 1D Gaussians p = N(m1, s1) and q = N(m2, s2).

The estimators see samples of a proposal q_s: q itself (online training) or a wider one (the
buffer's older density); both must give the closed form.
"""

import math

import pytest
import torch

from nis.integrator import losses

M1, S1, M2, S2 = 0.3, 0.8, -0.2, 1.1
RENYI_ORDER = 4.0  # the loss' default


def normal_logpdf(x, m, s):
    return -0.5 * ((x - m) / s) ** 2 - math.log(s) - 0.5 * math.log(2 * math.pi)


def closed_forms(integral=1.0):
    d = M1 - M2
    kl = math.log(S2 / S1) + (S1**2 + d**2) / (2 * S2**2) - 0.5
    # int p^2/q = s2/(sqrt(2 pi) s1^2) * sqrt(pi/a) * exp(b^2/(4a) - c)
    a = 1 / S1**2 - 1 / (2 * S2**2)
    b = 2 * M1 / S1**2 - M2 / S2**2
    c = M1**2 / S1**2 - M2**2 / (2 * S2**2)
    p2_over_q = S2 / (math.sqrt(2 * math.pi) * S1**2) * math.sqrt(math.pi / a) * math.exp(b**2 / (4 * a) - c)
    # log p - log q = a0 + b0 z + c0 z^2 with z ~ N(0, 1) under p
    a0 = math.log(S2 / S1) + d**2 / (2 * S2**2)
    b0 = d * S1 / S2**2
    c0 = -0.5 + S1**2 / (2 * S2**2)
    mean_r = a0 + c0
    assert math.isclose(mean_r, kl)  # the KL is the mean log ratio: the closed forms agree
    # Renyi of order a: log(s2/s1) + log(s2^2/s_a^2) / (2(a-1)) + a d^2 / (2 s_a^2), s_a^2 = a s2^2 + (1-a) s1^2
    s_a2 = RENYI_ORDER * S2**2 + (1 - RENYI_ORDER) * S1**2
    renyi = math.log(S2 / S1) + math.log(S2**2 / s_a2) / (2 * (RENYI_ORDER - 1)) + RENYI_ORDER * d**2 / (2 * s_a2)
    return {
        "renyi": renyi,
        "kl": kl,
        "chi2": p2_over_q - 1.0,
        "variance": integral**2 * (p2_over_q - 1.0),
        "exponential": b0**2 + 2 * c0**2 + mean_r**2,
    }


@pytest.mark.parametrize("name", sorted(losses.LOSSES))
@pytest.mark.parametrize("proposal", [(M2, S2), (0.0, 1.6)], ids=["online", "buffered"])
def test_loss_matches_closed_form(name, proposal):
    integral = 2.5  # the target need not be normalised
    gen = torch.Generator().manual_seed(7)
    m_s, s_s = proposal
    x = m_s + s_s * torch.randn(2_000_000, generator=gen, dtype=torch.float64)
    f = integral * torch.exp(normal_logpdf(x, M1, S1))
    log_q = normal_logpdf(x, M2, S2)
    log_qs = normal_logpdf(x, m_s, s_s)
    value = float(losses.LOSSES[name](f, log_q, log_qs))
    expected = closed_forms(integral)[name]
    assert value == pytest.approx(expected, rel=0.03), (name, value, expected)


@pytest.mark.parametrize("name", sorted(losses.LOSSES))
def test_loss_vanishes_and_is_minimal_at_the_target(name):
    """q = p gives zero, and moving q away from p increases every loss (its gradient points back)."""
    gen = torch.Generator().manual_seed(3)
    x = M1 + S1 * torch.randn(200_000, generator=gen, dtype=torch.float64)
    f = torch.exp(normal_logpdf(x, M1, S1))
    shift = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
    log_q = normal_logpdf(x, M1 + shift, S1)
    log_qs = normal_logpdf(x, M1, S1)
    loss = losses.LOSSES[name](f, log_q, log_qs)
    assert abs(float(loss.detach())) < 1e-9
    for delta in (0.2, -0.2):
        moved = losses.LOSSES[name](f, normal_logpdf(x, M1 + delta, S1), log_qs)
        assert float(moved) > 1e-3


def test_zero_target_points_contribute_nothing():
    x = torch.linspace(-3, 3, 1001, dtype=torch.float64)
    f = torch.exp(normal_logpdf(x, 0.0, 1.0)) * (x > 0)
    log_q = normal_logpdf(x, 0.0, 1.0)
    for name in losses.LOSSES:
        assert torch.isfinite(losses.LOSSES[name](f, log_q, log_q))
        # a batch whose points all have f = 0 (a channel the cuts empty): finite, no NaN gradient
        shift = torch.zeros((), dtype=torch.float64, requires_grad=True)
        value = losses.LOSSES[name](torch.zeros_like(f), log_q + shift, log_q)
        value.backward()
        assert torch.isfinite(value) and torch.isfinite(shift.grad), name


def test_multichannel_variance_is_optimal_allocation():
    """With shares proportional to sigma_c the loss is (sum_c sigma_c)^2, N Var of the stratified
    estimate; any other allocation gives more."""
    gen = torch.Generator().manual_seed(1)
    parts = []
    for scale in (1.0, 3.0):
        f = scale * torch.rand(100_000, generator=gen, dtype=torch.float64)
        zero = torch.zeros_like(f)
        parts.append((f, zero, zero))
    sigma = [float(p[0].std()) for p in parts]
    optimal = [s / sum(sigma) for s in sigma]
    combined = float(losses.multichannel("variance", parts, optimal))
    assert combined == pytest.approx(sum(sigma) ** 2, rel=1e-3)
    assert float(losses.multichannel("variance", parts, [0.5, 0.5])) > 1.05 * combined
    kl = losses.multichannel("kl", parts, optimal)  # flat q against a linear target: finite and positive
    assert float(kl) > 0
    # Renyi of p = 2x from q = 1 in each channel: (a log 2 - log(a + 1)) / (a - 1), growing with the
    # order a towards log max(p/q) = log 2
    for a in (1.5, 4.0, 50.0):
        exact = (a * math.log(2.0) - math.log(a + 1.0)) / (a - 1.0)
        assert float(losses.multichannel("renyi", parts, optimal, renyi_order=a)) == pytest.approx(exact, rel=0.01)


def test_renyi_order_below_one_is_refused():
    x = torch.zeros(4, dtype=torch.float64)
    with pytest.raises(ValueError, match="order above 1"):
        losses.renyi(torch.ones(4, dtype=torch.float64), x, x, order=1.0)
