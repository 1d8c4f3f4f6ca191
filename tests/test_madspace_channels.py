"""``channels: madspace`` (nis.phasespace.madspace_channels): nis' flows on madspace's phase-space
mappings and channel weights give nis' cross section, every channel alone is unbiased, the prior is
a finite partition of unity also at the cube's edges, and a seed repeats a run exactly. Skipped
without madspace."""

import itertools
from pathlib import Path

import pytest
import torch

pytest.importorskip("madspace")

from nis.config import ConfigError, IntegrationConfig, TrainingConfig, load_config  # noqa: E402
from nis.integrands import make_integrand, process_config  # noqa: E402
from nis.integrator import Integrator  # noqa: E402
from nis.phasespace.madspace_channels import MadspaceChannels  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")

ROOT = Path(__file__).resolve().parents[1]

EE_3JETS_PB = 11826.0  # nis' own result for examples/ee_3jets.yaml (benchmarks/results)


def spec(example: str = "ee_3jets") -> dict:
    cfg = load_config(ROOT / "examples" / f"{example}.yaml")
    return {**cfg.integrand, "channels": "madspace"}


@pytest.fixture(scope="module")
def ee_3jets():
    return make_integrand(spec(), name="ee_3jets")


def run(integrand, seed: int, calls: int = 20_000, integration: int = 20_000, fallback: str = "both"):
    integ = Integrator(
        integrand,
        training=TrainingConfig(calls=calls),
        integration=IntegrationConfig(calls=integration, validation_calls=5_000, fallback=fallback),
        seed=seed,
    )
    return integ.run()


def test_channels_are_madspace_mappings_over_the_files_trees(ee_3jets):
    chs = ee_3jets.channels
    assert isinstance(chs, MadspaceChannels)
    assert chs.names == ["s35", "s45"] and chs.dropped == ["flat"]
    assert chs.n_channels == ee_3jets.n_channels == 2 and chs.dims == ee_3jets.dims == 5


def test_cross_section(ee_3jets):
    r = run(ee_3jets, seed=0)
    est = r.estimate
    assert abs(est.integral - EE_3JETS_PB) < 5 * est.error, (est.integral, est.error)
    assert est.error < 0.02 * EE_3JETS_PB
    assert 0 < r.stats.efficiency <= 1


def test_every_channel_alone_and_the_alpha_weighted_sum_are_unbiased(ee_3jets):
    """Plain Monte Carlo on uniform cube points: each channel's own integral (prior ignored) and
    the sum over channels of the alpha-weighted integrals are the cross section."""
    g = torch.Generator().manual_seed(7)
    total, total_var = 0.0, 0.0
    for c in range(ee_3jets.n_channels):
        u = torch.rand(20_000, ee_3jets.dims, generator=g, dtype=torch.float64)
        b = ee_3jets.evaluate(u, c)
        n = b.value.numel()
        alone, err = b.value.mean().item(), b.value.std().item() / n**0.5
        assert abs(alone - EE_3JETS_PB) < 5 * err, (c, alone, err)
        weighted = b.value * b.prior[:, c]
        total += weighted.mean().item()
        total_var += weighted.var().item() / n
    assert abs(total - EE_3JETS_PB) < 5 * total_var**0.5, (total, total_var**0.5)


def test_prior_is_finite_and_sums_to_one_at_cube_edges(ee_3jets):
    corners = torch.tensor(list(itertools.product([0.0, 1.0], repeat=ee_3jets.dims)), dtype=torch.float64)
    g = torch.Generator().manual_seed(1)
    u = torch.rand(200, ee_3jets.dims, generator=g, dtype=torch.float64)
    for k in range(ee_3jets.dims):  # one coordinate on an edge, the others inside
        u[20 * k:20 * k + 10, k] = 0.0
        u[20 * k + 10:20 * k + 20, k] = 1.0
    u = torch.cat([corners, u])
    chs = ee_3jets.channels
    for c in range(ee_3jets.n_channels):
        p, w = chs.map(c, u)
        assert p.dtype == w.dtype == torch.float64 and p.shape == (u.shape[0], 5, 4)
        assert torch.isfinite(p).all() and torch.isfinite(w).all() and (w >= 0).all()
        assert (w[: corners.shape[0]] == 0).all()  # madspace rejects every corner
        alpha = chs.densities(p)
        assert torch.isfinite(alpha).all() and (alpha >= 0).all()
        torch.testing.assert_close(alpha.sum(1), torch.ones(u.shape[0], dtype=torch.float64))
        b = ee_3jets.evaluate(u, c)
        assert torch.isfinite(b.value).all() and torch.isfinite(b.features).all() and torch.isfinite(b.prior).all()
        assert (b.value[: corners.shape[0]] == 0).all()
        torch.testing.assert_close(b.prior.sum(1), torch.ones(u.shape[0], dtype=torch.float64))


def test_same_seed_same_numbers(ee_3jets):
    u = torch.rand(1000, ee_3jets.dims, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    a, b = ee_3jets.channels.map(1, u), ee_3jets.channels.map(1, u.clone())
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    first, second, other = (run(ee_3jets, seed=s, calls=5_000, integration=5_000) for s in (3, 3, 4))
    assert first.estimate.integral == second.estimate.integral and first.estimate.error == second.estimate.error
    assert first.stats.efficiency == second.stats.efficiency
    assert first.estimate.integral != other.estimate.integral


def test_events_use_madspace_momenta(ee_3jets):
    u = torch.rand(10, ee_3jets.dims, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    channel = torch.tensor([0, 1] * 5)
    p = ee_3jets.momenta(u, channel)
    for c in (0, 1):
        torch.testing.assert_close(p[channel == c], ee_3jets.channels.map(c, u[channel == c])[0])


def test_without_a_channels_file_is_a_config_error(monkeypatch, tmp_path):
    monkeypatch.setattr("nis.phasespace.loader.CHANNELS_DIR", tmp_path)
    with pytest.raises(ConfigError, match="madspace builds its channels.*no channels file"):
        make_integrand(spec())


def test_without_madspace_is_a_config_error(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "madspace", None)  # import madspace raises ImportError
    with pytest.raises(ConfigError, match=r"pip install madspace==0\.2\.1"):
        process_config(spec())


def test_hadronic_processes_refuse_channels():
    cfg = load_config(ROOT / "examples" / "pp_zmumu.yaml")
    with pytest.raises(ConfigError, match="2 -> n processes at a fixed energy"):
        process_config({**cfg.integrand, "channels": "madspace"})
