"""w_max estimators, the overweight fraction and hit-or-miss unweighting."""

import math

import pytest
import torch

from nis.events.unweighting import (
    overweight_fraction,
    unweight,
    unweighting_stats,
    wmax_median_of_maxima,
    wmax_quantile,
)


def test_median_of_maxima_for_uniform_weights():
    """For U(0,1) weights the maximum of m points has median 0.5^(1/m)."""
    gen = torch.Generator().manual_seed(0)
    w = torch.rand(500_000, generator=gen, dtype=torch.float64)
    m = 500_000 // 50
    assert float(wmax_median_of_maxima(w, 50)) == pytest.approx(0.5 ** (1 / m), abs=2e-4)


def test_median_of_maxima_ignores_a_single_outlier():
    gen = torch.Generator().manual_seed(1)
    w = torch.rand(100_000, generator=gen, dtype=torch.float64)
    before = float(wmax_median_of_maxima(w))
    w[123] = 1e9
    assert float(wmax_median_of_maxima(w)) == pytest.approx(before, rel=1e-3)


def test_median_of_maxima_does_not_depend_on_the_order_of_a_stratified_sample():
    """A two-channel sample comes channel by channel: 70% of the points with U(0,1) weights, 30%
    with U(0,3). Chunks of consecutive weights would give most chunks the first channel's maximum
    (about 1); random chunks see both channels, as the unweighted stream does (about 3)."""
    gen = torch.Generator().manual_seed(2)
    w = torch.cat([torch.rand(70_000, generator=gen, dtype=torch.float64),
                   3 * torch.rand(30_000, generator=gen, dtype=torch.float64)])
    ordered = float(wmax_median_of_maxima(w))
    shuffled = float(wmax_median_of_maxima(w[torch.randperm(w.numel(), generator=gen)]))
    assert ordered == pytest.approx(shuffled, rel=1e-3) and ordered == pytest.approx(3.0, rel=2e-3)
    assert float(wmax_median_of_maxima(w)) == ordered  # the same weights, the same w_max


@pytest.mark.parametrize("eps", [1e-4, 1e-3, 1e-2, 0.1])
def test_quantile_wmax_leaves_exactly_eps_overweight(eps):
    torch.manual_seed(2)  # torch.distributions samples from the global generator
    w = torch.distributions.Exponential(1.0).sample((200_000,)).double()
    w_max = wmax_quantile(w, eps)
    assert float(overweight_fraction(w, w_max)) == pytest.approx(eps, rel=1e-6)
    # exponential weights: overweight fraction above t is exp(-t), so w_max ~ -log(eps)
    assert float(w_max) == pytest.approx(-torch.log(torch.tensor(eps)).item(), rel=0.1)


def test_quantile_rejects_bad_eps():
    with pytest.raises(ValueError, match="overweight fraction"):
        wmax_quantile(torch.ones(10), 1.5)


def test_constant_weights_have_unit_efficiency():
    stats = unweighting_stats(torch.full((1000,), 3.0, dtype=torch.float64))
    assert stats.efficiency == pytest.approx(1.0)
    assert stats.overweight_fraction == 0.0
    assert stats.effective_sample_size == pytest.approx(1000)


def test_signed_weights_are_reported():
    w = torch.tensor([1.0, 2.0, -1.0, 4.0], dtype=torch.float64)
    stats = unweighting_stats(w, n_chunks=1)
    assert stats.negative_fraction == pytest.approx(1 / 8)
    assert stats.w_max == 4.0
    assert stats.efficiency == pytest.approx(2.0 / 4.0)


@pytest.mark.parametrize("seed", range(5))
def test_unweighting_is_unbiased_with_overweights(seed):
    """sum of kept event weights * w_max estimates sum w, overweight events included."""
    gen = torch.Generator().manual_seed(seed)
    w = torch.distributions.Gamma(0.5, 1.0).sample((400_000,)).double()
    w[:1000] *= -1  # some negative weights
    w_max = float(wmax_median_of_maxima(w, 50))
    keep, ew = unweight(w, w_max, gen)
    estimate = float(ew[keep].sum()) * w_max
    exact = float(w.sum())
    # binomial acceptance noise: relative sd ~ sqrt(w_max / sum|w|)
    sd = (w_max * float(w.abs().sum())) ** 0.5
    assert abs(estimate - exact) < 5 * sd
    assert 0 < keep.float().mean() <= 1


def test_projected_wmax_predicts_the_chunk_maxima_of_a_larger_sample():
    """Exponential weights: the median of the maxima of 2000-point chunks is ln(2000 / ln 2) = 7.97.
    Projected from 20k points it comes out there (the 20k sample's own 50 chunks of 400 points say
    about 6.4), and equal to what 50 chunks of a 1e5 sample give."""
    from nis.events import wmax_projected

    gen = torch.Generator().manual_seed(5)
    small = torch.empty(20_000, dtype=torch.float64).exponential_(generator=gen)
    large = torch.empty(100_000, dtype=torch.float64).exponential_(generator=gen)
    exact = math.log(2000 / math.log(2))
    assert float(wmax_projected(small, 2000)) == pytest.approx(exact, rel=0.06)
    assert float(wmax_median_of_maxima(large, 50)) == pytest.approx(exact, rel=0.06)
    assert float(wmax_median_of_maxima(small, 50)) < 0.9 * exact  # its own 400-point chunks: about 6.4
    assert float(wmax_projected(small, 1)) == pytest.approx(math.log(2), rel=0.05)  # the median itself
    stats = unweighting_stats(small, chunk=2000)
    assert stats.efficiency == pytest.approx(float(small.mean()) / float(wmax_projected(small, 2000)))
    with pytest.raises(ValueError, match="chunk"):
        wmax_projected(small, 0)
