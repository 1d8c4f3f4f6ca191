"""The Python half of the Sherpa plugin (nis.bridge.sherpa_plugin) without Sherpa: the run card's
NIS block, training on a stand-in for Sherpa's weights, the points and densities it hands out,
the choice against Sherpa's own channels, and the saved state."""

import math

import numpy as np
import pytest
import torch

from nis.bridge.sherpa_plugin import Session, parse_settings
from nis.config import ConfigError

DIMS = 3
SMALL = {"CALLS": "6000", "BATCH_SIZE": "500", "VALIDATION_CALLS": "4000", "LOG_EVERY": "4"}


@pytest.fixture(autouse=True)
def keep_torch_threads():
    """A Session sets torch's thread count for the whole process (NIS:THREADS); restore it."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def peaked(u: np.ndarray) -> np.ndarray:
    """A narrow Gaussian bump in the cube; its integral is known in closed form."""
    return np.exp(-np.sum((u - 0.4) ** 2, axis=1) / (2 * 0.08**2)) / (2 * math.pi * 0.08**2) ** (DIMS / 2)


EXACT = math.erf(0.6 / (0.08 * math.sqrt(2))) / 2 + math.erf(0.4 / (0.08 * math.sqrt(2))) / 2
EXACT = EXACT**DIMS


def stand_in(fn):
    """What the C++ half hands Session.train: (value, prior, features) for a batch of one channel."""

    def evaluate(channel, u):
        assert channel == 0 and u.shape[1] == DIMS and u.dtype == np.float64
        return fn(u), np.ones((len(u), 1)), np.zeros((len(u), 4))

    return evaluate


def test_settings_from_the_run_card():
    flow, training, integration, extra = parse_settings(
        {"CALLS": "5e4", "BATCH_SIZE": "500", "LOSS": "kl", "FLOW_BINS": "6", "FALLBACK": "never", "SEED": "7",
         "ON_ERROR": "native", "TRAIN_ALPHA": "false", "THREADS": "2"}
    )
    assert (training.calls, training.batch_size, training.loss, training.train_alpha) == (50000, 500, "kl", False)
    assert flow.bins == 6 and integration.fallback == "never" and extra == {"seed": 7, "device": "cpu", "threads": 2}
    _, training, integration, _ = parse_settings({})
    assert training.vegas_fraction == 0.0 and not training.train_alpha  # plugin defaults
    assert integration.efficiency == "quantile"


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"CALLZ": "1"}, "unknown setting NIS:CALLZ"),
        ({"BATCH_SIZE": "many"}, "NIS:BATCH_SIZE must be of type int"),
        ({"TRAIN_ALPHA": "perhaps"}, "NIS:TRAIN_ALPHA must be of type bool"),
        ({"LOSS": "hinge"}, "loss"),
        ({"TRAIN_ALPHA": "yes"}, "TRAIN_ALPHA cannot be used"),
        ({"SEED": "one"}, "NIS:SEED must be of type int"),
        ({"THREADS": "0"}, "NIS:THREADS must be at least 1"),
    ],
)
def test_bad_settings_name_the_key(raw, message):
    with pytest.raises(ConfigError, match=message):
        parse_settings(raw)


def test_trained_sampler_hands_out_points_with_their_density(tmp_path):
    """Points and log(share q) from Session.sample give an unbiased estimate of the integral."""
    session = Session("peak", DIMS, 1, 4, {**SMALL, "FALLBACK": "never"}, str(tmp_path))
    summary = session.train(stand_in(peaked))
    assert session.method == "nis" and "sampling with the flow" in summary
    channel, u, log_q = session.sample(40_000)
    assert channel.shape == (40_000,) and u.shape == (40_000, DIMS) and np.all((u > 0) & (u < 1))
    w = peaked(u) * np.exp(-log_q)
    assert abs(w.mean() - EXACT) < 5 * w.std() / math.sqrt(len(w))
    assert w.std() < peaked(np.random.default_rng(1).random((40_000, DIMS))).std()  # better than flat
    report = session.report
    assert report["training_calls"] > 6000 and {"nis", "vegas", "native"} <= set(report["validation"])


def test_sherpas_own_channels_are_kept_when_nis_cannot_beat_them(tmp_path):
    """A flat weight: Sherpa's channels are already exact, so nis keeps them (uniform points,
    density one) and says why."""
    session = Session("flat", DIMS, 1, 4, SMALL, str(tmp_path))
    session.train(stand_in(lambda u: np.full(len(u), 2.5)))
    assert session.method == "native" and "Sherpa's own channels" in session.reason
    _, u, log_q = session.sample(1000)
    np.testing.assert_allclose(log_q, 0.0, atol=1e-12)


def test_state_is_saved_and_read_back(tmp_path):
    first = Session("peak", DIMS, 1, 4, {**SMALL, "FALLBACK": "never"}, str(tmp_path))
    first.train(stand_in(peaked))
    assert first.state_path.exists() and first.report_path.exists()
    second = Session("peak", DIMS, 1, 4, {**SMALL, "FALLBACK": "never"}, str(tmp_path))
    assert second.load() and second.method == first.method
    assert second.report["read_from"] == str(first.state_path)
    for a, b in zip(first.sample(50), second.sample(50)):  # same flow, same random state
        np.testing.assert_array_equal(a, b)
    other = Session("peak", DIMS + 1, 1, 4, SMALL, str(tmp_path))  # another set-up: not read
    assert not other.load()
    changed = Session("peak", DIMS, 1, 4, {**SMALL, "FALLBACK": "never", "LOSS": "renyi"}, str(tmp_path))
    assert not changed.load()  # the run card's NIS: block changed: another set-up too
    state = torch.load(first.state_path, weights_only=False)  # a state this nis cannot read (other grid sizes)
    state["model"]["fallback.0.grid"] = torch.linspace(0, 1, 1001, dtype=torch.float64).expand(DIMS, -1).clone()
    torch.save(state, first.state_path)
    assert not Session("peak", DIMS, 1, 4, {**SMALL, "FALLBACK": "never"}, str(tmp_path)).load()
    second.write_report({"points": 10, "mean_weight": 1.0, "max_weight": 4.0})
    assert second.report["sherpa"]["unweighting_efficiency"] == 0.25
