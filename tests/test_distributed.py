"""Data-parallel training (nis.integrator.distributed) with gloo on CPU: identical parameters on
all ranks, independent streams, averaged gradients, and the integral of one device within errors."""

import json
import math

import pytest
import torch

from nis.config import FlowConfig, IntegrationConfig, RunConfig, TrainingConfig
from nis.integrator.distributed import available, run_distributed
from nis.production.artifact import stream_seed

pytestmark = [
    pytest.mark.usefixtures("one_thread"),
    pytest.mark.skipif(not available("gloo"), reason="torch.distributed with gloo is not available"),
]


def camel_config(seed: int = 3) -> RunConfig:
    return RunConfig(
        process="camel_2d",
        integrand={"function": "camel", "dims": 2},
        flow=FlowConfig(bins=8, hidden=16, layers=1),
        training=TrainingConfig(calls=20_000, batch_size=512, buffered_steps=1, log_every=5),
        integration=IntegrationConfig(calls=20_000, validation_calls=4_000, iterations=5),
        seed=seed,
    )


@pytest.fixture(scope="module")
def two_ranks():
    """One short 2-rank run (about 8 s, most of it starting the processes)."""
    return run_distributed(camel_config(), 2, return_reports=True)


@pytest.fixture(scope="module")
def one_rank():
    return run_distributed(camel_config(), 1, return_reports=True)


def test_ranks_hold_identical_parameters(two_ranks):
    result, reports = two_ranks
    assert [r["rank"] for r in reports] == [0, 1]
    assert reports[0]["steps"] == reports[1]["steps"] == result.training["steps"] > 0
    # bitwise: flows, channel weights, the fallback VEGAS grids and the channel shares
    assert torch.equal(reports[0]["parameters"], reports[1]["parameters"])
    assert torch.equal(reports[0]["fallback_grids"], reports[1]["fallback_grids"])
    assert torch.equal(reports[0]["share"], reports[1]["share"])
    assert torch.equal(reports[0]["vegas_grids"], reports[1]["vegas_grids"])
    # the fallback grids adapted during training (all-reduced), not merely the broadcast pre-training grids
    assert reports[0]["fallback_grids"].shape == reports[0]["vegas_grids"].shape
    assert not torch.equal(reports[0]["fallback_grids"], reports[0]["vegas_grids"])
    assert result.training["distributed"]["world_size"] == 2
    assert all(t is not None and t > 0 for t in result.training["distributed"]["mean_step_seconds"])


def test_ranks_refine_the_fallback_together_on_all_kept_points():
    """With fallback_passes > 1 every pass sums the ranks' kept points: the grids stay identical."""
    cfg = camel_config()
    cfg.training = TrainingConfig(calls=20_000, batch_size=512, buffered_steps=1, log_every=5, fallback_passes=3)
    _, reports = run_distributed(cfg, 2, return_reports=True)
    assert torch.equal(reports[0]["fallback_grids"], reports[1]["fallback_grids"])
    assert not torch.equal(reports[0]["fallback_grids"], reports[0]["vegas_grids"])


def test_two_ranks_integral_matches_exact_and_one_rank(two_ranks, one_rank):
    r2, r1 = two_ranks[0], one_rank[0]
    exact = r2.exact
    assert exact is not None and r2.estimate.error > 0
    assert abs(r2.estimate.integral - exact) < 4 * r2.estimate.error
    assert abs(r1.estimate.integral - exact) < 4 * r1.estimate.error
    combined = math.hypot(r1.estimate.error, r2.estimate.error)
    assert abs(r2.estimate.integral - r1.estimate.integral) < 4 * combined
    # the same budget: the same number of steps and of integrand calls
    assert r2.training["steps"] == r1.training["steps"]
    assert r2.n_integrand_calls == r1.n_integrand_calls
    # and a comparable quality of the trained sampler (within a factor 1.5 in error)
    assert r2.estimate.error < 1.5 * r1.estimate.error and r1.estimate.error < 1.5 * r2.estimate.error


def test_ranks_draw_independent_points(two_ranks):
    _, reports = two_ranks
    a, b = reports[0]["first_points"], reports[1]["first_points"]
    assert a.shape == b.shape and a.shape[0] > 0
    assert not torch.isclose(a[:, None, :], b[None, :, :]).all(-1).any()  # no point in common
    assert stream_seed(3, 0) != stream_seed(3, 1)
    # each rank made its own calls; together they are the training budget
    assert reports[0]["n_calls"] > 0 and reports[1]["n_calls"] > 0


def test_gradients_are_averaged_over_ranks():
    cfg = RunConfig(
        process="gaussian_2d",
        integrand={"function": "gaussian", "dims": 2},
        flow=FlowConfig(bins=4, hidden=4, layers=1),
        training=TrainingConfig(calls=2_000, batch_size=200, vegas_fraction=0.5, buffered_steps=0,
                                learning_rate=0.05, grad_clip=1e6, log_every=2),
        seed=5,
    )
    _, reports = run_distributed(cfg, 2, train_only=True, capture_gradients=True, return_reports=True)
    c0, c1 = reports[0]["captured"], reports[1]["captured"]
    assert len(c0) == len(c1) >= 2
    local0, local1 = c0[0]["local"], c1[0]["local"]
    assert not torch.allclose(local0, local1)  # the ranks' own gradients differ (own points) ...
    assert torch.equal(c0[0]["averaged"], c1[0]["averaged"])  # ... the gradient they step with does not
    torch.testing.assert_close(c0[0]["averaged"], (local0 + local1) / 2, rtol=1e-5, atol=1e-7)
    # one Adam step with the averaged gradient reproduces the parameters after the first step
    before, after = c0[0]["before"], c0[1]["before"]
    assert before.shape == local0.shape  # every parameter trains
    assert torch.equal(before, c1[0]["before"]) and torch.equal(after, c1[1]["before"])
    p = torch.nn.Parameter(before.clone())
    p.grad = c0[0]["averaged"].clone()
    torch.optim.Adam([p], lr=cfg.training.learning_rate).step()
    moved = (after - before).abs().max()
    assert moved > 1e-3
    torch.testing.assert_close(after, p.detach(), rtol=1e-5, atol=1e-5)
    # stepping with one rank's own gradient would not: its sign differs somewhere
    assert ((torch.sign(local0) != torch.sign(c0[0]["averaged"])) & (local0 != 0)).any()


def _nan_worker(rank: int, port: int, out: str) -> None:
    """A rank of a 2-rank run whose rank 1 alone produces a NaN loss at step 7."""
    from nis.integrator.distributed import _build, flat_parameters, process_group

    torch.set_num_threads(1)
    with process_group("gloo", port, rank, 2):
        cfg = RunConfig(process="camel_2d", integrand={"function": "camel", "dims": 2},
                        flow=FlowConfig(bins=4, hidden=8, layers=1),
                        training=TrainingConfig(calls=20_000, batch_size=512, buffered_steps=1, log_every=5),
                        integration=IntegrationConfig(calls=4_000, validation_calls=2_000, iterations=2), seed=2)
        integ = _build(cfg, rank, 2, "cpu")
        loss = integ._channel_loss
        integ._channel_loss = lambda rows: loss(rows) * (float("nan") if rank == 1 and integ.step == 7 else 1.0)
        result = integ.run()
        torch.save({"step": integ.step, "stop": integ.stop_reason, "parameters": flat_parameters(integ.model),
                    "fallback": torch.cat([g.grid.reshape(-1) for g in integ.model.fallback]),
                    "method": None if result is None else result.method}, f"{out}/{rank}.pt")


def test_nan_on_one_rank_stops_all_ranks(tmp_path):
    import torch.multiprocessing as mp

    from nis.integrator.distributed import free_port

    mp.spawn(_nan_worker, args=(free_port(), str(tmp_path)), nprocs=2, join=True)  # no rank hangs
    a, b = (torch.load(tmp_path / f"{r}.pt", weights_only=False) for r in (0, 1))
    assert a["stop"] is not None and a["stop"] == b["stop"]
    assert a["step"] == b["step"] == 5  # both restored the last good snapshot
    assert torch.equal(a["parameters"], b["parameters"]) and torch.isfinite(a["parameters"]).all()
    assert torch.equal(a["fallback"], b["fallback"])  # the fallback kept adapting together
    assert a["method"] == "vegas"


def test_nis_integrate_ranks(tmp_path, capsys):
    from nis.cli import main

    cfg = tmp_path / "camel.yaml"
    cfg.write_text("process: camel2\nintegrand: {function: camel, dims: 2}\n"
                   "training: {calls: 8000, batch_size: 1000}\nintegration: {calls: 8000, validation_calls: 2000}\n")
    assert main(["integrate", str(cfg), "--ranks", "2", "--events", "10"]) == 2
    assert "need(s) one process" in capsys.readouterr().err
    assert main(["integrate", str(cfg), "--ranks", "2", "--quiet", "--json", str(tmp_path / "r.json")]) == 0
    out = json.loads((tmp_path / "r.json").read_text())
    assert out["ranks"] == 2 and abs(out["cross_section_pb"] - 0.9058863) < 4 * out["error_pb"]  # camel 2D: exact
