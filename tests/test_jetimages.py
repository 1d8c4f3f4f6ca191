"""nis.jetimages: N-subjettiness and the jet mass on hand-built jets, the image preprocessing
(centring, rotation, flip, normalisation, invariance across phi = pi), the decorrelation weights,
ROC/AUC/rejection, the CNN's shape check and model files, the missing-Pythia message, a tiny
evaluation on synthetic jet files, and (when pythia8mc is installed) a few Pythia events."""

from __future__ import annotations

import importlib.util
import json
import math
import sys

import numpy as np
import pytest
import torch

from nis.config import ConfigError, from_dict
from nis.jetimages.baselines import auc, mass_window_roc, rejection_at, roc_curve, train_mlp, mlp_scores, MLPSettings
from nis.jetimages.cnn import CNNSettings, JetImageCNN, load_cnn, predict, save_cnn, train_cnn
from nis.jetimages.config import JetImagesConfig, load_jetimages_config
from nis.jetimages.decorrelate import bin_edges, bin_index, decorrelation_weights, weighted_histograms
from nis.jetimages.generate import GenerationSettings, JetSample, read_jets, write_jets
from nis.jetimages.images import check_images, wrap_phi
from nis.events.kinematics import from_pt_eta_phi_e

pytestmark = pytest.mark.usefixtures("one_thread")
needs_fastjet = pytest.mark.skipif(importlib.util.find_spec("fastjet") is None, reason="fastjet is not installed")
EXAMPLE = "examples/jetimages/wprime_vs_qcd.yaml"


def massless(pt, eta, phi) -> np.ndarray:
    pt, eta, phi = (np.atleast_1d(np.asarray(a, dtype=np.float64)) for a in (pt, eta, phi))
    return from_pt_eta_phi_e(pt, eta, phi, pt * np.cosh(eta))


def two_prong(eta0: float, phi0: float) -> np.ndarray:
    """A hard prong (150 GeV) at (eta0, phi0), a second (90 GeV) at distance 0.5 from it, and
    soft particles (under 1 GeV) around, none on a pixel edge after preprocessing."""
    d_eta = np.array([0.0, 0.3, -0.213, 0.117, 0.052, 0.331])
    d_phi = np.array([0.0, 0.4, 0.087, -0.141, 0.263, 0.129])
    pt = np.array([150.0, 90.0, 0.6, 0.4, 0.3, 0.5])
    return massless(pt, eta0 + d_eta, phi0 + d_phi)


# -- substructure --------------------------------------------------------------------------
@needs_fastjet
def test_nsubjettiness_of_one_particle_and_of_two_prongs():
    from nis.jetimages.substructure import substructure

    one = substructure(massless(200.0, 0.3, 1.0))
    assert one["tau1"] == 0.0 and one["tau2"] == 0.0 and one["tau21"] == 0.0
    # two equal massless prongs at eta = +-a, phi = 0: the axis of tau_1 is at y = 0, tau_1 = a / R
    a = 0.25
    rng = np.random.default_rng(0)
    spread = rng.normal(0, 0.003, size=(2, 3, 2))  # each prong three nearly collinear particles
    prongs = [massless(np.full(3, 40.0), s * a + spread[k, :, 0], spread[k, :, 1]) for k, s in enumerate((-1, 1))]
    jet = np.concatenate(prongs)
    sub = substructure(jet, radius=1.0)
    assert sub["tau1"] == pytest.approx(a, abs=0.01)
    assert sub["tau2"] < 0.01 and sub["tau21"] < 0.05
    assert substructure(jet, radius=0.8)["tau1"] == pytest.approx(sub["tau1"] / 0.8)  # normalised by sum pT * R
    # three prongs: tau_2 no longer small
    three = np.concatenate([jet, massless(np.full(1, 80.0), 0.0, 0.4)])
    assert substructure(three)["tau2"] > 0.05


def test_jet_mass_of_known_constituents():
    from nis.jetimages.substructure import jet_mass

    p = massless([100.0, 50.0], [0.2, -0.3], [0.1, 0.6])
    expected = math.sqrt(2 * 100 * 50 * (math.cosh(0.5) - math.cos(0.5)))
    assert jet_mass(p) == pytest.approx(expected, rel=1e-12)
    # a W at rest decaying back to back, boosted: the mass stays 80.4
    e = 80.4 / 2
    pair = np.array([[e, e, 0, 0], [e, -e, 0, 0]])
    gamma, beta = 3.5, math.sqrt(1 - 1 / 3.5**2)
    boosted = np.stack([gamma * (pair[:, 0] + beta * pair[:, 2]), pair[:, 1], gamma * (pair[:, 2] + beta * pair[:, 0]),
                        pair[:, 3]], axis=1)
    assert jet_mass(boosted) == pytest.approx(80.4, rel=1e-12)


# -- images --------------------------------------------------------------------------------
@needs_fastjet
def test_preprocessing_centres_rotates_flips_and_normalises():
    from nis.jetimages.images import jet_image

    image = jet_image(two_prong(0.4, 1.2))
    total = 150 + 90 + 1.8
    assert image.shape == (25, 25)
    assert image.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.unravel_index(image.argmax(), image.shape) == (12, 12)  # leading subjet in the centre pixel
    assert image[12, 12] >= 150 / total
    # the second prong (0.5 away) straight below: column 12, row 12 - 5
    assert image[7, 12] == pytest.approx(90 / total, rel=0.02)
    assert image[:, 13:].sum() >= image[:, :12].sum()  # the heavier side on the right


@needs_fastjet
def test_images_are_invariant_under_eta_shift_and_phi_rotation_across_pi():
    from nis.jetimages.images import jet_image

    ref = jet_image(two_prong(0.0, 0.0))
    for eta0, phi0 in ((1.3, 2.0), (-0.7, 3.0), (0.2, -3.05), (0.0, math.pi - 0.2)):  # 3.0 + 0.4 wraps past pi
        moved = two_prong(eta0, phi0)
        assert np.allclose(jet_image(moved), ref, atol=1e-9), (eta0, phi0)
    # a rotated second prong gives the same image: the preprocessing undoes the rotation
    p = two_prong(0.0, 0.0)
    pt = np.hypot(p[:, 1], p[:, 2])
    eta = np.arcsinh(p[:, 3] / pt)
    phi = np.arctan2(p[:, 2], p[:, 1])
    c, s = math.cos(1.1), math.sin(1.1)
    rotated = massless(pt, c * eta - s * phi, s * eta + c * phi)
    assert np.allclose(jet_image(rotated), ref, atol=1e-9)
    # and so does its mirror image eta -> -eta: the flip puts the heavier side on the right again
    mirrored = massless(pt, -eta, phi)
    assert np.allclose(jet_image(mirrored), ref, atol=1e-9)
    assert not np.allclose(ref, ref[:, ::-1], atol=1e-3)  # (the image is not symmetric by itself)


def test_wrap_phi_and_image_shape_errors():
    assert np.allclose(wrap_phi([math.pi + 0.1, -math.pi - 0.1, 0.3, 2 * math.pi]), [-math.pi + 0.1, math.pi - 0.1, 0.3, 0.0])
    assert check_images(np.zeros((4, 1, 25, 25)), 25).shape == (4, 25, 25)
    model = JetImageCNN(CNNSettings(), pixels=25)
    with pytest.raises(ValueError, match=r"\(N, 25, 25\).*got shape \(3, 24, 24\)"):
        predict(model, np.zeros((3, 24, 24)))
    with pytest.raises(ValueError, match=r"\(N, 25, 25\).*got shape \(2, 625\)"):
        model(torch.zeros(2, 625))


# -- decorrelation ---------------------------------------------------------------------------
@pytest.mark.parametrize("target", ["signal", "background", "overlap"])
def test_decorrelation_weights_equalise_the_2d_histograms(target):
    rng = np.random.default_rng(1)
    n = 6000
    mass = np.r_[rng.normal(85, 10, n), rng.exponential(60, n)]
    tau21 = np.r_[rng.beta(3, 5, n), rng.beta(5, 3, n)]
    labels = np.r_[np.ones(n), np.zeros(n)]
    edges = bin_edges(mass, tau21, 8, 6)
    before = weighted_histograms(mass, tau21, labels, None, edges)
    assert np.abs(before[0] - before[1]).max() > 0.02
    w = decorrelation_weights(mass, tau21, labels, edges, target)
    h_s, h_b = weighted_histograms(mass, tau21, labels, w, edges)
    assert np.abs(h_s - h_b).max() < 1e-12
    assert (w >= 0).all() and w[labels == 1].mean() == pytest.approx(1.0)
    if target == "signal":
        assert np.allclose(w[labels == 1][w[labels == 1] > 0], w[labels == 1][w[labels == 1] > 0][0])
    # any function of the bin alone has AUC 1/2 on the weighted jets
    score = bin_index(mass, tau21, edges).astype(float) ** 1.7
    assert auc(*roc_curve(score, labels, w)) == pytest.approx(0.5, abs=1e-12)
    assert abs(auc(*roc_curve(score, labels)) - 0.5) > 0.1


# -- figures of merit and baselines --------------------------------------------------------------
def test_roc_auc_and_rejection_of_perfect_random_and_known_classifiers():
    rng = np.random.default_rng(2)
    labels = np.r_[np.ones(20000), np.zeros(20000)]
    perfect = labels + rng.uniform(0, 0.5, len(labels))
    es, eb = roc_curve(perfect, labels)
    assert auc(es, eb) == pytest.approx(1.0) and rejection_at(es, eb) == math.inf
    assert auc(*roc_curve(-perfect, labels)) == pytest.approx(0.0)
    assert auc(*roc_curve(rng.uniform(size=len(labels)), labels)) == pytest.approx(0.5, abs=0.01)
    assert auc(*roc_curve(np.zeros(len(labels)), labels)) == pytest.approx(0.5)  # all tied
    # signal scores with density 2s, background uniform: eps_S = 1 - t^2, eps_B = 1 - t
    n = 200000
    scores = np.r_[np.sqrt(rng.uniform(size=n)), rng.uniform(size=n)]
    lab = np.r_[np.ones(n), np.zeros(n)]
    es, eb = roc_curve(scores, lab)
    assert auc(es, eb) == pytest.approx(2 / 3, abs=0.003)
    assert rejection_at(es, eb, 0.5) == pytest.approx(1 / (1 - 1 / math.sqrt(2)), rel=0.02)
    # weights 2 are duplicated jets
    few = rng.uniform(size=50)
    few_lab = (rng.uniform(size=50) < 0.5).astype(float)
    a = roc_curve(few, few_lab, np.full(50, 2.0))
    b = roc_curve(np.r_[few, few], np.r_[few_lab, few_lab])
    assert np.allclose(a[0], b[0]) and np.allclose(a[1], b[1])


def test_mass_window_scan_finds_the_peak():
    rng = np.random.default_rng(3)
    n = 20000
    mass = np.r_[rng.normal(80, 5, n), rng.uniform(0, 300, n)]
    labels = np.r_[np.ones(n), np.zeros(n)]
    half = np.arange(2 * n) % 2 == 0
    es, eb, windows = mass_window_roc(mass[half], labels[half], mass[~half], labels[~half])
    i = np.searchsorted(es[1:-1], 0.5)
    lo, hi = windows[i]
    assert lo < 80 < hi and hi - lo < 16
    # best window at eps_S = 50%: 80 +- 0.674 sigma, eps_B = 6.74 / 300
    assert rejection_at(es, eb) == pytest.approx(300 / 6.74, rel=0.25)
    assert auc(es, eb) > 0.95 and np.all(np.diff(eb) >= 0) and np.all(np.diff(es) >= 0)


def test_mlp_and_cnn_learn_separable_samples_and_model_files(tmp_path, monkeypatch):
    rng = np.random.default_rng(4)
    n = 600
    x = np.r_[np.c_[rng.normal(80, 8, n), rng.beta(2, 5, n)], np.c_[rng.exponential(50, n), rng.beta(5, 2, n)]]
    labels = np.r_[np.ones(n), np.zeros(n)]
    mlp, hist = train_mlp(x, labels, settings=MLPSettings(epochs=6, hidden=16, layers=2))
    assert len(hist) == 6 and auc(*roc_curve(mlp_scores(mlp, x), labels)) > 0.9
    # images: one blob (background) against two blobs (signal)
    images = np.zeros((2 * n, 25, 25), dtype=np.float32)
    images[:, 12, 12] = 0.7
    images[:n, 7, 12] = 0.3
    images[n:, 12, 12] += 0.3
    images += rng.uniform(0, 0.02, images.shape).astype(np.float32)
    images /= images.sum(axis=(1, 2), keepdims=True)
    settings = CNNSettings(channels=[4, 4, 4], dense=8, epochs=2, batch_size=64)
    cnn, history = train_cnn(images, labels, settings=settings)
    scores = predict(cnn, images)
    assert len(history) == 2 and auc(*roc_curve(scores, labels)) > 0.95
    path = save_cnn(cnn, tmp_path / "cnn.pt", {"history": history})
    back, extra = load_cnn(path)
    assert np.allclose(predict(back, images), scores) and extra["history"] == history
    import nis
    from nis.generative.model_io import ModelFileError

    monkeypatch.setattr(nis, "__version__", "9.9.9")
    with pytest.raises(ModelFileError, match="9.9.9"):
        load_cnn(path)


# -- configuration, Pythia, files ----------------------------------------------------------------
def test_config_rejects_unknown_keys_and_the_example_loads():
    cfg = load_jetimages_config(EXAMPLE)
    assert cfg.generation.wprime_mass == 600 and cfg.images.pixels == 25 and cfg.cnn.channels == [16, 32, 32]
    with pytest.raises(ConfigError, match="unknown key 'epoch' in cnn; did you mean 'epochs'"):
        from_dict(JetImagesConfig, {"cnn": {"epoch": 3}})
    with pytest.raises(ConfigError, match="unknown key 'wprime'"):
        from_dict(JetImagesConfig, {"generation": {"wprime": 700}})
    with pytest.raises(ConfigError, match="decorrelation.target"):
        from_dict(JetImagesConfig, {"decorrelation": {"target": "both"}})
    with pytest.raises(ConfigError, match="jet_pt_max"):
        GenerationSettings(jet_pt_min=300, jet_pt_max=250)


def test_missing_pythia_gives_the_install_command(monkeypatch):
    from nis.jetimages.generate import generate_sample
    from nis.shower.pythia import MissingDependency

    monkeypatch.setitem(sys.modules, "pythia8mc", None)  # import pythia8mc now raises ImportError
    with pytest.raises(MissingDependency, match="pip install --only-binary pythia8mc"):
        generate_sample("background", GenerationSettings(jets=1))


def synthetic_sample(label: str, n: int, seed: int) -> JetSample:
    """Massless constituents: two prongs around a W-like mass (signal) or one prong (background)."""
    rng = np.random.default_rng(seed)
    jets, consts = [], []
    for _ in range(n):
        eta0, phi0 = rng.uniform(-1.5, 1.5), rng.uniform(-math.pi, math.pi)
        k = 30
        ang = rng.uniform(0, 2 * math.pi)
        if label == "signal":
            z = rng.uniform(0.15, 0.85)
            d = 80.0 / (275 * math.sqrt(z * (1 - z)))
            centres = [(0.0, 0.0, 1 - z), (d * math.cos(ang), d * math.sin(ang), z)]
        elif rng.uniform() < 0.5:  # QCD-like: often one prong, else an uneven split at any angle
            z, d = rng.uniform(0.05, 0.5), rng.uniform(0.15, 0.8)
            centres = [(0.0, 0.0, 1 - z), (d * math.cos(ang), d * math.sin(ang), z)]
        else:
            centres = [(0.0, 0.0, 1.0)]
        rows = []
        for ce, cp, frac in centres:
            share = rng.dirichlet(np.full(k, 0.5)) * frac * 275
            rows.append(np.c_[share, eta0 + ce + rng.normal(0, 0.05, k), phi0 + cp + rng.normal(0, 0.05, k)])
        c = np.concatenate(rows)
        c[:, 2] = wrap_phi(c[:, 2])
        p = massless(c[:, 0], c[:, 1], c[:, 2])
        jets.append(p.sum(0))
        consts.append(np.c_[c, p[:, 0]])
    counts = [len(c) for c in consts]
    return JetSample(jets=np.array(jets), constituents=np.concatenate(consts).astype(np.float32),
                     offsets=np.r_[0, np.cumsum(counts)], attrs={"label": label, "events": n, "jets": n})


@needs_fastjet
def test_evaluate_on_synthetic_jet_files(tmp_path):
    from nis.jetimages.run import evaluate

    for seed, label in enumerate(("signal", "background")):
        write_jets(tmp_path / f"{label}.h5", synthetic_sample(label, 150, seed))
    assert len(read_jets(tmp_path / "signal.h5")) == 150
    cfg = from_dict(JetImagesConfig, {
        "data_dir": str(tmp_path), "cnn": {"channels": [4, 4, 4], "dense": 8, "epochs": 2, "batch_size": 32},
        "mlp": {"epochs": 3, "hidden": 8, "layers": 1}, "decorrelation": {"mass_bins": 4, "tau21_bins": 3},
    })
    res = evaluate(cfg, tmp_path / "out", progress=False)
    for name in ("results.json", "results.md", "roc.png", "roc_decorrelated.png", "average_images.png",
                 "mass_tau21.png", "cnn.pt", "cnn_decorrelated.pt"):
        assert (tmp_path / "out" / name).is_file(), name
    plain = res["results"]["plain"]
    assert set(plain) == {"mass window", "tau21 cut", "MLP (m, tau21)", "CNN (jet image)", "constituent count (diagnostic)"}
    assert plain["tau21 cut"]["auc"] > 0.7  # two prongs against mostly one
    assert res["decorrelation"]["max_abs_difference_weighted_histograms"] < 1e-12
    assert json.loads((tmp_path / "out" / "results.json").read_text())["jets"]["test"] == 90
    assert "| plain | CNN (jet image) |" in (tmp_path / "out" / "results.md").read_text()


def test_pythia_background_jets(tmp_path):
    pytest.importorskip("pythia8mc")
    pytest.importorskip("fastjet")
    from nis.jetimages.generate import generate_sample
    from nis.events.kinematics import pt_eta_phi_m

    s = GenerationSettings(jets=5, max_events=200, seed=7)
    sample = generate_sample("background", s)
    assert len(sample) == 5 and sample.attrs["events"] >= 5 and sample.attrs["sigma_mb"] > 0
    pt, eta, _, mass = pt_eta_phi_m(sample.jets)
    assert np.all((pt > 250) & (pt < 300) & (np.abs(eta) < 2) & (mass > 0))
    for i in range(len(sample)):  # the constituents add up to the jet (float32 storage)
        assert np.allclose(sample.momenta_of(i).sum(0), sample.jets[i], rtol=1e-4, atol=1e-2)
    back = read_jets(write_jets(tmp_path / "b.h5", sample))
    assert np.array_equal(back.offsets, sample.offsets) and back.attrs["label"] == "background"


def test_nis_jetimages_evaluate_without_jet_files_says_what_to_run(tmp_path, capsys):
    from nis.cli import main

    cfg = tmp_path / "ji.yaml"
    cfg.write_text(f"data_dir: {tmp_path / 'none'}\n")
    assert main(["jetimages", "evaluate", str(cfg), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "signal.h5" in err or "background.h5" in err
