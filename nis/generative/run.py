"""``nis generative train`` and ``nis generative sample`` for the Z + jets models.

:func:`train` reads the config (:mod:`nis.generative.config`), trains the model, saves it to
``OUTPUT/model.pt`` and evaluates it against the held-out truth (:func:`evaluate`): per
multiplicity, generated events (the magic transformation undone, the generation cuts applied)
against truth in the observables of :func:`nis.generative.features.observables`, the same events
reweighted by a discriminator trained afterwards (w_D = D/(1-D)), for the Bayesian INN bands
from weight draws. Plots (three panels: distribution, ratio, relative deviation) and the average
w_D per bin go to OUTPUT; every number to ``OUTPUT/results.json``.
:func:`sample` loads a model file and writes events of every multiplicity as event files.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from nis.device import torch_device
from nis.events.hdf5 import EventFile, write_event_file
from nis.generative.classifier import Discriminator, DiscriminatorSettings, discriminator_inputs, train_discriminator, weights_from
from nis.generative.config import BayesianSettings, GenerativeConfig
from nis.generative.data import ZJetsSample, load_zjets
from nis.generative.features import observables, to_features
from nis.generative.inn import INNSettings, ZJetsINN, generate, train_inn
from nis.generative.model_io import load_model_file, save_model
from nis.generative.plots import histograms, plot_comparison

__all__ = ["train", "evaluate", "sample", "load_zjets_model", "bulk_deviation"]

ZJETS_KINDS = ("inn", "discflow", "binn")
#: observables plotted per multiplicity, with their axis labels
OBSERVABLES = {
    "pt_mu1": r"$p_{T,\mu_1}$ [GeV]", "pt_mu2": r"$p_{T,\mu_2}$ [GeV]", "eta_mu1": r"$\eta_{\mu_1}$",
    "m_mumu": r"$m_{\mu\mu}$ [GeV]", "pt_j1": r"$p_{T,j_1}$ [GeV]", "eta_j1": r"$\eta_{j_1}$",
    "pt_j2": r"$p_{T,j_2}$ [GeV]", "pt_j3": r"$p_{T,j_3}$ [GeV]", "dr_j1j2": r"$\Delta R_{j_1 j_2}$",
    "dr_j2j3": r"$\Delta R_{j_2 j_3}$",
}


def _edges(name: str, truth: np.ndarray, cuts: dict) -> np.ndarray:
    if name == "m_mumu":
        lo, hi = cuts.get("mass_window", [66.0, 116.0])
        return np.linspace(lo, hi, 41)
    if name.startswith("dr_"):
        return np.linspace(0.0, 5.0, 41)
    lo, hi = np.quantile(truth, [0.002, 0.998])
    if name.startswith("pt_"):
        lo = min(lo, np.min(truth))
    return np.linspace(lo, hi, 41)


#: the bulk summaries of every histogram: bins where the truth's relative statistical error is below
#: 5%, and the core where it is below 1% (where a deviation of 2% is measurable: 10^6 events)
BULK = {"bulk": 0.05, "bulk_1pct": 0.01}


def bulk_deviation(numbers: dict, name: str, max_rel_error: float = 0.05) -> dict:
    """Model ``name`` against truth over the bulk (bins where the truth's statistical error is
    below ``max_rel_error``): the largest and mean |model/truth - 1| in percent, the truth's mean
    relative error there, and chi2 per bin with both statistical errors."""
    t, e = np.asarray(numbers["truth"]), np.asarray(numbers["truth_error"])
    bulk = (t > 0) & (e < max_rel_error * np.where(t > 0, t, 1))
    if not bulk.any():
        return {"bins": 0}
    m = numbers["models"][name]
    h, he = np.asarray(m["density"])[bulk], np.asarray(m["error"])[bulk]
    delta = np.asarray(m["delta_percent"])[bulk]
    return {
        "bins": int(bulk.sum()), "max_percent": float(np.max(delta)), "mean_percent": float(np.mean(delta)),
        "truth_stat_percent": float(100 * np.mean(e[bulk] / t[bulk])),
        "chi2_per_bin": float(np.mean((h - t[bulk]) ** 2 / (e[bulk] ** 2 + he**2))),
    }


def _discriminator_weights(model: ZJetsINN, sample: ZJetsSample, n: int, gen_eval: dict, settings: DiscriminatorSettings,
                           seed: int, progress: bool) -> tuple[np.ndarray, Discriminator]:
    """Train a discriminator on the training truth against an independent generated sample; the
    w_D of the evaluation events."""
    truth = sample.train[n]
    pt_mu, pt_j = model.pt_minima()
    x, _, _ = to_features(truth.momenta, truth.labels, pt_mu, pt_j)
    z = model.whitening(torch.from_numpy(x), n).numpy()
    truth_in = discriminator_inputs(z, truth.momenta, truth.labels)
    gen_train = generate(model, n, len(truth), seed=seed + 1000)
    gen_in = discriminator_inputs(gen_train["features"], gen_train["momenta"], gen_train["labels"])
    disc = Discriminator(settings)
    train_discriminator(disc, n, truth_in, gen_in, progress=progress, truth_weights=truth.weights)
    w = weights_from(disc, n, discriminator_inputs(gen_eval["features"], gen_eval["momenta"], gen_eval["labels"]))
    return w / w.mean(), disc


def _plot_average_weight(values: np.ndarray, w: np.ndarray, edges: np.ndarray, xlabel: str, path: Path) -> list:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s, _ = np.histogram(values, edges, weights=w)
    c, _ = np.histogram(values, edges)
    mean = np.divide(s, c, out=np.full(len(c), np.nan), where=c > 0)
    fig, ax = plt.subplots(figsize=(5.2, 2.6))
    ax.step(edges, np.append(mean, mean[-1]), where="post", color="#d62728")
    ax.axhline(1.0, color="black", lw=0.8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(r"$\langle w_D \rangle$ per bin")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return mean.tolist()


def evaluate(model: ZJetsINN, sample: ZJetsSample, cfg: GenerativeConfig, out: Path, progress: bool = False,
             ensemble_fn=None) -> dict:
    """Generated against truth per multiplicity (see the module docstring); returns the numbers.
    ``ensemble_fn(n, count, seed) -> list of momenta arrays``: weight draws of a Bayesian model."""
    results = {}
    seed = cfg.evaluation.seed
    for n, truth in sorted(sample.test.items()):
        count = cfg.evaluation.events or len(truth)
        start = time.perf_counter()
        gen = generate(model, n, count, seed=seed + n)
        gen_seconds = time.perf_counter() - start
        w_d, _ = _discriminator_weights(model, sample, n, gen, cfg.discriminator, seed + n, progress)
        t_obs, g_obs = observables(truth.momenta, truth.labels), observables(gen["momenta"], gen["labels"])
        ens = None
        if ensemble_fn is not None:
            ens = [observables(p, gen["labels"]) for p in ensemble_fn(n, max(count // 4, 1000), seed + 100 * n)]
        name = cfg.model.upper() if cfg.model != "discflow" else "DiscFlow"
        entry = {"events": count, "truth_events": len(truth), "cut_efficiency": gen["cut_efficiency"],
                 "magic_acceptance": gen["magic_acceptance"], "generation_seconds": gen_seconds,
                 "w_d_spread": float(np.std(w_d)), "observables": {}}
        for obs, xlabel in OBSERVABLES.items():
            if obs not in t_obs:
                continue
            edges = _edges(obs, t_obs[obs], sample.cuts)
            numbers = histograms(
                t_obs[obs], {name: g_obs[obs], f"{name} + w_D": g_obs[obs]}, edges,
                truth_weights=truth.weights, model_weights={f"{name} + w_D": w_d},
                ensembles={name: [e[obs] for e in ens]} if ens else None,
            )
            plot_comparison(numbers, out / f"{n}j_{obs}.png", xlabel, title=f"Z + {n} jet{'s' if n > 1 else ''}")
            for key, max_rel_error in BULK.items():
                numbers[key] = {m: bulk_deviation(numbers, m, max_rel_error) for m in numbers["models"]}
            if obs in ("m_mumu", "dr_j1j2"):
                numbers["average_w_d"] = _plot_average_weight(g_obs[obs], w_d, edges, xlabel, out / f"{n}j_{obs}_wd.png")
            entry["observables"][obs] = numbers
        results[n] = entry
    return results


def _train_model(cfg: GenerativeConfig, sample: ZJetsSample, progress: bool):
    """The trained model, its history, the discriminator (DiscFlow) and an ensemble function
    (BINN)."""
    if cfg.model == "inn":
        model, history = train_inn(sample, cfg.network, progress)
        return model, history, None, None
    if cfg.model == "discflow":
        from nis.generative.discflow import train_discflow

        model, disc, history = train_discflow(sample, cfg.network, cfg.discriminator, cfg.discflow, progress)
        return model, history, disc, None
    from nis.generative.binn import ensemble_generator, train_binn

    model, history = train_binn(sample, cfg.network, cfg.bayesian, progress)
    return model, history, None, ensemble_generator(model, cfg.bayesian)


def reevaluate(cfg: GenerativeConfig, progress: bool = False) -> dict:
    """Evaluate the trained Z + jets model in ``cfg.output`` again (same truth split); rewrites
    the evaluation in its results.json."""
    out = Path(cfg.output)
    model, data = load_zjets_model(out / "model.pt")
    sample = load_zjets(cfg.data, cfg.test_fraction, seed=model.settings.seed)
    ensemble_fn = None
    if data["kind"] == "binn":
        from nis.generative.binn import ensemble_generator

        ensemble_fn = ensemble_generator(model, cfg.bayesian)
    path = out / "results.json"
    summary = json.loads(path.read_text()) if path.exists() else {"model": data["kind"]}
    summary["evaluation"] = evaluate(model, sample, cfg, out, progress, ensemble_fn)
    summary["discriminator_settings"] = asdict(cfg.discriminator)
    path.write_text(json.dumps(summary, indent=1, default=float) + "\n")
    return summary


def train(cfg: GenerativeConfig, progress: bool = False, evaluate_after: bool = True) -> dict:
    """Train, save and (``evaluate_after``) evaluate the model of ``cfg``; returns the summary."""
    out = Path(cfg.output)
    out.mkdir(parents=True, exist_ok=True)
    if cfg.model == "mmdgan":
        return _train_mmdgan(cfg, out, progress, evaluate_after)
    torch_device(cfg.network.device)  # before the data are read
    sample = load_zjets(cfg.data, cfg.test_fraction, seed=cfg.network.seed)
    start = time.perf_counter()
    model, history, disc, ensemble_fn = _train_model(cfg, sample, progress)
    seconds = time.perf_counter() - start
    extra = {"cuts": model.cuts, "history": history, "train_seconds": seconds,
             "data": [str(p) for p in cfg.data], "extra_dims": model.extra_dims,
             "bayesian": asdict(cfg.bayesian) if cfg.model == "binn" else None,
             "discriminator": disc.state_dict() if disc is not None else None,
             "discriminator_settings": asdict(cfg.discriminator)}
    save_model(out / "model.pt", cfg.model, model.state_dict(), asdict(cfg.network), extra)
    summary = {
        "model": cfg.model, "data": {n: len(ev) for n, ev in sample.train.items()},
        "truth": {n: len(ev) for n, ev in sample.test.items()}, "cross_sections_pb": sample.cross_sections,
        "train_seconds": seconds, "history": history, "settings": asdict(cfg.network),
        "torch_threads": torch.get_num_threads(),
    }
    if evaluate_after:
        summary["evaluation"] = evaluate(model, sample, cfg, out, progress, ensemble_fn)
        summary["discriminator_settings"] = asdict(cfg.discriminator)
        if cfg.model == "binn" and cfg.bayesian.nuisance > 0:
            from nis.generative.binn import nuisance_check

            summary["nuisance"] = nuisance_check(model, sample, cfg.bayesian, min(sample.test), cfg.evaluation.seed, out)
    (out / "results.json").write_text(json.dumps(summary, indent=1, default=float) + "\n")
    return summary


def _train_mmdgan(cfg: GenerativeConfig, out: Path, progress: bool, evaluate_after: bool) -> dict:
    """The MMD-GAN of ``cfg`` on its t t~ -> 6 partons event file (:mod:`nis.generative.mmdgan`)."""
    from nis.config import from_dict
    from nis.events.hdf5 import read_event_file
    from nis.generative.mmdgan import MMDGANSettings, evaluate_mmdgan, train_mmdgan

    settings = from_dict(MMDGANSettings, cfg.mmdgan, "mmdgan")
    train_events, test_events = read_event_file(cfg.data[0]).split(cfg.test_fraction, np.random.default_rng(settings.seed))
    start = time.perf_counter()
    model = train_mmdgan(train_events, settings, progress)
    seconds = time.perf_counter() - start
    model.save(out / "model.pt", extra={"train_seconds": seconds, "data": cfg.data})
    summary = {"model": "mmdgan", "data": len(train_events), "truth": len(test_events), "train_seconds": seconds,
               "settings": asdict(settings), "torch_threads": torch.get_num_threads()}
    if evaluate_after:
        evaluation = evaluate_mmdgan(model, test_events, len(test_events), cfg.evaluation.seed, out)
        summary["evaluation"] = {k: v for k, v in evaluation.items() if k != "plots"}
    (out / "results.json").write_text(json.dumps(summary, indent=1, default=float) + "\n")
    return summary


def load_zjets_model(path: str | Path, device: str = "cpu") -> tuple[ZJetsINN, dict]:
    """A Z + jets model (inn, discflow, binn) from its file on ``device``, and the file's dict."""
    device = str(torch_device(device))
    data = load_model_file(path, ZJETS_KINDS)
    settings = INNSettings(**data["settings"])
    settings.device = device
    model = ZJetsINN(settings, extra_dims=data["extra"].get("extra_dims", 0))
    if data["kind"] == "binn":
        from nis.generative.binn import make_bayesian

        make_bayesian(model, BayesianSettings(**data["extra"]["bayesian"]))
    model.load_state_dict(data["state_dict"])
    model.cuts = data["extra"]["cuts"]
    model.eval()
    return model.to(device), data


def sample(path: str | Path, events: int, seed: int, out_prefix: str | Path, multiplicities: list[int] | None = None,
           device: str = "cpu") -> dict:
    """Write ``events`` generated events to nis event files; returns {name: path}. Z + jets
    models: split over the multiplicities by the trained cross-section fractions, one file
    ``OUT_PREFIX_<n>j.h5`` each; the MMD-GAN: ``OUT_PREFIX.h5``. ``device``: where the network
    runs (the random streams are the device's, so events differ between CPU and GPU)."""
    device = str(torch_device(device))
    kind = load_model_file(path).get("kind")
    if kind == "mmdgan":
        from nis.generative.mmdgan import MMDGAN

        if multiplicities:
            raise ValueError("--jets is for the Z + jets models; the MMD-GAN makes t t~ -> 6 partons")
        momenta = MMDGAN.load(path, device).sample(events, torch.Generator(device).manual_seed(seed))
        target = Path(f"{out_prefix}.h5")
        write_event_file(target, EventFile(momenta=momenta, labels=["b", "q", "q~", "b~", "q", "q~"],
                                           process="generated t t~ -> 6 partons (mmdgan)",
                                           generator={"model": str(path), "kind": kind, "seed": seed}))
        return {"ttbar": target}
    model, data = load_zjets_model(path, device)
    frac = {n: float(model.fractions[n - 1]) for n in (1, 2, 3) if float(model.fractions[n - 1]) > 0}
    if multiplicities:
        untrained = sorted(set(multiplicities) - set(frac))
        if untrained:
            raise ValueError(f"multiplicity {untrained} was never trained; this model knows {sorted(frac)} jets")
        frac = {n: frac[n] for n in multiplicities}
    total = sum(frac.values())
    counts = {n: int(round(events * f / total)) for n, f in frac.items()}
    counts[max(counts)] += events - sum(counts.values())
    paths = {}
    for n, k in counts.items():
        if k <= 0:
            continue
        gen = generate(model, n, k, seed=seed + n)
        path_n = Path(f"{out_prefix}_{n}j.h5")
        write_event_file(path_n, EventFile(
            momenta=gen["momenta"], labels=gen["labels"], process=f"generated Z + {n} jets ({data['kind']})",
            generator={"model": str(path), "kind": data["kind"], "seed": seed, "multiplicity": n,
                       "cut_efficiency": gen["cut_efficiency"]},
        ))
        paths[n] = path_n
    return paths
