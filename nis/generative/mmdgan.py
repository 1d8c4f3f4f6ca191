"""MMD-GAN for t t~ -> 6 partons (b q q~' b~ q q~'), after Butter, Plehn and Winterhalder,
"How to GAN LHC events", SciPost Phys. 7 (2019) 075.

* **Representation**: the partons' (px, py, pz), 18 numbers, standardised with the training
  set's means and standard deviations (buffers); energies from masslessness. With ``balance``
  (default) the last parton's px, py are minus the sum of the other five's: the event's
  transverse momentum is zero exactly, as at LO, and the discriminator sees balanced events.
* **Generator**: an MLP from Gaussian noise (``latent_dim``) to the 18 numbers. **Discriminator**:
  an MLP to a logit.
* **Losses**: the discriminator's Jensen-Shannon (binary cross-entropy) loss with the gradient
  penalty of Roth et al. (2017), ``(penalty / 2) (<(1 - D)^2 |grad psi|^2>_real +
  <D^2 |grad psi|^2>_fake)`` (psi the logit, D = sigmoid(psi)); the generator's non-saturating
  ``-log D(G(z))`` plus ``mmd_weight * sum MMD^2`` between generated and true batches of the
  reconstructed masses m_W+, m_W-, m_t, m_t~ (:mod:`nis.generative.mmd`; kernel widths default to
  the physical widths), and inside that sum ``bulk_weight`` times the MMD^2 of the tops' pT and pz
  (widths 30 and 100 GeV): the mass terms alone pull the generator towards tops at rest, where
  its imprecision costs the masses least (``benchmarks/generative_mmdgan.py``: the tops' mean pT
  44 GeV against the truth's 126, their pz spread 42 against 496 GeV), and the discriminator does
  not pull it back. With both (the defaults) the W widths come out 5-6% above the truth's, the
  tops' 19-22%, the tops' mean pT 117 GeV and pz spread 329 GeV.
  ``mmd_weight = 0`` is the plain GAN.
* **Training**: Adam on both (step size decaying as a cosine from ``lr`` to ``lr_final * lr``),
  one discriminator step per generator step; the MMD weight rises linearly from 0 over the first
  ``mmd_ramp`` of the steps (the bulk first, then the peaks); every ``check_every``
  steps the losses are checked: a NaN or inf stops training, restores the last good state and
  warns.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from nis.config import ConfigError
from nis.device import torch_device
from nis.generative.mmd import KERNELS, mmd2
from nis.generative.model_io import load_model_file, save_model

__all__ = [
    "MASSES",
    "PHYSICAL_WIDTHS",
    "MMDGANSettings",
    "MMDGAN",
    "reconstructed_masses",
    "train_mmdgan",
    "evaluate_mmdgan",
]

N_PARTONS = 6
#: reconstructed mass -> (its partons in the event order b q q~ b~ q q~, the widths key)
MASSES = {
    "m_W+": ((1, 2), "W"),
    "m_W-": ((4, 5), "W"),
    "m_t": ((0, 1, 2), "t"),
    "m_tbar": ((3, 4, 5), "t"),
}
PHYSICAL_WIDTHS = {"W": 2.085, "t": 1.41}  # GeV
#: the tops' kinematics of the bulk MMD terms -> (partons, kernel width in GeV)
BULK = {"pT_t": ((0, 1, 2), 30.0), "pT_tbar": ((3, 4, 5), 30.0), "pz_t": ((0, 1, 2), 100.0), "pz_tbar": ((3, 4, 5), 100.0)}
POLES = {"W": 80.385, "t": 173.0}  # GeV, where the evaluation looks for the peaks


def reconstructed_masses(momenta: np.ndarray | Tensor) -> dict:
    """``{"m_W+", "m_W-", "m_t", "m_tbar"}`` -> (n,) invariant masses (GeV) of momenta (n, 6, 4)
    ordered (b, q, q~', b~, q, q~'); numpy in, numpy out; torch in, torch out (differentiable)."""
    as_numpy = not isinstance(momenta, Tensor)
    p = torch.as_tensor(np.asarray(momenta)) if as_numpy else momenta
    out = {}
    for name, (partons, _) in MASSES.items():
        q = p[:, list(partons)].sum(1)
        m2 = q[:, 0] ** 2 - q[:, 1] ** 2 - q[:, 2] ** 2 - q[:, 3] ** 2
        out[name] = torch.sqrt(m2.clamp(min=1e-6))
    return {k: v.numpy() for k, v in out.items()} if as_numpy else out


def top_kinematics(momenta: Tensor) -> dict:
    """``{"pT_t", "pT_tbar", "pz_t", "pz_tbar"}`` -> (n,) of momenta (n, 6, 4) (torch, differentiable)."""
    out = {}
    for name, (partons, _) in BULK.items():
        q = momenta[:, list(partons)].sum(1)
        out[name] = torch.sqrt(q[:, 1] ** 2 + q[:, 2] ** 2 + 1e-6) if name.startswith("pT") else q[:, 3]
    return out


def mmd_observables(momenta: Tensor, settings: "MMDGANSettings") -> dict:
    """What the MMD term compares, of momenta (n, 6, 4): the reconstructed masses, plus the tops'
    pT and pz when ``settings.bulk_weight`` > 0 (torch, differentiable)."""
    out = reconstructed_masses(momenta)
    if settings.bulk_weight > 0:
        out.update(top_kinematics(momenta))
    return out


@dataclass
class MMDGANSettings:
    """How the MMD-GAN is built and trained."""

    latent_dim: int = 24  #: Gaussian noise dimensions
    hidden: int = 128  #: width of the hidden layers (generator and discriminator)
    layers: int = 3  #: hidden layers of each network
    lr: float = 1e-3  #: Adam's initial step size (both networks)
    lr_final: float = 0.1  #: cosine decay of the step size to this fraction of lr
    batch_size: int = 512  #: events per step
    epochs: int = 30  #: passes over the training events (when steps = 0)
    steps: int = 0  #: generator steps; > 0 overrides epochs
    mmd_weight: float = 30.0  #: lambda of the MMD term; 0 turns it off (10 leaves the W- 17% too wide)
    #: fraction of the steps over which lambda rises linearly from 0 (the bulk first, then the peaks)
    mmd_ramp: float = 0.5
    #: weight of the MMD terms on the tops' pT and pz inside the MMD term (the masses' have 1)
    bulk_weight: float = 1.0
    #: the last parton's px, py are minus the sum of the others' (transverse momentum balanced exactly)
    balance: bool = True
    kernel: str = "breit-wigner"  #: breit-wigner (Cauchy) or gaussian
    #: kernel widths (GeV) of the W and t masses: a number or a list (kernels summed)
    widths: dict = field(default_factory=lambda: dict(PHYSICAL_WIDTHS))
    penalty: float = 1.0  #: weight gamma of the discriminator's gradient penalty (Roth et al.)
    check_every: int = 50  #: steps between NaN checks, snapshots and history entries
    seed: int = 1
    device: str = "cpu"

    def __post_init__(self):
        for name in ("latent_dim", "hidden", "layers", "batch_size", "check_every"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                raise ConfigError(f"mmdgan.{name} must be a positive whole number; got {v!r}")
        if not self.lr > 0:
            raise ConfigError(f"mmdgan.lr must be positive; got {self.lr}")
        if not 0 < self.lr_final <= 1:
            raise ConfigError(f"mmdgan.lr_final must lie in (0, 1] (a fraction of lr); got {self.lr_final}")
        if self.epochs < 0 or self.steps < 0 or not (self.epochs or self.steps):
            raise ConfigError(f"mmdgan: give epochs or steps > 0; got epochs={self.epochs}, steps={self.steps}")
        if not 0 <= self.mmd_ramp <= 1:
            raise ConfigError(f"mmdgan.mmd_ramp must lie in [0, 1] (a fraction of the steps); got {self.mmd_ramp}")
        if self.mmd_weight < 0 or self.penalty < 0 or self.bulk_weight < 0:
            raise ConfigError(f"mmdgan.mmd_weight, bulk_weight and penalty must be >= 0; got {self.mmd_weight},"
                              f" {self.bulk_weight}, {self.penalty}")
        if self.kernel not in KERNELS:
            raise ConfigError(f"mmdgan.kernel must be one of {', '.join(KERNELS)}; got {self.kernel!r}")
        if not isinstance(self.widths, dict):
            raise ConfigError(f"mmdgan.widths must be a mapping {{W: GeV, t: GeV}}; got {self.widths!r}")
        widths = {**PHYSICAL_WIDTHS, **self.widths}
        if set(widths) != set(PHYSICAL_WIDTHS):
            raise ConfigError(f"mmdgan.widths: keys are {sorted(PHYSICAL_WIDTHS)}; got {sorted(self.widths)}")
        for key, value in widths.items():
            values = [value] if isinstance(value, (int, float)) else list(value)
            if not values or any(isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0 for v in values):
                raise ConfigError(
                    f"mmdgan.widths.{key} must be a positive number (GeV) or a list of them; got {value!r}"
                )
            widths[key] = [float(v) for v in values]
        self.widths = widths


def _mlp(n_in: int, n_out: int, hidden: int, layers: int) -> nn.Sequential:
    parts, width = [], n_in
    for _ in range(layers):
        parts += [nn.Linear(width, hidden), nn.LeakyReLU(0.2)]
        width = hidden
    parts.append(nn.Linear(width, n_out))
    return nn.Sequential(*parts)


class MMDGAN(nn.Module):
    """Generator, discriminator and the standardisation of the 18 momentum components."""

    def __init__(self, settings: MMDGANSettings):
        super().__init__()
        self.settings = settings
        n = 3 * N_PARTONS
        self.generator = _mlp(settings.latent_dim, n, settings.hidden, settings.layers)
        self.discriminator = _mlp(n, 1, settings.hidden, settings.layers)
        self.register_buffer("mean", torch.zeros(n))
        self.register_buffer("std", torch.ones(n))
        self.history: list[dict] = []

    def set_standardisation(self, momenta: Tensor) -> None:
        """Means and standard deviations of the training events' (px, py, pz)."""
        x = momenta[..., 1:].reshape(len(momenta), -1).to(torch.float64)
        self.mean.copy_(x.mean(0).to(self.mean))
        self.std.copy_(x.std(0).clamp(min=1e-6).to(self.std))

    def encode(self, momenta: Tensor) -> Tensor:
        """Momenta (n, 6, 4) -> standardised (n, 18) in the buffers' dtype."""
        x = momenta[..., 1:].reshape(len(momenta), -1).to(self.mean)
        return (x - self.mean) / self.std

    def fake(self, z: Tensor) -> Tensor:
        """Standardised (n, 18) generated from noise z, balanced when ``settings.balance``."""
        x = self.generator(z)
        return self.encode(self.decode(x)) if self.settings.balance else x

    def decode(self, x: Tensor) -> Tensor:
        """Standardised (n, 18) -> massless momenta (n, 6, 4) in x's dtype."""
        p3 = (x * self.std.to(x) + self.mean.to(x)).reshape(len(x), N_PARTONS, 3)
        if self.settings.balance:
            p3 = torch.cat([p3[:, :-1], torch.cat([-p3[:, :-1, :2].sum(1), p3[:, -1, 2:]], 1)[:, None]], 1)
        e = torch.sqrt((p3 * p3).sum(-1))
        return torch.cat([e[..., None], p3], dim=-1)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator, batch_size: int = 100_000) -> np.ndarray:
        """``n`` generated events: float64 momenta (n, 6, 4), (E, px, py, pz) in GeV."""
        device = self.mean.device
        out = []
        for start in range(0, n, batch_size):
            k = min(batch_size, n - start)
            z = torch.randn(k, self.settings.latent_dim, generator=generator, device=generator.device).to(device)
            out.append(self.decode(self.generator(z).to(torch.float64)).cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, N_PARTONS, 4))

    def save(self, path: str | Path, extra: dict | None = None) -> Path:
        """Write the model file (:mod:`nis.generative.model_io`, kind ``mmdgan``)."""
        settings = dataclasses.asdict(self.settings)
        return save_model(path, "mmdgan", self.state_dict(), settings, {"history": self.history, **(extra or {})})

    @classmethod
    def load(cls, path: str | Path, device: str | None = None) -> "MMDGAN":
        """A model :meth:`save` wrote (ModelFileError for another kind or nis version)."""
        data = load_model_file(path, kinds=("mmdgan",))
        # files from before ``balance`` existed generated all 18 components freely
        settings = MMDGANSettings(**{"balance": False, **data["settings"]})
        if device is not None:
            settings.device = device
        model = cls(settings)
        model.load_state_dict(data["state_dict"])
        model.history = list(data["extra"].get("history", []))
        return model.to(settings.device)


def _discriminator_loss(disc: nn.Module, real: Tensor, fake: Tensor, penalty: float) -> Tensor:
    """Binary cross-entropy plus Roth et al.'s gradient penalty (module docstring)."""
    real, fake = real.detach().requires_grad_(penalty > 0), fake.detach().requires_grad_(penalty > 0)
    psi_r, psi_f = disc(real).squeeze(-1), disc(fake).squeeze(-1)
    loss = nn.functional.softplus(-psi_r).mean() + nn.functional.softplus(psi_f).mean()
    if penalty > 0:
        (g_r,) = torch.autograd.grad(psi_r.sum(), real, create_graph=True)
        (g_f,) = torch.autograd.grad(psi_f.sum(), fake, create_graph=True)
        omega = ((1 - torch.sigmoid(psi_r)) ** 2 * (g_r * g_r).sum(1)).mean() + (
            torch.sigmoid(psi_f) ** 2 * (g_f * g_f).sum(1)
        ).mean()
        loss = loss + 0.5 * penalty * omega
    return loss


def mmd_term(fake: dict, real: dict, settings: MMDGANSettings) -> Tensor:
    """Sum over the four reconstructed masses of ``MMD^2(generated, true)``, plus ``bulk_weight``
    times the sum over the tops' pT and pz when ``fake`` and ``real`` hold them (:data:`BULK`)."""
    total = None
    for name, (_, key) in MASSES.items():
        term = mmd2(fake[name], real[name], settings.widths[key], settings.kernel)
        total = term if total is None else total + term
    for name, (_, width) in BULK.items():
        if name in fake:
            total = total + settings.bulk_weight * mmd2(fake[name], real[name], width, settings.kernel)
    return total


def train_mmdgan(events, settings: MMDGANSettings, progress: bool = False) -> MMDGAN:
    """Train on ``events`` (:class:`nis.events.hdf5.EventFile` of t t~ -> 6 partons, or momenta
    (N, 6, 4)); returns the model (``model.history``: losses every ``check_every`` steps)."""
    momenta = getattr(events, "momenta", events)
    momenta = np.asarray(momenta)
    labels = getattr(events, "labels", None)
    if momenta.ndim != 3 or momenta.shape[1:] != (N_PARTONS, 4):
        raise ValueError(
            f"the MMD-GAN learns t t~ -> 6 partons (b q q~ b~ q q~): momenta (N, 6, 4), got {momenta.shape}"
            f"{'' if labels is None else f' labelled {labels}'}"
        )
    if len(momenta) < settings.batch_size:
        raise ValueError(f"{len(momenta)} training events are fewer than batch_size = {settings.batch_size}")
    device = torch_device(settings.device)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(settings.seed)
        model = MMDGAN(settings)
    model.to(device)
    p = torch.as_tensor(momenta, dtype=torch.float64, device=device)
    model.set_standardisation(p)
    data = model.encode(p)
    observed = mmd_observables(p, settings)
    names = list(observed)
    true_obs = torch.stack(list(observed.values()), dim=1).to(data)
    gen = torch.Generator(device).manual_seed(settings.seed)
    opt_g = torch.optim.Adam(model.generator.parameters(), lr=settings.lr, betas=(0.5, 0.9))
    opt_d = torch.optim.Adam(model.discriminator.parameters(), lr=settings.lr, betas=(0.5, 0.9))
    n, batch = len(data), settings.batch_size
    per_epoch = n // batch
    steps = settings.steps or settings.epochs * per_epoch
    schedules = [
        torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps, eta_min=settings.lr * settings.lr_final)
        for opt in (opt_g, opt_d)
    ]
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=steps, desc="MMD-GAN", unit="step", leave=False)
    good = copy.deepcopy(model.state_dict())
    sums = torch.zeros(3, dtype=torch.float64, device=device)  # d, g (adversarial), mmd2
    since, perm = 0, None
    for step in range(steps):
        if step % per_epoch == 0:
            perm = torch.randperm(n, generator=gen, device=device)
        idx = perm[(step % per_epoch) * batch:(step % per_epoch + 1) * batch]
        real = data[idx]
        z = torch.randn(batch, settings.latent_dim, generator=gen, device=device)
        d_loss = _discriminator_loss(model.discriminator, real, model.fake(z), settings.penalty)
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        z = torch.randn(batch, settings.latent_dim, generator=gen, device=device)
        fake = model.fake(z)
        g_adv = nn.functional.softplus(-model.discriminator(fake).squeeze(-1)).mean()
        fake_obs = mmd_observables(model.decode(fake), settings)
        real_obs = dict(zip(names, true_obs[idx].unbind(1)))
        check = since + 1 == settings.check_every or step == steps - 1
        if settings.mmd_weight > 0:
            mmd = mmd_term(fake_obs, real_obs, settings)
            ramp = min(1.0, (step + 1) / (settings.mmd_ramp * steps)) if settings.mmd_ramp else 1.0
            g_loss = g_adv + ramp * settings.mmd_weight * mmd
        else:  # monitored only, on the batch of each check
            g_loss = g_adv
            if check:
                with torch.no_grad():
                    mmd = mmd_term({k: v.detach() for k, v in fake_obs.items()}, real_obs, settings)
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        for schedule in schedules:
            schedule.step()
        sums[:2] += torch.stack([d_loss.detach(), g_adv.detach()]).to(sums)
        if settings.mmd_weight > 0 or check:
            sums[2] += mmd.detach().to(sums) * (since + 1 if settings.mmd_weight == 0 else 1)
        since += 1
        if check:
            d_mean, g_mean, mmd_mean = (sums / since).tolist()  # the one host sync per check
            if not all(math.isfinite(v) for v in (d_mean, g_mean, mmd_mean)):
                model.load_state_dict(good)
                last = model.history[-1]["step"] if model.history else 0
                warnings.warn(
                    f"MMD-GAN training stopped at step {step + 1} of {steps}: a loss is NaN or inf"
                    f" (discriminator {d_mean:.4g}, generator {g_mean:.4g}, MMD^2 {mmd_mean:.4g}); keeping the"
                    f" last good state (step {last}). Lower lr or raise penalty.",
                    RuntimeWarning,
                    stacklevel=2,
                )
                break
            good = copy.deepcopy(model.state_dict())
            entry = {"step": step + 1, "d_loss": d_mean, "g_loss": g_mean, "mmd2": mmd_mean}
            model.history.append(entry)
            sums.zero_()
            since = 0
            if bar is not None:
                bar.set_postfix(d=f"{d_mean:.3f}", g=f"{g_mean:.3f}", mmd2=f"{mmd_mean:.3g}")
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    model.eval()
    return model


# -- evaluation -------------------------------------------------------------------------------

def _pt(p: np.ndarray) -> np.ndarray:
    return np.hypot(p[..., 1], p[..., 2])


def observables(momenta: np.ndarray) -> dict:
    """The plotted observables: the four masses, pT of the b and of the hardest light quark."""
    out = reconstructed_masses(momenta)
    out["pT_b"] = _pt(momenta[:, 0])
    out["pT_q1"] = _pt(momenta[:, [1, 2, 4, 5]]).max(1)
    return out


def bulk_summary(momenta: np.ndarray) -> dict:
    """What the peaks do not show: the tops' mean pT and pz spread, the b's mean pT (GeV), and the
    transverse-momentum balance ``|sum pT| / sum |pT|`` (median and 99% quantile over events)."""
    p = np.asarray(momenta)
    top = p[:, :3].sum(1)
    imbalance = np.hypot(p[..., 1].sum(1), p[..., 2].sum(1)) / np.maximum(_pt(p).sum(1), 1e-300)
    return {"mean_pT_t": float(_pt(top).mean()), "std_pz_t": float(top[:, 3].std()),
            "mean_pT_b": float(_pt(p[:, 0]).mean()), "imbalance_median": float(np.median(imbalance)),
            "imbalance_q99": float(np.quantile(imbalance, 0.99))}


EDGES = {
    "m_W+": (np.linspace(65.0, 95.0, 61), r"$m_{W^+}$ [GeV]"),
    "m_W-": (np.linspace(65.0, 95.0, 61), r"$m_{W^-}$ [GeV]"),
    "m_t": (np.linspace(158.0, 188.0, 61), r"$m_t$ [GeV]"),
    "m_tbar": (np.linspace(158.0, 188.0, 61), r"$m_{\bar t}$ [GeV]"),
    "pT_b": (np.linspace(0.0, 400.0, 41), r"$p_{T,b}$ [GeV]"),
    "pT_q1": (np.linspace(0.0, 500.0, 51), r"$p_{T,q_1}$ [GeV] (hardest light quark)"),
}
PEAK_WINDOW = 10.0  # GeV either side of the pole: the fit window and the FWHM histogram's range


def peak_widths(masses: np.ndarray, key: str) -> dict:
    """Of a W (key "W") or top ("t") mass sample: ``fwhm`` and the Breit-Wigner fit's ``fit_mass``,
    ``fit_width`` (GeV) on the pole +- 10 GeV (:mod:`nis.generative.peaks`), and ``in_peak``: the
    fraction within one physical width of the pole."""
    from nis.generative.peaks import fit_breit_wigner, fwhm

    lo, hi = POLES[key] - PEAK_WINDOW, POLES[key] + PEAK_WINDOW
    centre, width = fit_breit_wigner(masses, lo, hi)
    in_peak = float(np.mean(np.abs(np.asarray(masses) - POLES[key]) < PHYSICAL_WIDTHS[key]))
    return {"fwhm": fwhm(masses, lo, hi), "fit_mass": centre, "fit_width": width, "in_peak": in_peak}


def evaluate_mmdgan(model, truth, n: int, seed: int, out_dir: str | Path | None, prefix: str = "mmdgan") -> dict:
    """Compare generated events with ``truth`` (an EventFile or momenta (N, 6, 4)).

    model: an :class:`MMDGAN` or ``{label: MMDGAN}`` (all drawn in the same plots); ``n`` events
    each from ``torch.Generator().manual_seed(seed)``. Writes ``{prefix}_{observable}.png`` to
    ``out_dir`` (None: no plots). Returns ``{"n", "seed", "truth_events", "peaks": {mass:
    {"truth": widths, label: widths, ...}}, "width_ratio": {label: {mass: fit_width / truth's,
    ...}}, "fwhm_ratio": ..., "bulk": {"truth" or label: bulk_summary}, "histograms": {observable:
    plots.histograms numbers}, "plots": [...]}``.
    """
    from nis.generative.plots import histograms, plot_comparison

    models = model if isinstance(model, dict) else {"MMD-GAN": model}
    true_p = np.asarray(getattr(truth, "momenta", truth))
    truth_obs = observables(true_p)
    generated, bulk = {}, {"truth": bulk_summary(true_p)}
    for label, m in models.items():
        p = m.sample(n, torch.Generator().manual_seed(seed))
        generated[label], bulk[label] = observables(p), bulk_summary(p)
    out = {"n": n, "seed": seed, "truth_events": len(true_p), "peaks": {}, "width_ratio": {}, "fwhm_ratio": {},
           "bulk": bulk, "histograms": {}, "plots": []}
    for name, (_, key) in MASSES.items():
        entry = {"truth": peak_widths(truth_obs[name], key)}
        for label, obs in generated.items():
            entry[label] = peak_widths(obs[name], key)
            for ratio, field_name in (("width_ratio", "fit_width"), ("fwhm_ratio", "fwhm")):
                out[ratio].setdefault(label, {})[name] = entry[label][field_name] / entry["truth"][field_name]
        out["peaks"][name] = entry
    for name, (edges, xlabel) in EDGES.items():
        numbers = histograms(truth_obs[name], {label: obs[name] for label, obs in generated.items()}, edges)
        out["histograms"][name] = numbers
        if out_dir is not None:
            safe = name.replace("+", "plus").replace("-", "minus")
            path = plot_comparison(numbers, Path(out_dir) / f"{prefix}_{safe}.png", xlabel,
                                   logy=name.startswith("pT"), title="t t~ -> 6 partons")
            out["plots"].append(str(path))
    return out
