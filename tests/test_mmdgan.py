"""MMD-GAN for t t~ -> 6 partons (nis.generative.mmdgan): the MMD estimator and its kernels, peak
widths, a short training run, NaN handling, model files and the evaluation."""

import math
import warnings

import numpy as np
import pytest
import torch

from nis.config import ConfigError
from nis.generative import mmdgan
from nis.generative.mmd import kernel, mmd2
from nis.generative.mmdgan import MMDGAN, MMDGANSettings, evaluate_mmdgan, reconstructed_masses, train_mmdgan
from nis.generative.model_io import ModelFileError, save_model
from nis.generative.peaks import fit_breit_wigner, fwhm

pytestmark = pytest.mark.usefixtures("one_thread")

GAMMA_W = 2.085


def breit_wigner(n, mass, width, seed):
    """Cauchy masses (FWHM = width)."""
    u = torch.rand(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return mass + 0.5 * width * torch.tan(math.pi * (u - 0.5))


@pytest.fixture(scope="module")
def events():
    """6-parton events of the t t~ phase space (unweighted in the cube: fine for training tests)."""
    from nis.processes.ttbar import PROCESS, TTbarConfig, TTbarIntegrand

    it = TTbarIntegrand(TTbarConfig.from_mapping({"matrix_element": PROCESS}))
    u = torch.rand(2048, 16, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    return it.momenta(u)[0].numpy()


def small(**kw):
    base = dict(latent_dim=8, hidden=32, layers=2, batch_size=256, steps=60, check_every=20, lr=1e-3)
    return MMDGANSettings(**{**base, **kw})


@pytest.mark.parametrize("name", ["breit-wigner", "gaussian"])
def test_mmd2_is_zero_for_identical_samples_and_grows_with_a_mass_shift(name):
    x = breit_wigner(600, 80.385, GAMMA_W, seed=1)
    y = breit_wigner(600, 80.385, GAMMA_W, seed=2)
    assert mmd2(x, x, GAMMA_W, name).item() == pytest.approx(0.0, abs=1e-12)
    same = mmd2(x, y, GAMMA_W, name).item()
    shifted = [mmd2(x, y + d * GAMMA_W, GAMMA_W, name).item() for d in (1.0, 3.0, 10.0)]
    assert same < 0.02
    assert shifted[0] > 5 * same and shifted[0] < shifted[1] < shifted[2]


def test_kernels_have_the_documented_values():
    x, y = torch.tensor([0.0]), torch.tensor([0.0, 2.0, 4.0])
    assert kernel(x, y, 2.0, "breit-wigner")[0].tolist() == pytest.approx([1.0, 0.5, 0.2])
    assert kernel(x, y, 2.0, "gaussian")[0].tolist() == pytest.approx([1.0, math.exp(-0.5), math.exp(-2.0)])
    assert mmd2(x, y, [1.0, 2.0]).item() == pytest.approx(
        sum(mmd2(x, y, w).item() for w in (1.0, 2.0)))
    with pytest.raises(ValueError, match="kernel"):
        kernel(x, y, 1.0, "box")


def test_peak_widths_of_a_breit_wigner_sample():
    m = breit_wigner(100_000, 80.385, GAMMA_W, seed=3).numpy()
    centre, width = fit_breit_wigner(m, 70.385, 90.385)
    assert centre == pytest.approx(80.385, abs=0.03) and width == pytest.approx(GAMMA_W, rel=0.03)
    assert fwhm(m, 70.385, 90.385) == pytest.approx(GAMMA_W, rel=0.06)


def test_reconstructed_masses_numpy_and_torch_agree(events):
    got = reconstructed_masses(events)
    as_torch = reconstructed_masses(torch.from_numpy(events))
    p = events[:, 0] + events[:, 1] + events[:, 2]
    m_t = np.sqrt(p[:, 0] ** 2 - (p[:, 1:] ** 2).sum(1))
    assert np.allclose(got["m_t"], m_t) and np.allclose(as_torch["m_W-"].numpy(), got["m_W-"])
    assert abs(np.median(got["m_W+"]) - 80.385) < 1.0


def test_short_training_is_finite_and_lowers_the_mass_mmd(events):
    model = train_mmdgan(events, small(mmd_weight=5.0))
    h = model.history
    assert [e["step"] for e in h] == [20, 40, 60]
    assert all(math.isfinite(e[k]) for e in h for k in ("d_loss", "g_loss", "mmd2"))
    assert h[-1]["mmd2"] < h[0]["mmd2"]
    p = model.sample(500, torch.Generator().manual_seed(1))
    assert p.shape == (500, 6, 4) and p.dtype == np.float64 and np.isfinite(p).all()
    assert np.allclose(p[..., 0] ** 2, (p[..., 1:] ** 2).sum(-1))


def test_nan_stops_training_and_keeps_the_last_good_state(events, monkeypatch):
    def poisoned(fake, real, settings):
        return next(iter(fake.values())).sum() * float("nan")

    monkeypatch.setattr(mmdgan, "mmd_term", poisoned)
    with pytest.warns(RuntimeWarning, match="NaN"):
        model = train_mmdgan(events, small(steps=40))
    assert all(torch.isfinite(v).all() for v in model.state_dict().values())
    assert model.history == []


def test_save_load_round_trip_and_wrong_kind(events, tmp_path):
    model = train_mmdgan(events, small(steps=20, mmd_weight=0.0))
    path = model.save(tmp_path / "gan.pt")
    again = MMDGAN.load(path)
    a = model.sample(300, torch.Generator().manual_seed(11))
    b = again.sample(300, torch.Generator().manual_seed(11))
    assert np.array_equal(a, b) and again.history == model.history
    assert again.settings.widths == {"W": [2.085], "t": [1.41]}
    save_model(tmp_path / "inn.pt", "inn", {}, {})
    with pytest.raises(ModelFileError, match="inn"):
        MMDGAN.load(tmp_path / "inn.pt")


@pytest.mark.parametrize(
    "kw, words",
    [({"kernel": "box"}, "kernel"), ({"widths": {"Z": 1.0}}, "widths"), ({"widths": {"W": -1}}, "widths.W"),
     ({"epochs": 0, "steps": 0}, "epochs or steps"), ({"mmd_weight": -1}, "mmd_weight"),
     ({"mmd_ramp": 1.5}, "mmd_ramp")],
)
def test_bad_settings_raise_config_error(kw, words):
    with pytest.raises(ConfigError, match=words):
        MMDGANSettings(**kw)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_training_on_a_device_that_is_not_here_is_refused(events):
    with pytest.raises(ValueError, match="sees no CUDA GPU"):
        train_mmdgan(events, MMDGANSettings(steps=2, batch_size=64, device="cuda"))


def test_balance_makes_the_transverse_momenta_sum_to_zero(events):
    """With ``balance`` the last parton recoils against the other five: sum px = sum py = 0 to
    rounding in every generated event, and the discriminator sees the balanced events (the
    standardised fakes decode to momenta that balance); without it they do not balance."""
    for balance in (True, False):
        model = train_mmdgan(events, small(steps=20, balance=balance))
        p = model.sample(500, torch.Generator().manual_seed(1))
        scale = np.hypot(p[..., 1], p[..., 2]).sum(1)
        imbalance = np.hypot(p[..., 1].sum(1), p[..., 2].sum(1)) / scale
        assert (imbalance.max() < 1e-12) if balance else (np.median(imbalance) > 1e-3)
    balanced = train_mmdgan(events, small(steps=1, balance=True))
    with torch.no_grad():
        q = balanced.decode(balanced.fake(torch.randn(100, 8, generator=torch.Generator().manual_seed(2))))
    assert float(q[..., 1:3].sum(1).abs().max()) < 1e-3 * float(q[..., 1:3].abs().sum())


def test_bulk_terms_compare_the_tops_kinematics(events):
    """The bulk MMD terms see the tops' pT and pz: zero weight or identical samples add nothing,
    tops boosted along z by 200 GeV add a positive amount that scales with bulk_weight."""
    p = torch.as_tensor(events[:300])
    boosted = p.clone()
    boosted[:, :3, 3] += 200.0 / 3  # the top's pz + 200 GeV (masses change too; the bulk part is what differs)
    obs = {**reconstructed_masses(p), **mmdgan.top_kinematics(p)}
    moved = {**reconstructed_masses(p), **mmdgan.top_kinematics(boosted)}
    top = p[:, :3].sum(1)
    assert torch.allclose(obs["pT_t"], torch.hypot(top[:, 1], top[:, 2]), atol=1e-5)
    assert torch.equal(obs["pz_tbar"], p[:, 3:].sum(1)[:, 3])
    masses_only = {k: v for k, v in obs.items() if k in mmdgan.MASSES}
    one, three = (mmdgan.mmd_term(moved, obs, small(bulk_weight=w)).item() for w in (1.0, 3.0))
    assert mmdgan.mmd_term(obs, obs, small()).item() == pytest.approx(0.0, abs=1e-12)
    assert mmdgan.mmd_term(moved, obs, small(bulk_weight=0.0)).item() == pytest.approx(0.0, abs=1e-12)
    assert one > 1e-3 and three == pytest.approx(3 * one)
    assert mmdgan.mmd_term(masses_only, masses_only, small()).item() == pytest.approx(0.0, abs=1e-12)


def test_evaluation_writes_plots_and_widths(events, tmp_path):
    model = train_mmdgan(events, small(steps=20))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # empty bins of an untrained model
        out = evaluate_mmdgan({"gan": model}, events, 2000, 3, tmp_path)
    assert len(out["plots"]) == 6 and all((tmp_path / p.split("/")[-1]).exists() for p in out["plots"])
    assert set(out["peaks"]) == {"m_W+", "m_W-", "m_t", "m_tbar"}
    assert out["peaks"]["m_W+"]["truth"]["fit_width"] == pytest.approx(GAMMA_W, rel=0.5)
    assert set(out["width_ratio"]["gan"]) == set(out["peaks"])
    assert set(out["histograms"]) == {"m_W+", "m_W-", "m_t", "m_tbar", "pT_b", "pT_q1"}
