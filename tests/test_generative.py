"""nis.generative for Z + jets: features, whitening, the magic transformation, the INN,
discriminator weights, DiscFlow, model files and the command, on synthetic events (no Sherpa)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

from nis.events.hdf5 import EventFile, EventFileError, read_event_file, write_event_file
from nis.generative.classifier import Discriminator, DiscriminatorSettings, train_discriminator
from nis.generative.data import load_zjets, magic_keep_probability, magic_weights, passes_cuts
from nis.generative.features import FeatureError, Whitening, feature_dims, from_features, observables, to_features
from nis.generative.inn import INNSettings, Trainer, ZJetsINN, generate, train_inn, training_tensors
from nis.generative.model_io import ModelFileError, load_model_file, save_model

CUTS = {"mass_window": [0, 10000], "cuts": {"pt_min": 20, "rapidity_max": 5},
        "jet_cuts": {"pt_min": 20, "rapidity_max": 5, "delta_r_min": 0.4}}
MEANS = {"mu": [3.2, 0.0, 2.6, 0.0, 0.0, 0.0], "jet": [2.5, 0.0, 0.0]}
STDS = {"mu": [0.4, 1.0, 0.6, 1.0, 0.8, 1.3], "jet": [0.7, 1.2, 1.0]}


def synthetic_events(n_jets: int, count: int, seed: int) -> EventFile:
    """Events built from Gaussian features (so transverse momentum balances), held to CUTS."""
    rng = np.random.default_rng(seed)
    mean = MEANS["mu"] + MEANS["jet"] * (n_jets - 1)
    std = STDS["mu"] + STDS["jet"] * (n_jets - 1)
    kept = []
    while sum(len(k) for k in kept) < count:
        x = rng.normal(mean, std, size=(2 * count, len(mean)))
        p, labels = from_features(x, n_jets, 20.0, 20.0, rng.uniform(-np.pi, np.pi, 2 * count), rng.random(2 * count) < 0.5)
        keep = passes_cuts(p, labels, {"mass_window": [0, 1e4], "muon": CUTS["cuts"], "jet": CUTS["jet_cuts"]}, n_jets)
        kept.append(p[keep])
    return EventFile(momenta=np.concatenate(kept)[:count], labels=labels, process=f"synthetic {n_jets}j",
                     cross_section_pb=100.0 / n_jets, error_pb=0.1, generator={"integrand": CUTS})


@pytest.fixture(scope="module")
def event_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("events")
    return [str(write_event_file(d / f"syn_{n}j.h5", synthetic_events(n, 4000, seed=n))) for n in (1, 2)]


# -- event files ---------------------------------------------------------------------------
def test_event_file_round_trip_and_errors(tmp_path):
    ev = synthetic_events(2, 50, seed=0)
    back = read_event_file(write_event_file(tmp_path / "e.h5", ev))
    assert np.array_equal(back.momenta, ev.momenta) and back.labels == ev.labels
    assert back.generator == ev.generator and back.cross_section_pb == ev.cross_section_pb
    with pytest.raises(EventFileError, match="no such event file"):
        read_event_file(tmp_path / "missing.h5")
    (tmp_path / "x.h5").write_text("not hdf5")
    with pytest.raises(EventFileError, match="not an HDF5 file"):
        read_event_file(tmp_path / "x.h5")
    with pytest.raises(EventFileError, match="labels"):
        EventFile(momenta=np.zeros((3, 2, 4)), labels=["mu+"])
    import h5py

    with h5py.File(tmp_path / "e.h5", "a") as f:
        f.attrs["version"] = 99
    with pytest.raises(EventFileError, match="version 99"):
        read_event_file(tmp_path / "e.h5")


def test_merging_the_event_files_of_independent_runs(tmp_path, capsys):
    from nis.cli import main

    runs = []
    for seed, (sigma, error) in zip((1, 2, 3), ((100.0, 1.0), (102.0, 2.0), (99.0, 1.0))):
        ev = synthetic_events(2, 30 * seed, seed=seed)
        ev.cross_section_pb, ev.error_pb = sigma, error
        ev.generator = {**ev.generator, "seed": seed}
        ev.weights[0] = 1.7  # an overweight event keeps its weight
        runs.append(str(write_event_file(tmp_path / f"run{seed}.h5", ev)))
    assert main(["events", "merge", str(tmp_path / "all.h5"), *runs]) == 0
    merged = read_event_file(tmp_path / "all.h5")
    assert len(merged) == 30 + 60 + 90 and merged.weights.sum() == pytest.approx(180 + 3 * 0.7)
    assert np.array_equal(merged.momenta[30:90], read_event_file(runs[1]).momenta)
    # inverse-variance mean: (100 + 102/4 + 99) / 2.25, error 1/sqrt(2.25)
    assert merged.cross_section_pb == pytest.approx(224.5 / 2.25) and merged.error_pb == pytest.approx(2 / 3)
    assert [r["seed"] for r in merged.generator["merged"]] == [1, 2, 3]
    assert "180 events" in capsys.readouterr().out

    def refused(*paths):
        assert main(["events", "merge", str(tmp_path / "bad.h5"), *paths]) == 2
        return capsys.readouterr().err

    assert "both seed 1" in refused(runs[0], runs[0])
    other = synthetic_events(1, 20, seed=4)
    other.generator = {**other.generator, "seed": 4}
    assert "particles" in refused(runs[0], str(write_event_file(tmp_path / "one_jet.h5", other)))
    far = synthetic_events(2, 20, seed=5)
    far.cross_section_pb, far.error_pb, far.generator = 120.0, 1.0, {**far.generator, "seed": 5}
    assert "standard deviations" in refused(runs[0], str(write_event_file(tmp_path / "far.h5", far)))
    cut = synthetic_events(2, 20, seed=6)
    cut.generator = {"integrand": {**CUTS, "mass_window": [66, 116]}, "seed": 6}
    assert "integrand settings" in refused(runs[0], str(write_event_file(tmp_path / "cut.h5", cut)))
    assert not (tmp_path / "bad.h5").exists()


# -- features ------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 2, 3])
def test_features_round_trip_and_momentum_balance(n):
    ev = synthetic_events(n, 300, seed=10 + n)
    x, n_found, lead_plus = to_features(ev.momenta, ev.labels, 20.0, 20.0)
    assert n_found == n and x.shape == (300, feature_dims(n))
    pt = np.hypot(ev.momenta[..., 1], ev.momenta[..., 2])
    lead = np.argmax(pt[:, :2], axis=1)
    azimuth = np.arctan2(ev.momenta[np.arange(300), lead, 2], ev.momenta[np.arange(300), lead, 1])
    p, labels = from_features(x, n, 20.0, 20.0, azimuth, lead_plus)
    assert labels == ["mu+", "mu-"] + ["j"] * n
    jets_in = ev.momenta[:, 2:][np.arange(300)[:, None], np.argsort(-pt[:, 2:], axis=1)]
    assert np.allclose(p[:, :2], ev.momenta[:, :2], atol=1e-9) and np.allclose(p[:, 2:], jets_in, atol=1e-9)
    assert np.abs(p[..., 1:3].sum(axis=1)).max() < 1e-9  # the transverse plane balances


def test_features_reject_other_processes():
    with pytest.raises(FeatureError, match="mu\\+ mu-"):
        to_features(np.ones((2, 3, 4)), ["e+", "e-", "j"], 20, 20)
    with pytest.raises(FeatureError, match="4 jets"):
        feature_dims(4)


def test_whitening_is_block_triangular():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5000, 9)) @ rng.normal(size=(9, 9))
    w = Whitening()
    w.fit(2, x)
    z = w(torch.from_numpy(x), 2).numpy()
    assert np.allclose(np.cov(z, rowvar=False), np.eye(9), atol=1e-6) and np.allclose(z.mean(0), 0, atol=1e-9)
    y = x.copy()
    y[:, 6:] += 1.0  # the second jet's features do not move the whitened base block
    assert np.allclose(w(torch.from_numpy(y), 2).numpy()[:, :6], z[:, :6])
    assert np.allclose(w.inverse(torch.from_numpy(z), 2).numpy(), x)


# -- the magic transformation -------------------------------------------------------------
def test_magic_weights_and_their_undoing_give_back_the_distribution():
    assert np.allclose(magic_weights(np.array([0.1, 0.2, 0.85, 1.5, 3.0, np.inf])), [0, 0, 0.5, 1, 1, 1])
    rng = np.random.default_rng(1)
    dr = rng.uniform(0.4, 3.0, 400_000)  # p: flat above the cut
    f = magic_weights(dr)
    learned = dr[rng.random(dr.size) < f]  # what the network learns: f p
    kept = learned[rng.random(learned.size) < magic_keep_probability(learned, 0.4)]
    h, _ = np.histogram(kept, np.linspace(0.4, 3.0, 14))
    expected = h.sum() / 13
    assert ((h - expected) ** 2 / expected).sum() < 13 + 5 * np.sqrt(26)  # flat again: chi2 for 13 bins
    with pytest.raises(ValueError, match="R- < R\\+"):
        magic_weights(dr, 1.0, 0.5)


# -- the INN -------------------------------------------------------------------------------
def test_inn_starts_as_the_logistic_density():
    model = ZJetsINN(INNSettings(hidden=8, jet_hidden=8, blocks=2, jet_blocks=2)).double()
    z = torch.randn(50, 12, dtype=torch.float64)
    n = torch.tensor([1, 2, 3] * 16 + [1, 1])
    dims = torch.tensor([feature_dims(int(k)) for k in n])
    logistic = torch.nn.functional.logsigmoid(z) + torch.nn.functional.logsigmoid(-z)
    expected = torch.stack([logistic[i, :dims[i]].sum() for i in range(50)])
    assert torch.allclose(model.log_prob(z, n), expected)


def test_inn_learns_the_synthetic_features(event_files):
    sample = load_zjets(event_files, test_fraction=0.25, seed=0)
    assert pytest.approx(sample.fractions[1]) == 2 / 3
    model, history = train_inn(sample, INNSettings(epochs=6, batch_size=256, hidden=32, jet_hidden=16, blocks=4, jet_blocks=2))
    assert history[-1]["val_loss"] < history[0]["val_loss"]
    for n in (1, 2):
        gen = generate(model, n, 2000, seed=5)
        truth = observables(sample.test[n].momenta, sample.test[n].labels)
        obs = observables(gen["momenta"], gen["labels"])
        for key in ("pt_mu1", "eta_mu1", "pt_j1"):
            # means agree within a few standard errors plus a small modelling margin
            err = np.hypot(truth[key].std() / np.sqrt(len(truth[key])), obs[key].std() / np.sqrt(2000))
            assert abs(obs[key].mean() - truth[key].mean()) < 5 * err + 0.03 * truth[key].std(), key
        assert passes_cuts(gen["momenta"], gen["labels"], model.cuts, n).all()


def test_training_stops_on_nan_with_the_last_good_state(event_files):
    sample = load_zjets(event_files[:1], seed=0)
    settings = INNSettings(epochs=4, batch_size=512, hidden=8, jet_hidden=8, blocks=2, jet_blocks=2)
    model = ZJetsINN(settings)
    data = training_tensors(model, sample, fit=True)
    trainer = Trainer(model, data, settings, torch.Generator().manual_seed(0))
    calls = {"n": 0}

    def poisoned(batch):
        calls["n"] += model.training  # training steps only, not the validations
        return torch.full_like(batch["w"], float("nan") if calls["n"] > trainer.steps_per_epoch * 2 else 1.0)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = trainer.fit(weight_fn=poisoned)
    assert len(history) == 2 and any("became nan" in str(w.message) for w in caught)
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert torch.isfinite(model.log_prob(data["z"][:10], data["n"][:10])).all()


def test_discriminator_weights_estimate_the_density_ratio():
    rng = np.random.default_rng(3)
    truth = rng.normal(0.0, 1.0, size=(20000, 8))  # the inputs of one jet: 6 features + 2 observables
    truth[:, 0] += 0.3
    generated = rng.normal(0.0, 1.0, size=(20000, 8))
    disc = Discriminator(DiscriminatorSettings(epochs=6, hidden=32, layers=2))
    train_discriminator(disc, 1, truth, generated)
    x = rng.normal(0.0, 1.0, size=(4000, 8))
    log_w = torch.log(disc.weights(torch.as_tensor(x, dtype=torch.float32), 1)).numpy()
    exact = 0.3 * x[:, 0] - 0.045  # log N(x0; 0.3, 1) / N(x0; 0, 1), the other features equal
    assert np.corrcoef(log_w, exact)[0, 1] > 0.9
    assert abs(np.polyfit(exact, log_w, 1)[0] - 1.0) < 0.2  # and with the right scale


def test_discriminator_learns_from_weighted_truth():
    """Partially unweighted truth: the same density as the generated events, but weights that
    carry the ratio exp(0.3 x0 - 0.045); w_D must learn the ratio from the weights alone."""
    rng = np.random.default_rng(4)
    truth, generated = rng.normal(0.0, 1.0, size=(2, 30000, 8))
    weights = np.exp(0.3 * truth[:, 0] - 0.045)
    disc = Discriminator(DiscriminatorSettings(epochs=6, hidden=32, layers=2))
    train_discriminator(disc, 1, truth, generated, truth_weights=weights)
    x = rng.normal(0.0, 1.0, size=(4000, 8))
    log_w = torch.log(disc.weights(torch.as_tensor(x, dtype=torch.float32), 1)).numpy()
    exact = 0.3 * x[:, 0] - 0.045
    assert np.corrcoef(log_w, exact)[0, 1] > 0.9
    assert abs(np.polyfit(exact, log_w, 1)[0] - 1.0) < 0.25


def test_discflow_runs_and_raises_alpha(event_files):
    from nis.generative.discflow import DiscFlowSettings, train_discflow

    sample = load_zjets(event_files, seed=0)
    settings = INNSettings(epochs=3, batch_size=512, hidden=16, jet_hidden=8, blocks=2, jet_blocks=2)
    model, disc, history = train_discflow(sample, settings, DiscriminatorSettings(hidden=16, layers=2),
                                          DiscFlowSettings(alpha0=2.0, disc_epochs=1, max_generated=2000))
    assert [h["alpha0"] for h in history] == [0.0, 2.0, 2.0]
    assert all(np.isfinite(h["train_loss"]) for h in history)


# -- model files and the command -----------------------------------------------------------
def test_model_files_refuse_other_versions_and_kinds(tmp_path, monkeypatch):
    path = save_model(tmp_path / "m.pt", "inn", {"a": torch.zeros(1)}, {})
    assert load_model_file(path, ("inn",))["kind"] == "inn"
    with pytest.raises(ModelFileError, match="expected one of"):
        load_model_file(path, ("mmdgan",))
    import nis

    monkeypatch.setattr(nis, "__version__", "9.9.9")
    with pytest.raises(ModelFileError, match="written by nis 0.1.0, this is nis 9.9.9"):
        load_model_file(path)


def test_generative_command_trains_samples_and_refuses_bad_input(event_files, tmp_path, capsys):
    from nis.cli import main

    config = tmp_path / "inn.yaml"
    config.write_text(
        f"model: inn\ndata: {json.dumps(event_files)}\noutput: {tmp_path / 'out'}\n"
        "network: {epochs: 2, batch_size: 512, hidden: 16, jet_hidden: 8, blocks: 2, jet_blocks: 2}\n"
        "discriminator: {epochs: 1, hidden: 16, layers: 2}\nevaluation: {events: 1000}\n"
    )
    assert main(["generative", "train", str(config), "--quiet"]) == 0
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert set(results["evaluation"]) == {"1", "2"}
    assert (tmp_path / "out" / "2j_dr_j1j2.png").exists() and (tmp_path / "out" / "2j_dr_j1j2_wd.png").exists()
    bulk = results["evaluation"]["1"]["observables"]["pt_mu1"]["bulk"]["INN"]
    assert 0 <= results["evaluation"]["1"]["observables"]["pt_mu1"]["bulk_1pct"]["INN"]["bins"] <= bulk["bins"]
    assert main(["generative", "evaluate", str(config), "--quiet"]) == 0  # again, from the saved model
    again = json.loads((tmp_path / "out" / "results.json").read_text())
    assert again["evaluation"]["1"]["observables"]["pt_mu1"]["bulk"]["INN"] == bulk
    assert again["discriminator_settings"]["epochs"] == results["discriminator_settings"]["epochs"] == 1
    assert again["train_seconds"] == results["train_seconds"]  # the training's record kept
    assert main(["generative", "sample", str(tmp_path / "out" / "model.pt"), "--events", "300",
                 "--out", str(tmp_path / "gen")]) == 0
    written = [read_event_file(tmp_path / f"gen_{n}j.h5") for n in (1, 2)]
    assert sum(len(e) for e in written) == 300 and abs(len(written[0]) - 200) <= 1
    capsys.readouterr()
    assert main(["generative", "sample", str(tmp_path / "out" / "model.pt"), "--events", "10", "--jets", "3"]) == 2
    assert "never trained" in capsys.readouterr().err
    if not torch.cuda.is_available():
        assert main(["generative", "sample", str(tmp_path / "out" / "model.pt"), "--events", "10", "--device", "cuda"]) == 2
        assert "sees no CUDA GPU" in capsys.readouterr().err
        assert main(["generative", "train", str(config), "--quiet", "--device", "cuda:1"]) == 2
        assert "sees no CUDA GPU" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: inn\ndata: [nowhere.h5]\n")
    assert main(["generative", "train", str(bad)]) == 2
    assert "no such event file" in capsys.readouterr().err
    bad.write_text(f"model: gan\ndata: {json.dumps(event_files)}\n")
    assert main(["generative", "train", str(bad)]) == 2
    assert "model must be one of" in capsys.readouterr().err


def test_binn_with_a_nuisance_parameter(tmp_path):
    """The Bayesian INN trains with the augmented weights; its weight draws differ; generating at
    a = a_max moves pT_j1 the way the truth reweighted with a_max moves."""
    from nis.generative.binn import ensemble_generator, nuisance_check, train_binn
    from nis.generative.config import BayesianSettings

    path = write_event_file(tmp_path / "syn.h5", synthetic_events(1, 8000, seed=1))
    sample = load_zjets([str(path)], test_fraction=0.25, seed=0)
    b = BayesianSettings(draws=3, nuisance=4.0)
    settings = INNSettings(epochs=10, batch_size=256, hidden=32, blocks=4, jet_hidden=8, jet_blocks=2, learning_rate=3e-3)
    model, history = train_binn(sample, settings, b)
    assert model.extra_dims == 1 and np.isfinite(history[-1]["val_loss"])
    draws = ensemble_generator(model, b)(1, 500, seed=3)
    assert len(draws) == 3 and not np.allclose(draws[0], draws[1])
    result = nuisance_check(model, sample, b, 1, seed=2, out=tmp_path)
    mean = {}
    for a, numbers in result.items():
        edges, h = np.asarray(numbers["edges"]), np.asarray(next(iter(numbers["models"].values()))["density"])
        t = np.asarray(numbers["truth"])
        centres = 0.5 * (edges[1:] + edges[:-1])
        mean[a] = (np.sum(centres * h) / h.sum(), np.sum(centres * t) / t.sum())
    assert mean["4"][1] > mean["0"][1] + 5  # the reweighted truth is harder...
    # ...and so is the generator at a_max (60% of the shift after 15 epochs on 6000 events; 10 here)
    assert mean["4"][0] > mean["0"][0] + 0.4 * (mean["4"][1] - mean["0"][1])


def test_generative_command_runs_the_mmdgan(tmp_path):
    """model: mmdgan trains on a t t~ -> 6 partons event file and samples one."""
    from nis.cli import main

    rng = np.random.default_rng(0)
    p3 = rng.normal(0, 60, size=(600, 6, 3))
    momenta = np.concatenate([np.linalg.norm(p3, axis=2, keepdims=True), p3], axis=2)
    data = write_event_file(tmp_path / "tt.h5", EventFile(momenta=momenta, labels=["b", "q", "q~", "b~", "q", "q~"]))
    config = tmp_path / "gan.yaml"
    config.write_text(f"model: mmdgan\ndata: [{data}]\noutput: {tmp_path / 'gan'}\n"
                      "mmdgan: {steps: 20, batch_size: 64, hidden: 16, layers: 2, check_every: 10}\n")
    assert main(["generative", "train", str(config), "--quiet"]) == 0
    results = json.loads((tmp_path / "gan" / "results.json").read_text())
    assert results["model"] == "mmdgan" and set(results["evaluation"]["peaks"]) >= {"m_W+", "m_t"}
    assert main(["generative", "sample", str(tmp_path / "gan" / "model.pt"), "--events", "50",
                 "--out", str(tmp_path / "tt_gen")]) == 0
    generated = read_event_file(tmp_path / "tt_gen.h5")
    assert generated.momenta.shape == (50, 6, 4) and generated.labels[0] == "b"
