"""nis.unfolding: the cINN posterior and its calibration test on a Gaussian toy with a known
posterior, OmniFold on a toy with a known answer, the truth features and the detector condition,
showered event files, model files, configs and the whole chain on a small synthetic sample."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from nis.config import ConfigError
from nis.generative.model_io import ModelFileError, save_model
from nis.shower.showered import ShoweredFileError, load_showered, write_showered
from nis.unfolding.calibration import calibration, rank_fractions
from nis.unfolding.cinn import CINN, CINNSettings, ConditionNet, load_cinn, save_cinn, train_cinn
from nis.unfolding.features import (
    ConditionLayout, FeatureError, FeatureScaler, TruthFeatures, detector_condition, detector_layout,
    detector_observables, truth_observables,
)
from nis.unfolding.omnifold import OmniFoldSettings, omnifold
from nis.unfolding.run import load_unfolding_config, unfold

pytestmark = pytest.mark.usefixtures("one_thread")

SIGMA = 0.5  # detector smearing of the Gaussian toys
LABELS = ["mu+", "mu-", "j"]
J = 6


def _massless(pt, eta, phi):
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    return np.stack([np.sqrt(px**2 + py**2 + pz**2), px, py, pz], axis=-1)


def zjet_partons(n: int, rng: np.random.Generator, extra_jets: int = 0) -> np.ndarray:
    """mu+, mu-, jets (N, 3 + extra, 4): muons and extra jets drawn in (pT, eta, phi), the first jet
    balancing them in the transverse plane (built without nis.unfolding.features)."""
    objs = [_massless(rng.uniform(20, 120, n), rng.normal(0, 1.2, n), rng.uniform(-np.pi, np.pi, n))
            for _ in range(2 + extra_jets)]
    t = -sum(o[:, 1:3] for o in objs)
    first = _massless(np.hypot(t[:, 0], t[:, 1]), rng.normal(0, 1.8, n), np.arctan2(t[:, 1], t[:, 0]))
    return np.stack(objs[:2] + [first] + objs[2:], axis=1)


def _smear(p: np.ndarray, rel: float, rng: np.random.Generator) -> np.ndarray:
    return p * (1 + rel * rng.normal(size=p.shape[:-1]))[..., None]


def _pt_sorted(objs: np.ndarray) -> np.ndarray:
    order = np.argsort(-np.hypot(objs[..., 1], objs[..., 2]), axis=1)
    return np.take_along_axis(objs, order[..., None], axis=1)


def showered_sample(n: int, seed: int) -> dict:
    """A Z + 1 jet sample through a toy shower and detector: the arrays of write_showered."""
    rng = np.random.default_rng(seed)
    truth = TruthFeatures(LABELS)
    # a relativistic Breit-Wigner in 66 < m < 116 GeV is uniform in the arctan of bw_map
    t = rng.uniform(*np.arctan((np.array([66.0, 116.0]) ** 2 - 91.1876**2) / (91.1876 * 2.4952)), n)
    x = np.stack([np.log(20 + rng.exponential(25, n)), rng.normal(0, 1.0, n), np.arctanh(2 * t / np.pi),
                  rng.normal(0, 0.7, n), rng.normal(0, 0.8, n), rng.normal(0, 1.5, n)], axis=1)
    parton = truth.from_features(x, rng.uniform(-np.pi, np.pi, n))
    p_mu = _pt_sorted(_smear(parton[:, :2], 0.01, rng))
    jets = np.zeros((n, J, 4))
    jets[:, 0] = _smear(parton[:, 2], 0.1, rng)
    extra = np.minimum(rng.poisson(0.8, n), J - 1)
    for k in range(1, J):
        soft = _massless(15 + rng.exponential(15, n), rng.normal(0, 2, n), rng.uniform(-np.pi, np.pi, n))
        jets[:, k] = np.where((extra >= k)[:, None], soft, 0.0)
    p_j = _pt_sorted(jets)
    d_mu = _smear(p_mu, 0.02, rng) * (rng.random((n, 2)) < 0.97)[..., None]
    d_mu = _pt_sorted(d_mu)
    d_j = _smear(p_j, 0.1, rng)
    d_j = _pt_sorted(d_j * (np.hypot(d_j[..., 1], d_j[..., 2]) > 25)[..., None])
    return {"parton": parton, "parton_labels": LABELS, "particle_muons": p_mu, "particle_jets": p_j,
            "detector_muons": d_mu, "detector_jets": d_j}


# -- the cINN on a Gaussian toy --------------------------------------------------------------
def gaussian_toy(n: int, d: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Truth x ~ N(0, 1)^d, detector y = x + N(0, SIGMA^2): the posterior is Gaussian with mean
    y / (1 + SIGMA^2) and variance SIGMA^2 / (1 + SIGMA^2)."""
    x = rng.normal(size=(n, d))
    return x, x + SIGMA * rng.normal(size=(n, d))


def test_calibration_check_passes_exact_posterior_and_fails_wrong_ones():
    rng = np.random.default_rng(3)
    x, y = gaussian_toy(3000, 1, rng)
    mean, std = y[:, 0] / (1 + SIGMA**2), SIGMA / np.sqrt(1 + SIGMA**2)
    exact = mean[:, None] + std * rng.normal(size=(3000, 200))
    good = calibration(exact, x[:, 0])
    assert good["max_deviation"] < 4 * good["noise"] + 0.01
    assert calibration(mean[:, None] + 0.5 * (exact - mean[:, None]), x[:, 0])["max_deviation"] > 0.2  # too narrow
    assert calibration(mean[:, None] + 2.0 * (exact - mean[:, None]), x[:, 0])["max_deviation"] > 0.2  # too wide
    assert calibration(exact + 0.5 * std, x[:, 0])["max_deviation_below"] > 0.1  # biased
    # the rank of a truth below / above all samples, and weights that select half the events
    assert np.allclose(rank_fractions(np.zeros((2, 3)), np.array([-1.0, 1.0])), [0.5 / 4, 3.5 / 4])
    w = np.where(np.arange(3000) % 2 == 0, 1.0, 0.0)
    assert calibration(exact, x[:, 0], weights=w)["noise"] == pytest.approx(0.5 / np.sqrt(1500))


@pytest.fixture(scope="module")
def toy_cinn():
    rng = np.random.default_rng(0)
    x, y = gaussian_toy(10000, 2, rng)
    settings = CINNSettings(bins=8, hidden=32, blocks=2, embed_hidden=32, condition_dims=16, epochs=8,
                            batch_size=256, learning_rate=5e-3)
    model, history = train_cinn(x, y, ConditionLayout(global_features=2), settings)
    return model, history


def test_cinn_posterior_matches_the_analytic_gaussian(toy_cinn):
    model, history = toy_cinn
    assert len(history) == 8 and history[-1]["val_loss"] < history[0]["val_loss"]
    rng = np.random.default_rng(1)
    x, y = gaussian_toy(2000, 2, rng)
    samples = model.sample_features(y, 100, torch.Generator().manual_seed(2))
    assert samples.shape == (2000, 100, 2)
    # no draw beyond the training range (plus the margin), in standardised units
    z = model.truth_scaler(torch.as_tensor(samples.reshape(-1, 2)).to(model.flow.dtype))
    assert bool(((z >= model.support_lo) & (z <= model.support_hi)).all())
    assert bool((model.support_hi - model.support_lo > 2).all())
    post_mean, post_std = y / (1 + SIGMA**2), SIGMA / np.sqrt(1 + SIGMA**2)
    mean = np.median(samples, axis=1)
    # the shrinkage of the analytic posterior mean, 1 / (1 + sigma^2) = 0.8, fitted per dimension
    slope = (mean * y).sum(0) / (y * y).sum(0)
    assert np.allclose(slope, 1 / (1 + SIGMA**2), atol=0.03)
    assert np.sqrt(np.mean((mean - post_mean) ** 2)) < 0.1  # the median of 100 draws has noise 0.056
    resid = samples - post_mean[:, None]
    iqr = np.quantile(resid, 0.75, axis=(0, 1)) - np.quantile(resid, 0.25, axis=(0, 1))
    assert np.allclose(iqr / 1.349, post_std, rtol=0.1)
    # the learned density against the analytic one at the posterior mode
    lp = model.log_density(post_mean, y)
    assert np.median(lp) == pytest.approx(-2 * np.log(np.sqrt(2 * np.pi) * post_std), abs=0.25)
    for k in range(2):
        good = calibration(samples[:, :, k], x[:, k])
        assert good["max_deviation"] < 0.06, good
        centre = samples[:, :, k].mean(axis=1, keepdims=True)
        shrunk = centre + 0.5 * (samples[:, :, k] - centre)  # a mis-calibrated (over-confident) posterior
        assert calibration(shrunk, x[:, k])["max_deviation"] > 0.2


def test_cinn_model_file_round_trip_and_kind_check(toy_cinn, tmp_path):
    model, _ = toy_cinn
    path = save_cinn(model, tmp_path / "cinn.pt", {"note": "toy"})
    back, data = load_cinn(path)
    assert data["extra"]["note"] == "toy" and back.truth_map is None
    y = np.random.default_rng(5).normal(size=(50, 2))
    x = np.random.default_rng(6).normal(size=(50, 2))
    assert np.allclose(back.log_density(x, y), model.log_density(x, y))
    save_model(tmp_path / "inn.pt", "inn", {}, {})
    with pytest.raises(ModelFileError, match="'inn' model, expected one of \\['cinn'\\]"):
        load_cinn(tmp_path / "inn.pt")
    torch.save({"weights": 1}, tmp_path / "other.pt")
    with pytest.raises(ModelFileError, match="not a nis"):
        load_cinn(tmp_path / "other.pt")
    with pytest.raises(ModelFileError, match="no such model file"):
        load_cinn(tmp_path / "missing.pt")


def test_training_stops_cleanly_on_nan(monkeypatch):
    rng = np.random.default_rng(0)
    x, y = gaussian_toy(1000, 2, rng)
    settings = CINNSettings(bins=4, hidden=8, blocks=1, embed_hidden=8, condition_dims=4, epochs=4, batch_size=100)
    calls = {"n": 0}
    log_prob = CINN.log_prob

    def poisoned(self, z, condition, extra=None):  # 9 steps and a validation per epoch: NaN in the third
        calls["n"] += 1
        lp = log_prob(self, z, condition, extra)
        return lp * float("nan") if calls["n"] > 2 * 10 + 5 else lp

    monkeypatch.setattr(CINN, "log_prob", poisoned)
    with pytest.warns(RuntimeWarning, match="loss became nan at epoch 3; kept the best state"):
        model, history = train_cinn(x, y, ConditionLayout(global_features=2), settings)
    monkeypatch.undo()
    assert [h["epoch"] for h in history] == [1, 2]
    assert np.isfinite(model.log_density(x[:50], y[:50])).all()
    assert all(torch.isfinite(p).all() for p in model.parameters())
    x[3, 1] = np.nan
    with pytest.raises(ValueError, match="truth has non-finite values"):
        train_cinn(x, y, ConditionLayout(global_features=2), settings)


# -- OmniFold --------------------------------------------------------------------------------
def test_omnifold_recovers_a_shifted_gaussian():
    rng = np.random.default_rng(0)
    n = 20000
    t_sim = rng.normal(0.0, 1.0, n)
    t_data = rng.normal(0.3, 1.0, n)
    r_sim, r_data = t_sim + SIGMA * rng.normal(size=n), t_data + SIGMA * rng.normal(size=n)
    settings = OmniFoldSettings(iterations=3, hidden=32, layers=2, epochs=4, batch_size=1024, learning_rate=3e-3)
    result = omnifold(t_sim[:, None], r_sim[:, None], r_data[:, None], settings=settings)
    assert len(result.push) == len(result.pull) == 3 and result.weights is result.pull[-1]
    # step 1 of the first iteration reweights the simulation to the data at detector level
    assert np.average(r_sim, weights=result.push[0]) == pytest.approx(r_data.mean(), abs=0.03)
    first, final = (np.average(t_sim, weights=nu) for nu in (result.pull[0], result.weights))
    assert final == pytest.approx(t_data.mean(), abs=0.04)
    # one iteration only gets part of the way: the prior still pulls (about sigma^2 / (1 + sigma^2))
    assert abs(first - t_data.mean()) > abs(final - t_data.mean()) + 0.02
    assert np.sqrt(np.average((t_sim - final) ** 2, weights=result.weights)) == pytest.approx(1.0, abs=0.05)
    assert 1 / 10 <= result.weights.min() and np.mean(result.weights) == pytest.approx(1.0)


# -- features --------------------------------------------------------------------------------
@pytest.mark.parametrize("recoil, extra", [(True, 0), (False, 0), (True, 1)])
def test_truth_features_round_trip(recoil, extra):
    rng = np.random.default_rng(7)
    p = zjet_partons(2000, rng, extra)
    labels = LABELS + ["j"] * extra
    tf = TruthFeatures(labels, recoil=recoil).fit(p)
    x = tf.to_features(p)
    assert x.shape == (2000, tf.dims) and len(tf.names) == tf.dims and np.isfinite(x).all()
    assert tf.dims == (6 if recoil else 8) + 3 * extra
    z = p[:, 0] + p[:, 1]
    back = tf.from_features(x, np.arctan2(z[:, 2], z[:, 1]))
    scale = p[..., 0].max(axis=1)[:, None, None]
    assert np.max(np.abs(back - p) / scale) < 1e-9
    # the features of the observables are the observables
    obs = truth_observables(p, labels)
    assert 0 < tf.pt_floor < obs["pt_z"].min() and tf.pt_floor == pytest.approx(obs["pt_z"].min(), rel=2e-3)
    assert np.allclose(tf.pt_floor + np.exp(x[:, 0]), obs["pt_z"])
    with pytest.raises(FeatureError, match="floor"):
        TruthFeatures(labels, recoil=recoil, pt_floor=obs["pt_z"].max()).to_features(p)
    # rotating the event about the beam axis changes no feature
    c, s = np.cos(0.7), np.sin(0.7)
    rot = p.copy()
    rot[..., 1], rot[..., 2] = c * p[..., 1] - s * p[..., 2], s * p[..., 1] + c * p[..., 2]
    assert np.allclose(tf.to_features(rot), x, atol=1e-9)


def test_truth_features_refuse_unbalanced_events_and_wrong_labels():
    rng = np.random.default_rng(8)
    p = zjet_partons(100, rng)
    p[5, 2, 1] += 3.0
    with pytest.raises(FeatureError, match="1 of 100 events do not balance.*recoil to false"):
        TruthFeatures(LABELS).to_features(p)
    TruthFeatures(LABELS, recoil=False).to_features(p)
    with pytest.raises(FeatureError, match="one mu\\+, one mu- and at least one jet"):
        TruthFeatures(["mu+", "mu+", "j"])


def detector_events(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Detector muons and 0 .. J pT-ordered, zero-padded jets."""
    muons = _pt_sorted(np.stack([_massless(rng.uniform(20, 80, n), rng.normal(0, 1, n), rng.uniform(-3, 3, n))
                                 for _ in range(2)], axis=1))
    n_jets = np.arange(n) % (J + 1)
    jets = np.zeros((n, J, 4))
    for k in range(J):
        j = _massless(rng.uniform(25, 100, n), rng.normal(0, 2, n), rng.uniform(-3, 3, n))
        j[:, 0] *= 1.01  # massive jets
        jets[:, k] = np.where((k < n_jets)[:, None], j, 0.0)
    return muons, _pt_sorted(jets), n_jets


def test_condition_handles_every_jet_multiplicity_and_ignores_padding():
    rng = np.random.default_rng(9)
    muons, jets, n_jets = detector_events(700, rng)
    layout = detector_layout(J)
    cond = detector_condition(muons, jets, n_jets)
    assert cond.shape == (700, layout.width) and np.isfinite(cond).all()
    obj, mask, glob, onehot = layout.split(cond)
    assert np.array_equal(mask.sum(1), 2 + n_jets)
    assert np.array_equal(onehot.argmax(1), np.minimum(n_jets, 3)) and np.all(onehot.sum(1) == 1)
    assert np.all(obj[mask == 0] == 0)
    assert np.allclose(obj[:, 0, 2:4], [1.0, 0.0])  # azimuths are measured from the leading muon
    # garbage in the padded jet slots of the inputs changes nothing
    garbage = jets.copy()
    pad = np.arange(J)[None, :] >= n_jets[:, None]
    garbage[pad] = rng.normal(0, 50, size=(int(pad.sum()), 4))
    assert np.array_equal(detector_condition(muons, garbage, n_jets), cond)
    # nor in the padded slots of the condition itself, through the scaler and the embedding
    torch.manual_seed(0)
    scaler = FeatureScaler(layout).fit(cond)
    net = ConditionNet(layout, hidden=16, embed_dims=8, out_dims=5).double()
    embed = lambda c: net(scaler(torch.as_tensor(c)))  # noqa: E731
    ref = embed(cond)
    width = layout.n_objects * layout.object_features
    o = obj.copy()
    o[mask == 0] = rng.normal(0, 1e3, size=(int((mask == 0).sum()), layout.object_features))
    noisy = np.concatenate([o.reshape(700, -1), cond[:, width:]], axis=1)
    assert not np.array_equal(noisy, cond)
    assert torch.equal(embed(noisy), ref)
    # each of the two masks alone: the scaler zeroes padded slots, the deep set leaves them out
    assert torch.equal(scaler(torch.as_tensor(noisy)), scaler(torch.as_tensor(cond)))
    assert torch.equal(net(torch.as_tensor(noisy)), net(torch.as_tensor(cond)))
    # the deep set does not care about the order of the real jets either
    swapped = obj.copy()
    two = n_jets >= 2
    swapped[two, 2], swapped[two, 3] = obj[two, 3], obj[two, 2]
    perm = np.concatenate([swapped.reshape(700, -1), cond[:, width:]], axis=1)
    assert torch.allclose(embed(perm), ref, atol=1e-12)
    # but it does see the jets
    assert not torch.allclose(embed(cond), embed(detector_condition(muons, jets * 1.2, n_jets)))
    # the standardised real objects have mean 0 and std 1 per type; the one-hot passes unchanged
    sc = scaler(torch.as_tensor(cond)).numpy()
    so, sm, _, soh = layout.split(sc)
    jet_vals = so[:, 2:][sm[:, 2:] > 0]
    assert np.allclose(jet_vals.mean(0), 0, atol=1e-9) and np.allclose(jet_vals.std(0), 1, atol=1e-6)
    assert np.array_equal(soh, onehot)


def test_detector_observables():
    rng = np.random.default_rng(10)
    muons, jets, n_jets = detector_events(50, rng)
    obs = detector_observables(muons, jets, n_jets)
    z = muons.sum(1)
    assert np.allclose(obs["pt_z"], np.hypot(z[:, 1], z[:, 2]))
    assert np.isnan(obs["pt_j1"][n_jets == 0]).all() and np.isfinite(obs["pt_j1"][n_jets > 0]).all()


# -- files -----------------------------------------------------------------------------------
def test_showered_file_round_trip_and_refusals(tmp_path):
    arrays = showered_sample(300, seed=1)
    w = np.random.default_rng(0).uniform(0.5, 1.5, 300)
    path = write_showered(tmp_path / "s.h5", **arrays, weights=w, process="toy Z + j", cross_section_pb=12.5,
                          settings={"detector": {"muon_resolution": 0.02}})
    data = load_showered(path)
    passed = (arrays["detector_muons"][..., 0] > 0).sum(1) == 2
    assert data.n_read == 300 and len(data) == passed.sum() and 0 < len(data) < 300
    assert np.array_equal(data.parton, arrays["parton"][passed]) and data.parton_labels == LABELS
    assert np.array_equal(data.detector_jets, arrays["detector_jets"][passed])
    assert np.array_equal(data.weights, w[passed])
    assert np.array_equal(data.detector_n_jets, (arrays["detector_jets"][passed][..., 0] > 0).sum(1))
    assert data.process == "toy Z + j" and data.cross_section_pb == 12.5
    assert data.settings["detector"]["muon_resolution"] == 0.02
    assert np.all(data.detector_n_muons == 2) and data.max_jets == J
    import h5py

    with h5py.File(path, "r+") as f:
        f.attrs["format"] = "nis-events"
    with pytest.raises(ShoweredFileError, match="not a showered event file.*'nis-events'.*nis shower"):
        load_showered(path)
    with h5py.File(path, "r+") as f:
        f.attrs["format"] = "nis-showered"
        f.attrs["version"] = 2
    with pytest.raises(ShoweredFileError, match="version 2; this nis reads version 1"):
        load_showered(path)
    with pytest.raises(ShoweredFileError, match="no such showered event file"):
        load_showered(tmp_path / "missing.h5")
    bad = dict(arrays, detector_jets=arrays["detector_jets"].copy())
    bad["detector_jets"][:, -1] = 1.0
    with pytest.raises(ShoweredFileError, match="zero-padded"):
        write_showered(tmp_path / "bad.h5", **bad, detector_n_jets=np.zeros(300, dtype=int))
    assert not (tmp_path / "bad.h5").exists()


# -- configs and the whole chain -------------------------------------------------------------
def _config(tmp_path, text: str):
    path = tmp_path / "unfold.yaml"
    path.write_text(text)
    return path


def test_config_errors(tmp_path):
    sim = write_showered(tmp_path / "sim.h5", **showered_sample(50, seed=2))
    with pytest.raises(ConfigError, match="unknown key 'epoch' in cinn; did you mean 'epochs'"):
        load_unfolding_config(_config(tmp_path, f"simulation: {sim}\ncinn: {{epoch: 3}}\n"))
    with pytest.raises(ConfigError, match="unknown key 'simulaton' in config; did you mean 'simulation'"):
        load_unfolding_config(_config(tmp_path, f"simulaton: {sim}\n"))
    with pytest.raises(ConfigError, match="simulation: no such showered event file 'nope.h5'.*nis shower"):
        load_unfolding_config(_config(tmp_path, "simulation: nope.h5\n"))
    with pytest.raises(ConfigError, match="data: no such showered event file"):
        load_unfolding_config(_config(tmp_path, f"simulation: {sim}\ndata: {tmp_path}/none.h5\n"))
    with pytest.raises(ConfigError, match="missing required key.*simulation"):
        load_unfolding_config(_config(tmp_path, "output: x\n"))
    with pytest.raises(ConfigError, match="pseudo_data.method must be weights or rejection"):
        load_unfolding_config(_config(tmp_path, f"simulation: {sim}\npseudo_data: {{method: magic}}\n"))
    with pytest.raises(ConfigError, match="omnifold.iterations must be positive"):
        load_unfolding_config(_config(tmp_path, f"simulation: {sim}\nomnifold: {{iterations: 0}}\n"))
    cfg = load_unfolding_config(_config(tmp_path, f"simulation: {sim}\ndata: null\n"))
    assert cfg.data is None and cfg.cinn.epochs == 20


def test_example_config_is_valid(tmp_path, monkeypatch):
    from pathlib import Path

    example = Path(__file__).resolve().parents[1] / "examples" / "unfolding" / "zmumu_1j.yaml"
    import yaml

    raw = yaml.safe_load(example.read_text())
    monkeypatch.chdir(tmp_path)
    Path(raw["simulation"]).parent.mkdir(parents=True, exist_ok=True)
    write_showered(raw["simulation"], **showered_sample(20, seed=3))
    cfg = load_unfolding_config(example)
    assert cfg.pseudo_data.slope == 0.5 and cfg.events == 0 and cfg.cinn.epochs == 50


def test_unfold_end_to_end(tmp_path):
    sim = write_showered(tmp_path / "sim.h5", **showered_sample(6000, seed=4))
    config = _config(tmp_path, f"""
simulation: {sim}
output: {tmp_path / 'unused'}
pseudo_data: {{slope: 2.0, scale: 100.0}}
cinn: {{epochs: 2, hidden: 16, blocks: 2, bins: 6, embed_hidden: 16, embed_dims: 8, condition_dims: 8, batch_size: 256}}
omnifold: {{iterations: 2, epochs: 10, hidden: 32, layers: 2, batch_size: 128, learning_rate: 0.003}}
evaluation: {{posterior_samples: 5, calibration_events: 300, calibration_samples: 30, bins: 12}}
""")
    out = tmp_path / "out"
    results = unfold(config, out, progress=False)
    assert not (tmp_path / "unused").exists()
    on_disk = json.loads((out / "results.json").read_text())
    assert on_disk["summary"]["chi2_per_ndf"].keys() == results["summary"]["chi2_per_ndf"].keys()
    assert set(results["summary"]["chi2_per_ndf"]) == {"cINN", "OmniFold", "detector level", "simulation truth"}
    ev = results["events"]
    assert ev["simulation"] + ev["data"] == ev["selected"] < ev["read"] == 6000
    assert ev["training"] + ev["calibration"] == ev["simulation"] and ev["calibration"] == 300
    for obs in ("pt_z", "m_mumu", "pt_j1"):
        for split in ("all", "0j", "1j", "2j", "3j+"):
            assert (out / f"{obs}_{split}.png").is_file(), (obs, split)
            numbers = results["observables"][obs][split]
            assert len(numbers["models"]["cINN"]["ratio"]) == 12 and np.isfinite(numbers["chi2"]["OmniFold"]["chi2"])
    assert "detector level" not in results["observables"]["pt_j1"]["0j"]["models"]
    assert (out / "calibration.png").is_file() and (out / "omnifold_weights.npz").is_file()
    assert set(results["summary"]["calibration_max_deviation"]) == {"pt_z", "m_mumu", "pt_j1"}
    # the pseudo-data's truth is harder in pT_Z, and OmniFold finds (most of) it
    mean = results["summary"]["mean_pt_z"]
    shift = mean["pseudo-data truth"] - mean["simulation truth"]
    assert shift > 4.0
    assert abs(mean["OmniFold"] - mean["pseudo-data truth"]) < 0.5 * shift
    model, data = load_cinn(out / "cinn.pt")
    assert model.truth_map.labels == LABELS and data["extra"]["config"]["pseudo_data"]["slope"] == 2.0
    assert results["timings_seconds"]["total"] > 0


def test_nis_unfold_command_reports_bad_input(tmp_path, capsys):
    from nis.cli import main

    assert main(["unfold", str(tmp_path / "missing.yaml")]) == 2
    assert "does not exist" in capsys.readouterr().err
    cfg = tmp_path / "u.yaml"
    cfg.write_text(f"simulation: {tmp_path / 'nothing.h5'}\n")
    assert main(["unfold", str(cfg), "--out", str(tmp_path / "out")]) == 2
    assert "nothing.h5" in capsys.readouterr().err
