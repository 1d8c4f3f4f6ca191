"""The madspace peer (nis.bench.madspace_peer): madspace's mappings give nis' cross section, in
nis' phase-space convention, and a seed repeats a run exactly. Skipped without madspace."""

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("madspace")

from nis.bench.madspace_peer import MadspaceNotApplicable, refine_vegas_grid, run_madspace  # noqa: E402
from nis.config import load_config  # noqa: E402
from nis.integrands import make_integrand  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")

ROOT = Path(__file__).resolve().parents[1]

EE_3JETS_PB = 11826.0  # nis' own result for examples/ee_3jets.yaml (benchmarks/results)


@pytest.fixture(scope="module")
def ee_3jets():
    cfg = load_config(ROOT / "examples" / "ee_3jets.yaml")
    return make_integrand(cfg.integrand, name="ee_3jets")


def test_madspace_weight_is_nis_phase_space_convention():
    """FastRambo's weight is the massless volume with nis' (2 pi)^(4 - 3n): no conversion needed."""
    import madspace as ms

    from nis.phasespace import massless_volume

    sqrt_s = 91.188
    psm = ms.PhaseSpaceMapping([0.0] * 5, sqrt_s, leptonic=True, mode=ms.PhaseSpaceMapping.rambo)
    out = ms.FunctionRuntime(psm.forward_function(), ms.Context(1)).call([np.random.default_rng(0).random((8, 5))])
    det = np.from_dlpack(out[-1])
    np.testing.assert_allclose(det, massless_volume(3, sqrt_s**2), rtol=1e-12)


def test_cross_section_agrees_with_nis(ee_3jets):
    r = run_madspace(ee_3jets, 5000, 5000, seed=0)
    assert r.train_calls == 5000 and r.eval_calls == 5000 and r.weights.size == 5000
    assert r.extra["channels"] == ["s35", "s45"] and 0 < r.extra["me_calls"] <= 10_000
    assert abs(r.integral - EE_3JETS_PB) < 5 * r.error, (r.integral, r.error)
    assert 0 < r.unweighting_efficiency <= 1 and r.rel_std_per_point > 0


def test_same_seed_same_weights(ee_3jets):
    a = run_madspace(ee_3jets, 2000, 2000, seed=3)
    b = run_madspace(ee_3jets, 2000, 2000, seed=3)
    c = run_madspace(ee_3jets, 2000, 2000, seed=4)
    np.testing.assert_array_equal(a.weights, b.weights)
    assert a.extra["channel_probabilities"] == b.extra["channel_probabilities"]
    assert not np.array_equal(a.weights, c.weights)


def test_not_applicable_is_said():
    with pytest.raises(MadspaceNotApplicable, match="ProcessIntegrand"):
        run_madspace(object(), 100, 100, seed=0)


def test_grid_refinement_moves_bins_to_the_weight():
    edges = np.linspace(0.0, 1.0, 11)
    values = np.r_[np.full(5, 100.0), np.full(5, 1.0)]  # squared weights mostly below 0.5
    counts = np.full(10, 10)
    new = refine_vegas_grid(edges, values, counts)
    assert new[0] == 0.0 and new[-1] == 1.0 and np.all(np.diff(new) > 0)
    assert np.count_nonzero(new < 0.5) > np.count_nonzero(edges < 0.5)
    np.testing.assert_array_equal(refine_vegas_grid(edges, np.zeros(10), counts), edges)
