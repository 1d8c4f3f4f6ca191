"""``nis jetimages generate`` and ``nis jetimages evaluate``: W jets against QCD jets, end to end.

:func:`generate_jets` runs Pythia for both classes (:mod:`nis.jetimages.generate`) and writes
``DATA_DIR/signal.h5`` and ``DATA_DIR/background.h5`` with ``DATA_DIR/generation.json`` (rates,
efficiencies, settings). :func:`evaluate` reads them, computes per jet the mass, tau_1, tau_2,
tau_21 (:mod:`nis.jetimages.substructure`) and the preprocessed image (:mod:`nis.jetimages.images`)
from one exclusive kT clustering (cached next to the jet files in ``features-<class>-<key>.npz``,
the key hashing the jet file and the settings they depend on), splits every class into training and test jets (the same split
for every classifier), and compares on the test jets

* plain: the mass-window scan, the tau_21 cut, the MLP on (m, tau_21) and the CNN (and, as a
  diagnostic of what else separates the classes, the number of constituents, fewer = signal);
* decorrelated (:mod:`nis.jetimages.decorrelate`): the same test jets weighted so both classes have
  one (m, tau_21) distribution, where the plain baselines must fall to AUC ~ 0.5, an MLP on
  (m, tau_21) trained with the weights, the plain CNN, and a CNN trained with the weights.

Into OUT_DIR: ``results.json`` (every number), ``results.md`` (the table of AUC and background
rejection at 50% signal efficiency), the plots (:mod:`nis.jetimages.plots`) and the two CNNs
(``cnn.pt``, ``cnn_decorrelated.pt``, :func:`nis.jetimages.cnn.load_cnn`).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from nis.jetimages.baselines import mass_window_roc, mlp_scores, roc_curve, roc_summary, train_mlp
from nis.jetimages.cnn import predict, save_cnn, train_cnn
from nis.jetimages.config import JetImagesConfig, load_jetimages_config
from nis.jetimages.decorrelate import TARGETS, bin_edges, decorrelation_weights, effective_size, weighted_histograms
from nis.jetimages.generate import CLASSES, JetSample, generate_sample, read_jets, write_jets
from nis.jetimages.images import jet_image
from nis.jetimages.substructure import substructure
from nis.shower.jets import exclusive_subjet_sets

__all__ = ["generate_jets", "jet_features", "evaluate"]

#: jet-file attributes copied into the results
GENERATION_KEYS = ("process", "events", "jets", "seconds", "events_per_second", "efficiency", "sigma_mb")


def _config(config) -> JetImagesConfig:
    return config if isinstance(config, JetImagesConfig) else load_jetimages_config(config)


def generate_jets(config, out: str | Path | None = None, progress: bool = True,
                  classes: tuple[str, ...] = CLASSES) -> dict:
    """Generate the jet files of ``config`` (a path or a :class:`JetImagesConfig`) into ``out``
    (default: the config's ``data_dir``); returns per class the events, jets, seconds,
    events/s, jets/s, efficiency and cross section, also written to ``OUT/generation.json``
    (merged with what is there, so the classes can run as separate processes)."""
    cfg = _config(config)
    out = Path(out if out is not None else cfg.data_dir)
    summary = {}
    for label in classes:
        sample = generate_sample(label, cfg.generation, progress=progress)
        path = write_jets(cfg.jet_file(label, out), sample)
        a = sample.attrs
        summary[label] = {
            "file": str(path), "process": a["process"], "events": a["events"], "jets": a["jets"],
            "seconds": a["seconds"], "events_per_second": a["events_per_second"],
            "jets_per_second": a["jets"] / a["seconds"] if a["seconds"] > 0 else 0.0,
            "efficiency": a["efficiency"], "seconds_pythia": a["seconds_pythia"], "seconds_jets": a["seconds_jets"],
            "sigma_mb": a["sigma_mb"], "seed": a["seed"],
        }
        if progress:
            print(f"{label}: {a['jets']} jets from {a['events']} events in {a['seconds']:.0f} s"
                  f" ({a['events_per_second']:.1f} events/s, efficiency {a['efficiency']:.3f}) -> {path}")
    record = out / "generation.json"
    old = json.loads(record.read_text()) if record.is_file() else {}
    old.update(summary)
    old["settings"] = asdict(cfg.generation)
    record.write_text(json.dumps(old, indent=1))
    return summary



def jet_features(sample: JetSample, cfg: JetImagesConfig, n: int | None = None, progress: bool = False) -> dict:
    """Per jet of ``sample`` (the first ``n``): ``mass, tau1, tau2, tau21, n_constituents, pt, eta``
    (N,) and the
    preprocessed ``images`` (N, P, P) float32, from one exclusive kT clustering per jet."""
    from nis.events.kinematics import pt_eta_phi_m

    n = len(sample) if n is None else min(int(n), len(sample))
    p = cfg.images.pixels
    out = {k: np.zeros(n) for k in ("mass", "tau1", "tau2", "tau21", "n_constituents")}
    images = np.zeros((n, p, p), dtype=np.float32)
    rows = range(n)
    if progress:
        from tqdm.auto import tqdm

        rows = tqdm(rows, desc=f"{sample.attrs.get('label', 'jets')} features", unit="jet", leave=False)
    for i in rows:
        momenta = sample.momenta_of(i)
        subjets = exclusive_subjet_sets(momenta, (1, 2), "kt")
        sub = substructure(momenta, cfg.generation.jet_radius, cfg.substructure.beta, subjets)
        for k in ("mass", "tau1", "tau2", "tau21"):
            out[k][i] = sub[k]
        out["n_constituents"][i] = len(momenta)
        images[i] = jet_image(momenta, p, cfg.images.pixel_size, subjets)
    pt, eta, _, _ = pt_eta_phi_m(sample.jets[:n])
    out.update(pt=pt, eta=eta, images=images)
    return out


def _cached_features(sample: JetSample, cfg: JetImagesConfig, label: str, limit: int | None, progress: bool) -> dict:
    """:func:`jet_features`, kept next to the jet file in ``features-<label>-<key>.npz``: the key
    hashes the jet file's size and time and every setting the features depend on."""
    import hashlib

    path = cfg.jet_file(label)
    st = path.stat()
    key = json.dumps([st.st_size, st.st_mtime_ns, limit, asdict(cfg.images), asdict(cfg.substructure),
                      cfg.generation.jet_radius, 2])  # 2: the version of what jet_features returns
    cache = path.with_name(f"features-{label}-{hashlib.sha1(key.encode()).hexdigest()[:12]}.npz")
    if cache.is_file():
        with np.load(cache) as data:
            return {k: data[k] for k in data.files}
    feats = jet_features(sample, cfg, limit, progress)
    tmp = cache.with_name(cache.name + ".tmp.npz")
    np.savez(tmp, **feats)
    tmp.replace(cache)
    return feats


def _split(n_signal: int, n_background: int, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Boolean test masks over the concatenated (signal, background) jets: ``test_fraction`` of
    each class, drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    test = []
    for n in (n_signal, n_background):
        mask = np.zeros(n, dtype=bool)
        mask[rng.permutation(n)[: int(round(test_fraction * n))]] = True
        test.append(mask)
    test = np.concatenate(test)
    return ~test, test


def _entry(eps_s, eps_b, scores=None, labels=None, weights=None) -> dict:
    from nis.jetimages.baselines import auc_error

    entry = roc_summary(eps_s, eps_b)
    if scores is not None:
        entry["auc_error"] = auc_error(scores, labels, weights)
    return entry


def _table(results: dict) -> str:
    lines = ["| test sample | classifier | AUC | 1/eps_B at eps_S = 50% |", "|---|---|---|---|"]
    for sample, title in (("plain", "plain"), ("decorrelated", "(m, tau21)-reweighted")):
        for name, r in results[sample].items():
            err = f" +- {r['auc_error']:.3f}" if "auc_error" in r else ""
            lines.append(f"| {title} | {name} | {r['auc']:.3f}{err} | {r['rejection_50']:.1f} |")
    return "\n".join(lines)


def evaluate(config, out_dir: str | Path, progress: bool = True) -> dict:
    """The comparison of the module docstring on the jet files of ``config`` (a path or a
    :class:`JetImagesConfig`); plots, ``results.json``, ``results.md`` and the CNNs into
    ``out_dir``. Returns the results dict."""
    from nis.jetimages import plots

    cfg = _config(config)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    limit = cfg.evaluation.jets or None
    feats, generation = {}, {}
    for label in CLASSES:
        sample = read_jets(cfg.jet_file(label))
        generation[label] = {k: sample.attrs[k] for k in GENERATION_KEYS if k in sample.attrs}
        feats[label] = _cached_features(sample, cfg, label, limit, progress)
    feature_seconds = time.perf_counter() - start
    n_s, n_b = len(feats["signal"]["mass"]), len(feats["background"]["mass"])
    f = {k: np.concatenate([feats["signal"][k], feats["background"][k]]) for k in feats["signal"]}
    y = np.r_[np.ones(n_s), np.zeros(n_b)]
    tr, te = _split(n_s, n_b, cfg.evaluation.test_fraction, cfg.evaluation.seed)
    m, t21, img = f["mass"], f["tau21"], f["images"]
    x2 = np.stack([m, t21], axis=1)
    grid = np.arange(0.0, 300.0 + cfg.evaluation.mass_step, cfg.evaluation.mass_step)
    rocs, results, timing = {"plain": {}, "decorrelated": {}}, {"plain": {}, "decorrelated": {}}, {}

    def add(sample, name, curve, scores=None, weights=None):
        rocs[sample][name] = curve
        results[sample][name] = _entry(*curve, scores, y[te], weights)

    # plain: the baselines and the CNN
    es_plain, eb, windows = mass_window_roc(m[tr], y[tr], m[te], y[te], edges=grid)
    add("plain", "mass window", (es_plain, eb))
    add("plain", "tau21 cut", roc_curve(-t21[te], y[te]), -t21[te])
    t0 = time.perf_counter()
    mlp, mlp_history = train_mlp(x2[tr], y[tr], None, cfg.mlp, progress)
    timing["mlp_seconds"] = time.perf_counter() - t0
    s_mlp = mlp_scores(mlp, x2[te])
    add("plain", "MLP (m, tau21)", roc_curve(s_mlp, y[te]), s_mlp)
    t0 = time.perf_counter()
    cnn, cnn_history = train_cnn(img[tr], y[tr], None, cfg.cnn, progress)
    timing["cnn_seconds"] = time.perf_counter() - t0
    s_cnn = predict(cnn, img[te])
    add("plain", "CNN (jet image)", roc_curve(s_cnn, y[te]), s_cnn)
    nc = -f["n_constituents"][te]  # a diagnostic, not a tagger: QCD jets have more particles
    add("plain", "constituent count (diagnostic)", roc_curve(nc, y[te]), nc)
    save_cnn(cnn, out / "cnn.pt", {"history": cnn_history, "weights": "none"})

    # decorrelated: both classes with one (m, tau21) distribution
    d = cfg.decorrelation
    edges = bin_edges(m[tr], t21[tr], d.mass_bins, d.tau21_bins)
    w_tr = decorrelation_weights(m[tr], t21[tr], y[tr], edges, d.target)
    w_te = decorrelation_weights(m[te], t21[te], y[te], edges, d.target)
    h_s, h_b = weighted_histograms(m[te], t21[te], y[te], w_te, edges)
    es, eb, _ = mass_window_roc(m[tr], y[tr], m[te], y[te], w_tr, w_te, edges=grid)
    add("decorrelated", "mass window", (es, eb))
    add("decorrelated", "tau21 cut", roc_curve(-t21[te], y[te], w_te), -t21[te], w_te)
    add("decorrelated", "MLP (m, tau21), plain training", roc_curve(s_mlp, y[te], w_te), s_mlp, w_te)
    mlp_w, _ = train_mlp(x2[tr], y[tr], w_tr, cfg.mlp, progress)
    s_mlp_w = mlp_scores(mlp_w, x2[te])
    add("decorrelated", "MLP (m, tau21), weighted training", roc_curve(s_mlp_w, y[te], w_te), s_mlp_w, w_te)
    add("decorrelated", "constituent count (diagnostic)", roc_curve(nc, y[te], w_te), nc, w_te)
    add("decorrelated", "CNN, plain training", roc_curve(s_cnn, y[te], w_te), s_cnn, w_te)
    t0 = time.perf_counter()
    cnn_w, cnn_w_history = train_cnn(img[tr], y[tr], w_tr, cfg.cnn, progress)
    timing["cnn_weighted_seconds"] = time.perf_counter() - t0
    s_cnn_w = predict(cnn_w, img[te])
    add("decorrelated", "CNN, weighted training", roc_curve(s_cnn_w, y[te], w_te), s_cnn_w, w_te)
    save_cnn(cnn_w, out / "cnn_decorrelated.pt", {"history": cnn_w_history, "weights": f"decorrelation ({d.target})"})

    # plots
    window = f"{cfg.generation.jet_pt_min:g} < pT < {cfg.generation.jet_pt_max:g} GeV"
    plots.plot_rocs(rocs["plain"], out / "roc.png", f"W' -> WZ against QCD jets, {window}: test jets",
                    {k: v["auc"] for k, v in results["plain"].items()})
    plots.plot_rocs(rocs["decorrelated"], out / "roc_decorrelated.png",
                    "test jets reweighted to one (m, tau21) distribution",
                    {k: v["auc"] for k, v in results["decorrelated"].items()})
    labels = y.astype(bool)
    mean_s, mean_b = img[labels].mean(0), img[~labels].mean(0)
    plots.plot_average_images(mean_s, mean_b, out / "average_images.png", cfg.images.pixel_size,
                              f"{n_s} W jets, {n_b} QCD jets, {window}")
    plots.plot_distributions(m[te], t21[te], y[te], out / "mass_tau21.png", w_te, "test jets")

    sig_te = y[te].astype(bool)
    comparisons = {  # paired bootstrap: both classifiers on the same resampled test jets
        "plain: CNN - MLP (m, tau21)": _difference(results["plain"], "CNN (jet image)", "MLP (m, tau21)",
                                                    s_cnn, s_mlp, y[te], None),
        "decorrelated: CNN weighted training - MLP weighted training": _difference(
            results["decorrelated"], "CNN, weighted training", "MLP (m, tau21), weighted training", s_cnn_w, s_mlp_w,
            y[te], w_te),
    }
    summary = {
        "config": asdict(cfg),
        "jets": {"signal": n_s, "background": n_b, "train": int(tr.sum()), "test": int(te.sum())},
        "generation": generation,
        "results": results,
        "auc_differences": comparisons,
        "mass_window_at_50": _window_at_50(es_plain, windows),
        "decorrelation": {
            "edges_mass": edges[0].tolist(), "edges_tau21": edges[1].tolist(), "target": d.target,
            "max_abs_difference_weighted_histograms": float(np.abs(h_s - h_b).max()),
            "effective_test_jets": {"signal": effective_size(w_te[sig_te]), "background": effective_size(w_te[~sig_te])},
            "zero_weight_test_jets": int((w_te == 0).sum()),
            "effective_test_jets_by_target": {
                target: {"signal": effective_size(wt[sig_te]), "background": effective_size(wt[~sig_te])}
                for target in TARGETS for wt in [decorrelation_weights(m[te], t21[te], y[te], edges, target)]
            },
        },
        "means": {"mass_signal": float(m[labels].mean()), "mass_background": float(m[~labels].mean()),
                  "tau21_signal": float(t21[labels].mean()), "tau21_background": float(t21[~labels].mean())},
        "history": {"cnn": cnn_history, "cnn_weighted": cnn_w_history, "mlp": mlp_history},
        "seconds": {"features": feature_seconds, **timing, "total": time.perf_counter() - start},
        "torch_threads": torch.get_num_threads(),
    }
    (out / "results.json").write_text(json.dumps(summary, indent=1, default=float))
    g = cfg.generation
    cuts = f"{g.jet_pt_min:g} < pT < {g.jet_pt_max:g} GeV, |eta| < {g.jet_eta_max:g}"
    (out / "results.md").write_text(
        "# Jet images: W' -> W Z against QCD jets (nis.jetimages)\n\n"
        f"{n_s} W jets and {n_b} QCD jets (leading anti-kT R = {g.jet_radius:g} jet, {cuts}, Pythia 8 at"
        f" {g.sqrt_s / 1000:g} TeV); {int(te.sum())} test jets, the rest for training. AUC errors: bootstrap"
        " standard deviations over the test jets. Reweighted: both classes weighted to one (m, tau21)"
        f" distribution ({d.mass_bins} x {d.tau21_bins} quantile bins, target {d.target}).\n\n"
        + _table(results) + "\n\nAUC differences (paired bootstrap on the same test jets):\n\n"
        + "\n".join(f"- {k}: {v['difference']:+.3f} +- {v['error']:.3f}" for k, v in comparisons.items()) + "\n"
    )
    return summary


def _difference(results: dict, a: str, b: str, scores_a, scores_b, labels, weights) -> dict:
    from nis.jetimages.baselines import auc_error

    return {"difference": results[a]["auc"] - results[b]["auc"],
            "error": auc_error(scores_a, labels, weights, reference=scores_b)}


def _window_at_50(eps_s: np.ndarray, windows: np.ndarray) -> list[float]:
    """The training-optimal mass window whose test signal efficiency first reaches 50%, GeV."""
    i = int(np.searchsorted(eps_s[1:-1], 0.5))
    return windows[min(i, len(windows) - 1)].tolist()
