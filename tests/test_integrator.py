"""The integrator end to end: right integrals, honest errors, the fallback, seeds, save/load."""

import pytest
import torch

from nis.config import FlowConfig, IntegrationConfig, TrainingConfig
from nis.integrator import FunctionIntegrand, Integrand, IntegrandBatch, IntegrandError, Integrator, losses
from nis.integrator.alpha import ChannelWeights
from nis.testfunctions import make_test_function

SMALL_FLOW = FlowConfig(bins=8, hidden=16, layers=1, dtype="float64")


def small(calls=20_000, batch=1000, **kw):
    return TrainingConfig(calls=calls, batch_size=batch, buffered_steps=1, log_every=5, **kw)


def quick(integrand, seed=1, training=None, integration=None, **kw):
    return Integrator(
        integrand,
        SMALL_FLOW,
        training or small(),
        integration or IntegrationConfig(calls=20_000, iterations=5, validation_calls=5_000),
        seed=seed,
        **kw,
    )


def test_gaussian_integral_within_errors():
    f = make_test_function("gaussian", dims=2, width=0.2)
    result = quick(f).run()
    pull = (result.estimate.integral - f.exact) / result.estimate.error
    assert abs(pull) < 4
    assert 0 < result.stats.efficiency <= 1
    assert result.n_integrand_calls >= 20_000 + 20_000 + 5_000
    assert result.estimate.chi2_dof < 5


def test_flow_beats_vegas_on_camel_and_is_chosen():
    """Camel in 2D lies on the diagonal: a factorised VEGAS grid puts points in the empty
    off-diagonal peaks too, the flow does not."""
    f = make_test_function("camel", dims=2, width=0.2)
    integ = quick(f, training=small(calls=60_000, batch=2000))
    result = integ.run()
    c = result.comparison
    assert result.method == "nis" and result.fallback_reason is None
    assert c.nis_relative_error < 0.7 * c.vegas_relative_error
    assert c.nis.efficiency > c.vegas.efficiency
    assert abs(result.estimate.integral - f.exact) < 4 * result.estimate.error


def test_fallback_on_an_integrand_vegas_integrates_exactly():
    """A constant has zero variance under the (uniform) VEGAS map; no trained flow can beat
    that, so nis must fall back and say why, and the result is exact."""
    const = FunctionIntegrand(lambda u: torch.full((u.shape[0],), 2.0, dtype=u.dtype, device=u.device), 3, "const", 2.0)
    result = quick(const).run()
    assert result.method == "vegas"
    assert "variance" in result.fallback_reason
    assert result.estimate.integral == pytest.approx(2.0, rel=1e-12)
    assert result.stats.efficiency == pytest.approx(1.0)


def test_nan_in_training_falls_back(monkeypatch):
    f = make_test_function("gaussian", dims=2)
    integ = quick(f)
    monkeypatch.setitem(losses.LOSSES, "variance", lambda f, lq, lqs: (f * lq).sum() * float("nan"))
    result = integ.run()
    assert result.method == "vegas"
    assert "NaN" in result.fallback_reason
    assert abs(result.estimate.integral - f.exact) < 5 * result.estimate.error
    assert result.n_integrand_calls >= 0.9 * 20_000 + 20_000  # the calls training left went to VEGAS


@pytest.mark.parametrize("loss", sorted(losses.LOSSES))
def test_every_loss_trains_towards_the_target(loss):
    """From the uniform sampler (no VEGAS), training alone on 40,000 calls must roughly halve the
    relative error per point and more than double the unweighting efficiency on fresh points
    (camel 2D, width 0.1: 1.74 -> 0.87-0.96 and 0.125 -> 0.27-0.28 for the five losses)."""
    f = make_test_function("camel", dims=2, width=0.1)
    integ = quick(f, training=small(calls=40_000, batch=2000, loss=loss, vegas_fraction=0.0))
    before, rel_before, _ = integ.figures(True, 20_000)
    integ.prepare()
    after, rel_after, _ = integ.figures(True, 20_000)
    assert rel_after < 0.6 * rel_before, (rel_before, rel_after)
    assert after.efficiency > 1.8 * before.efficiency, (before.efficiency, after.efficiency)


def test_same_seed_same_numbers_other_seed_other_numbers():
    f = make_test_function("camel", dims=2, width=0.2)
    a, b, c = (quick(f, seed=s).run().as_json() for s in (5, 5, 6))
    for key in ("cross_section_pb", "error_pb", "unweighting_efficiency", "n_integrand_calls"):
        assert a[key] == b[key]
    assert a["cross_section_pb"] != c["cross_section_pb"]


def test_negative_integrand_signed_weights():
    """f = x0 - 0.3 on the square integrates to 0.2; |f| is sampled, signs kept."""
    f = FunctionIntegrand(lambda u: u[:, 0] - 0.3, 2, "signed", 0.2)
    result = quick(f).run()
    assert abs(result.estimate.integral - 0.2) < 5 * result.estimate.error
    # share of |f| below zero: int_0^0.3 (0.3-x) / int |x-0.3| = 0.045 / 0.29
    assert result.stats.negative_fraction == pytest.approx(0.045 / 0.29, abs=0.02)


class Broken(Integrand):
    dims = 2
    name = "broken"

    def __init__(self, mode):
        self.mode = mode

    def evaluate(self, u, channel):
        value = u.sum(1)
        if self.mode == "nan":
            value = torch.where(u[:, 0] > 0.5, float("nan"), value)
        elif self.mode == "inf":
            value = value.clone()
            value[u[:, 0].argmax()] = float("inf")  # exactly one per batch
        elif self.mode == "shape":
            value = value[:, None]
        return IntegrandBatch(value, u)


@pytest.mark.parametrize("mode, message", [("nan", r"non-finite value\(s\) \(NaN or inf\) out of"), ("inf", "returned 1 non-finite"), ("shape", "shape")])
def test_bad_integrand_values_are_named(mode, message):
    integ = quick(Broken(mode))
    with pytest.raises(IntegrandError, match=message) as err:
        integ.run()
    if mode != "shape":
        assert "first at u = [" in str(err.value)


def test_channel_weights_sum_to_one_and_respect_zero_priors():
    torch.manual_seed(0)
    alpha = ChannelWeights(feature_dims=3, n_channels=4, hidden=8)
    for p in alpha.parameters():  # a trained-looking network, not the zero start
        torch.nn.init.normal_(p, std=2.0)
    x = torch.rand(1000, 3, dtype=torch.float64)
    prior = torch.rand(1000, 4, dtype=torch.float64)
    prior[:, 2] = 0.0
    prior[:10] = torch.tensor([0.0, 0.0, 0.0, 1.0])
    a = alpha(x, prior)
    assert torch.allclose(a.sum(1), torch.ones(1000, dtype=torch.float64), atol=1e-12)
    assert (a >= 0).all() and (a <= 1).all()
    assert (a[:, 2] == 0).all()
    assert (a[:10, 3] == 1).all()
    alpha.active[1] = False  # a dropped channel gets nothing anywhere
    a = alpha(x, prior)
    assert (a[:, 1] == 0).all()
    assert torch.allclose(a.sum(1), torch.ones(1000, dtype=torch.float64), atol=1e-12)
    none = alpha(x, torch.zeros(5, 4, dtype=torch.float64)[:, :].expand(5, 4), learned=False)
    assert torch.isfinite(none).all() and (none == 0).all()  # nobody can reach: zero, not NaN


def test_ring_line_two_channels():
    f = make_test_function("ring_line")
    integ = quick(f, training=small(calls=40_000, batch=2000))
    result = integ.run()
    assert abs(result.estimate.integral - f.exact) < 4 * result.estimate.error
    assert result.n_channels == 2 and result.n_active_channels == 2
    assert (integ.model.share > 0).all()
    # the sampler validation dropped integrates too, with the channel shares validation measured for it
    shares = {}
    for method in ("nis", "vegas"):
        estimate, _ = integ.integrate(method)
        shares[method] = integ.model.share.clone()
        assert abs(estimate.integral - f.exact) < 4 * estimate.error
    assert not torch.allclose(shares["nis"], shares["vegas"])
    integ.integrate(result.method)
    assert torch.equal(integ.model.share, shares[result.method])


def test_save_load_continue_sampling_and_training(tmp_path):
    f = make_test_function("camel", dims=2)
    integ = quick(f, integrand_spec={"function": "camel", "dims": 2})
    integ.pretrain_vegas(4000)
    integ.train()
    path = tmp_path / "run.nis.pt"
    integ.save(path)
    loaded = Integrator.load(path)
    assert loaded.step == integ.step and loaded.n_calls == integ.n_calls
    a = integ.weighted_sample(2000).event_weights()
    b = loaded.weighted_sample(2000).event_weights()
    assert torch.equal(a, b)  # same weights, grids, shares and generator state
    loaded.training.calls *= 2  # a larger budget: training goes on where it stopped
    steps = loaded.step
    loaded.train()
    assert loaded.step == loaded.flow_steps() > steps


def test_interrupt_keeps_last_good_checkpoint(tmp_path):
    class Interrupting(Integrand):
        dims, name = 2, "interrupting"

        def __init__(self):
            self.calls = 0

        def evaluate(self, u, channel):
            self.calls += u.shape[0]
            if self.calls > 15_000:
                raise KeyboardInterrupt
            return IntegrandBatch(torch.exp(-((u - 0.5) ** 2).sum(1) / 0.02), u)

    integ = quick(Interrupting())
    integ.checkpoint_path = tmp_path / "ckpt.pt"
    with pytest.raises(KeyboardInterrupt):
        integ.run()
    assert integ.checkpoint_path.exists()
    assert not list(tmp_path.glob("*.tmp"))
    state = torch.load(integ.checkpoint_path, weights_only=False)
    assert state["progress"]["step"] > 0 and state["progress"]["step"] % 5 == 0
