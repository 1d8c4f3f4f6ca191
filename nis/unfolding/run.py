"""``nis unfold CONFIG``: cINN and OmniFold unfolding of a showered Z + jet sample, end to end.

The config (YAML, checked before any work starts; unknown keys and wrong types raise
:class:`nis.config.ConfigError` naming the key)::

    simulation: unfolding-data/zmumu_1j_showered.h5   # nis shower output (nis.shower.showered)
    data: null            # pseudo-data file; null: the other part of the simulation file
    output: results/unfolding/zmumu_1j
    events: 100000        # use at most this many selected simulation-file events (0: all)
    seed: 1               # the split, the rejection and the evaluation draws
    pseudo_data: {slope: 0.5, scale: 100.0, method: weights, data_fraction: 0.5}
    features: {recoil: true}                 # nis.unfolding.features.TruthFeatures
    cinn: {epochs: 20, hidden: 64}           # nis.unfolding.cinn.CINNSettings
    omnifold: {iterations: 4, epochs: 10}    # nis.unfolding.omnifold.OmniFoldSettings
    evaluation: {posterior_samples: 10, calibration_events: 2000, calibration_samples: 100, bins: 30}

Relative paths are taken from the working directory.

**Pseudo-data.** Without a ``data`` file the simulation's selected events are split at random:
a share ``data_fraction`` becomes the pseudo-data, the rest the simulation. The pseudo-data's
truth is then reweighted by ``f(pT_Z) = 1 + slope * pT_Z / scale`` (pT_Z: the parton-level
dimuon pT; default ``1 + 0.5 pT_Z / 100 GeV``), as event weights (``method: weights``) or by
keeping each event with probability ``f / max f`` (``method: rejection``), so the data's truth
differs from the simulation's and the unfolding has something to find. A given ``data`` file is
reweighted the same way (``slope: 0`` switches it off).

**What happens.** Of the simulation, ``calibration_events`` are held out; the cINN
(:mod:`nis.unfolding.cinn`) trains on the rest and draws ``posterior_samples`` truth samples
per pseudo-data event; the held-out events test its calibration (:mod:`~nis.unfolding.calibration`)
in pT_Z, m_mumu and the leading parton's pT. OmniFold (:mod:`nis.unfolding.omnifold`) reweights
the whole simulation part to the pseudo-data. Written to the output directory: ``cinn.pt`` (the
model), ``omnifold_weights.npz``, one plot per observable (pT_Z, m_mumu, leading-parton pT) and
detector jet multiplicity (all, 0, 1, 2, >= 3 jets) with the cINN posterior, the
OmniFold-weighted simulation truth, the detector-level distribution and the simulation's own
truth against the pseudo-data's true distribution, ``calibration.png``, and ``results.json``
(per-bin numbers and ratios, chi2/ndf of every entry against the truth, the calibration curves
and their largest deviation, the settings, the training histories and the timings).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from nis.config import ConfigError, load_yaml
from nis.shower.showered import ShoweredEvents, load_showered
from nis.unfolding.calibration import calibration
from nis.unfolding.cinn import CINNSettings, save_cinn, train_cinn
from nis.unfolding.features import (
    TruthFeatures, detector_condition, detector_layout, detector_observables, truth_observables,
)
from nis.unfolding.omnifold import OmniFoldSettings, omnifold
from nis.unfolding.plots import chi2, plot_calibration, plot_unfolded, unfolding_histograms

__all__ = [
    "PseudoDataSettings", "FeatureSettings", "EvaluationSettings", "UnfoldingConfig", "load_unfolding_config",
    "pseudo_data_factor", "unfold", "OBSERVABLES", "SPLITS",
]

#: the unfolded observables and their axis labels
OBSERVABLES = {"pt_z": r"$p_{T,\mu\mu}$ [GeV]", "m_mumu": r"$m_{\mu\mu}$ [GeV]", "pt_j1": r"$p_{T,j_1}$ (parton) [GeV]"}
#: detector jet multiplicities of the split plots: name -> (min, max) n_jets
SPLITS = {"all": (0, 10**9), "0j": (0, 0), "1j": (1, 1), "2j": (2, 2), "3j+": (3, 10**9)}


@dataclass
class PseudoDataSettings:
    """How the pseudo-data differ from the simulation: ``f = 1 + slope * pT_Z / scale``."""

    slope: float = 0.5
    scale: float = 100.0  #: GeV
    method: str = "weights"  #: weights (event weights times f) or rejection (keep with f / max f)
    data_fraction: float = 0.5  #: share of the simulation file that becomes pseudo-data (no data file)

    def __post_init__(self):
        if self.method not in ("weights", "rejection"):
            raise ConfigError(f"pseudo_data.method must be weights or rejection; got {self.method!r}")
        if not self.scale > 0:
            raise ConfigError(f"pseudo_data.scale must be positive; got {self.scale}")
        if not 0.0 < self.data_fraction < 1.0:
            raise ConfigError(f"pseudo_data.data_fraction must lie in (0, 1); got {self.data_fraction}")


@dataclass
class FeatureSettings:
    """The truth features (:class:`nis.unfolding.features.TruthFeatures`)."""

    recoil: bool = True  #: rebuild the recoil jet's pT and azimuth from the transverse balance


@dataclass
class EvaluationSettings:
    posterior_samples: int = 10  #: cINN draws per pseudo-data event for the histograms
    calibration_events: int = 2000  #: simulation events held out of training to test calibration
    calibration_samples: int = 100  #: cINN draws per calibration event
    bins: int = 30  #: histogram bins
    seed: int = 1  #: seed of the posterior draws

    def __post_init__(self):
        for name in ("posterior_samples", "calibration_events", "calibration_samples", "bins"):
            if getattr(self, name) < 1:
                raise ConfigError(f"evaluation.{name} must be positive; got {getattr(self, name)}")


def _showered_file(key: str, value) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{key} must be the path of a showered event file (nis shower); got {value!r}")
    if not Path(value).is_file():
        raise ConfigError(
            f"{key}: no such showered event file {value!r} (relative paths are taken from the working directory"
            f" {str(Path.cwd())!r}); make it with nis shower, see examples/unfolding/README.md"
        )
    return value


@dataclass
class UnfoldingConfig:
    simulation: str  #: showered event file of the simulation
    data: str | None = None  #: showered pseudo-data file; None: split the simulation file
    output: str = "unfolding-out"  #: output directory (nis unfold --out overrides it)
    events: int = 0  #: use at most this many selected simulation-file events; 0: all
    seed: int = 1
    pseudo_data: PseudoDataSettings = field(default_factory=PseudoDataSettings)
    features: FeatureSettings = field(default_factory=FeatureSettings)
    cinn: CINNSettings = field(default_factory=CINNSettings)
    omnifold: OmniFoldSettings = field(default_factory=OmniFoldSettings)
    evaluation: EvaluationSettings = field(default_factory=EvaluationSettings)

    def __post_init__(self):
        self.simulation = _showered_file("simulation", self.simulation)
        if self.data == "":
            self.data = None
        if self.data is not None:
            self.data = _showered_file("data", self.data)
        if not isinstance(self.output, str) or not self.output:
            raise ConfigError(f"output must be a directory name; got {self.output!r}")
        if self.events < 0:
            raise ConfigError(f"events must be 0 (all) or positive; got {self.events}")


def load_unfolding_config(path: str | Path) -> UnfoldingConfig:
    """Read and check an unfolding config (see the module docstring)."""
    return load_yaml(path, UnfoldingConfig)


def pseudo_data_factor(pt_z: np.ndarray, settings: PseudoDataSettings) -> np.ndarray:
    """``f(pT_Z) = 1 + slope * pT_Z / scale``; an error if it is not positive everywhere."""
    f = 1.0 + settings.slope * np.asarray(pt_z, dtype=np.float64) / settings.scale
    if (f <= 0).any():
        raise ConfigError(
            f"pseudo_data: 1 + slope * pT_Z / scale is not positive for all events (slope {settings.slope})"
        )
    return f


def _edges(name: str, truth: np.ndarray, bins: int) -> np.ndarray:
    truth = truth[np.isfinite(truth)]
    if name == "m_mumu":
        lo, hi = np.quantile(truth, [0.005, 0.995])
    else:
        lo, hi = (0.0 if name == "pt_z" else float(np.min(truth))), float(np.quantile(truth, 0.99))
    return np.linspace(lo, hi, bins + 1)


def _rows(n_jets: np.ndarray, split: str) -> np.ndarray:
    lo, hi = SPLITS[split]
    return (n_jets >= lo) & (n_jets <= hi)


def _wmean(x: np.ndarray, w: np.ndarray) -> float:
    return float(np.sum(x * w) / np.sum(w))


class _Clock:
    def __init__(self, progress: bool):
        self.progress, self.times, self.start = progress, {}, time.perf_counter()
        self.last = self.start

    def say(self, what: str) -> None:
        if self.progress:
            print(f"[nis unfold] {what}", file=sys.stderr, flush=True)

    def done(self, name: str) -> None:
        now = time.perf_counter()
        self.times[name] = now - self.last
        self.last = now


def _split_data(cfg: UnfoldingConfig, rng: np.random.Generator) -> tuple[ShoweredEvents, ShoweredEvents, int]:
    """(simulation, pseudo-data before reweighting, selected simulation-file events used)."""
    sim = load_showered(cfg.simulation)
    if cfg.events and len(sim) > cfg.events:
        sim = sim.take(np.arange(cfg.events))
    selected = len(sim)
    if cfg.data is not None:
        data = load_showered(cfg.data)
    else:
        perm = rng.permutation(len(sim))
        k = int(round(cfg.pseudo_data.data_fraction * len(sim)))
        sim, data = sim.take(np.sort(perm[k:])), sim.take(np.sort(perm[:k]))
    if data.parton_labels != sim.parton_labels:
        raise ConfigError(f"data partons {data.parton_labels} differ from the simulation's {sim.parton_labels}")
    if data.max_jets != sim.max_jets:
        raise ConfigError(f"data has {data.max_jets} jet slots, the simulation {sim.max_jets}")
    if min(len(sim), len(data)) < 10:
        raise ConfigError(f"too few selected events to unfold: simulation {len(sim)}, data {len(data)}")
    return sim, data, selected


def _condition(d: ShoweredEvents) -> np.ndarray:
    return detector_condition(d.detector_muons, d.detector_jets, d.detector_n_jets)


def unfold(config: str | Path | UnfoldingConfig, out_dir: str | Path | None = None, progress: bool = True) -> dict:
    """Run the unfolding of ``config`` (a path or an :class:`UnfoldingConfig`), writing to
    ``out_dir`` (default: the config's ``output``); returns what ``results.json`` holds."""
    clock = _Clock(progress)
    cfg = config if isinstance(config, UnfoldingConfig) else load_unfolding_config(config)
    out = Path(out_dir if out_dir is not None else cfg.output)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(cfg.seed)
    ev = cfg.evaluation

    clock.say("reading events")
    sim, data, selected = _split_data(cfg, rng)
    read = sim.n_read
    labels = sim.parton_labels
    factor = pseudo_data_factor(truth_observables(data.parton, labels)["pt_z"], cfg.pseudo_data)
    pseudo = {"function": "1 + slope * pT_Z / scale", **asdict(cfg.pseudo_data), "mean_factor": float(np.mean(factor))}
    if cfg.pseudo_data.method == "weights":
        data_w = data.weights * factor
    else:
        keep = rng.random(len(data)) < factor / factor.max()
        pseudo["acceptance"] = float(keep.mean())
        data, data_w = data.take(keep), data.weights[keep]
    n_cal = min(ev.calibration_events, len(sim) // 5)
    perm = rng.permutation(len(sim))
    cal, train = sim.take(np.sort(perm[:n_cal])), sim.take(np.sort(perm[n_cal:]))
    clock.done("read")

    truth_map = TruthFeatures(labels, recoil=cfg.features.recoil).fit(train.parton)
    layout = detector_layout(sim.max_jets)
    x_train, c_train = truth_map.to_features(train.parton), _condition(train)
    c_cal, c_data = _condition(cal), _condition(data)
    t_sim, t_cal, t_data = (truth_observables(d.parton, labels) for d in (sim, cal, data))
    det_data = detector_observables(data.detector_muons, data.detector_jets, data.detector_n_jets)
    clock.done("features")

    clock.say(f"training the cINN on {len(train)} events ({truth_map.dims} truth features)")
    model, history = train_cinn(x_train, c_train, layout, cfg.cinn, train.weights, truth_map, progress)
    clock.done("cinn_training")
    save_cinn(model, out / "cinn.pt", {"history": history, "config": asdict(cfg)})
    clock.say(f"drawing {ev.posterior_samples} posterior samples for each of {len(data)} pseudo-data events")
    generator = torch.Generator(device=model.device).manual_seed(ev.seed)
    phi_z = lambda d: np.arctan2(*d.detector_muons.sum(axis=1)[:, [2, 1]].T)  # noqa: E731
    post = model.posterior(c_data, ev.posterior_samples, generator, azimuth=phi_z(data))
    clock.done("cinn_posterior")
    post_cal = model.posterior(c_cal, ev.calibration_samples, generator, azimuth=phi_z(cal))
    calib = {obs: calibration(post_cal.observables[obs], t_cal[obs], cal.weights) for obs in OBSERVABLES}
    plot_calibration(calib, out / "calibration.png", title=f"cINN calibration, {len(cal)} held-out simulation events")
    clock.done("calibration")

    clock.say(f"OmniFold: {cfg.omnifold.iterations} iterations on {len(sim)} simulation and {len(data)} data events")
    of = omnifold(truth_map.to_features(sim.parton), _condition(sim), c_data, detector_layout=layout,
                  sim_weights=sim.weights, data_weights=data_w, settings=cfg.omnifold, progress=progress)
    np.savez_compressed(out / "omnifold_weights.npz", weights=of.weights, push=np.array(of.push),
                        pull=np.array(of.pull))
    clock.done("omnifold")

    clock.say("histograms and plots")
    w_of = sim.weights * of.weights
    observables: dict = {}
    for obs, xlabel in OBSERVABLES.items():
        edges = _edges(obs, t_data[obs], ev.bins)
        observables[obs] = {}
        for split in SPLITS:
            rows, srows = _rows(data.detector_n_jets, split), _rows(sim.detector_n_jets, split)
            if rows.sum() < 2 or srows.sum() < 2:
                continue
            models = {"OmniFold": (t_sim[obs][srows], w_of[srows])}
            if np.isfinite(det_data[obs][rows]).any():
                models["detector level"] = (det_data[obs][rows], data_w[rows])
            models["simulation truth"] = (t_sim[obs][srows], sim.weights[srows])
            numbers = unfolding_histograms(t_data[obs][rows], edges, data_w[rows], models=models,
                                           posteriors={"cINN": (post.observables[obs][rows], data_w[rows])})
            numbers["chi2"] = {name: chi2(numbers, name) for name in numbers["models"]}
            numbers["events"] = {"data": int(rows.sum()), "simulation": int(srows.sum())}
            title = "pseudo-data truth" + ("" if split == "all" else f", {split} (detector)")
            plot_unfolded(numbers, out / f"{obs}_{split}.png", xlabel, title=title, logy=obs != "m_mumu")
            observables[obs][split] = numbers
    clock.done("plots")

    summary_chi2 = {name: {obs: observables[obs]["all"]["chi2"][name]["chi2_per_ndf"] for obs in OBSERVABLES}
                    for name in observables["pt_z"]["all"]["chi2"]}
    results = {
        "summary": {
            "chi2_per_ndf": summary_chi2,
            "calibration_max_deviation": {obs: c["max_deviation"] for obs, c in calib.items()},
            "calibration_noise": {obs: c["noise"] for obs, c in calib.items()},
            "mean_pt_z": {"simulation truth": _wmean(t_sim["pt_z"], sim.weights),
                          "pseudo-data truth": _wmean(t_data["pt_z"], data_w),
                          "OmniFold": _wmean(t_sim["pt_z"], w_of),
                          "cINN": _wmean(post.observables["pt_z"].mean(axis=1), data_w)},
        },
        "events": {"read": read, "selected": selected, "simulation": len(sim), "training": len(train),
                   "calibration": len(cal), "data": len(data)},
        "pseudo_data": pseudo,
        "truth_features": truth_map.names,
        "settings": asdict(cfg),
        "cinn": {"history": history, "calibration": calib},
        "omnifold": {"history": of.history},
        "observables": observables,
        "timings_seconds": clock.times,
        "torch_threads": torch.get_num_threads(),
    }
    results["timings_seconds"]["total"] = time.perf_counter() - clock.start
    (out / "results.json").write_text(json.dumps(results, indent=1, default=float) + "\n")
    clock.say(f"wrote {out}/results.json")
    return results
