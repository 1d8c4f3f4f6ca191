"""The Python half of nis' in-process Sherpa integrator (the C++ half: ``cpp/sherpa/nis_plugin.cpp``).

A Sherpa run card selects it with ``INTEGRATOR: NIS``; Sherpa then samples its final-state phase
space through one channel, ``NIS``, that holds Sherpa's own channels (Comix' or Amegic's) as
mappings ``u -> p_c(u)`` of the unit cube and as the prior channel weights. The plugin starts an
embedded interpreter and drives a :class:`Session`:

1. **Sherpa's optimisation** runs as without nis: its channels adapt as usual.
2. **Training**, when Sherpa's optimisation ends (its channels are now fixed): the nis
   :class:`~nis.integrator.Integrator` trains its flow (and its VEGAS fallback grid) with
   Sherpa's own weight as the integrand, for channel ``c`` at cube point ``u``
   ``F_c(u) = dsigma(p_c(u)) * W_c(p_c(u))`` (matrix element, PDFs, flux, cuts and the ISR
   mappings' weight, all as Sherpa computes them; ``W_c`` the channel's phase-space weight) and
   ``alpha^prior_c(p) = a_c W(p) / W_c(p)`` (``a_c`` Sherpa's channel weights, ``W`` their
   multi-channel weight). The C++ half evaluates batches of points through Sherpa's
   ``Phase_Space_Handler::Differential``; these calls do not enter Sherpa's cross section.
   The flow starts as the identity on top of Sherpa's adapted channels (no VEGAS pre-training).
3. **The choice**, on fresh points: flow against nis' VEGAS grid as in ``nis integrate``, then
   the winner against Sherpa's own channels alone (uniform ``u``); nis keeps whichever wins on
   ``FALLBACK`` (variance and unweighting efficiency by default; the efficiency with ``w_max``
   truncated at 0.1% overweights, as Sherpa reduces its maximum).
4. **Sampling**: Sherpa's integration and event generation draw every point from the chosen
   sampler, :meth:`Session.sample` in batches; the channel weight Sherpa sees is
   ``alpha^prior_c(p) W_c(p) / (share_c q_c(u))``, so Sherpa's cross section, its error, its
   maximal weight and its unweighted events all come from nis' points.
5. **State**: the trained sampler goes to ``<RESULT_DIRECTORY>.nis/<process>.pt`` beside Sherpa's
   ``Results``; a second run that reads Sherpa's results reads it too instead of training. A
   JSON report beside it holds the choice, its reason, the validation figures and Sherpa's
   weights of nis' points (``sherpa``: points, mean and maximal weight, their ratio).

Run-card block ``NIS:`` (all optional, scalar values)::

    NIS:
      CALLS: 100000           # training budget in Sherpa weight evaluations
      VALIDATION_CALLS: 20000 # points per sampler for the choice
      FALLBACK: both          # keep the flow only if it wins on: both, variance, efficiency;
                              # or always_vegas, never
      ON_ERROR: stop          # a Python error stops Sherpa (stop) or hands back to Sherpa's
                              # native integrator with a warning (native)
      DEVICE: cpu             # or cuda
      THREADS: 1              # torch's CPU threads (Sherpa runs a process per core; more threads
                              # than free cores make torch's thread pool wait on itself)
      SEED: 1

plus any :class:`~nis.config.TrainingConfig` field in capitals (``BATCH_SIZE``, ``LOSS``,
``VEGAS_FRACTION``, ...), ``EFFICIENCY``, ``FLOW_BINS``, ``FLOW_HIDDEN``, ``FLOW_LAYERS`` and
``FLOW_DTYPE``. The plugin's defaults (``PLUGIN_DEFAULTS``) differ from ``nis integrate``'s:
``LOSS: exponential``, the divergence ``int p (log p - log q)^2``, which penalises the spread of
the log-weights and so the maximal weight that unweighting divides by (e+e- -> 3 jets on top of
Comix: relative error per point 0.51 and quantile efficiency 0.37 against Sherpa's 0.99 and 0.24,
where the variance loss gave 0.96 and 0.25); ``EFFICIENCY: quantile``. ``alpha`` is Sherpa's prior: learned channel weights (``TRAIN_ALPHA``) are not
available, as Sherpa asks for each point's weight on its own.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
import typing
from pathlib import Path

import numpy as np
import torch

from nis.config import ConfigError, FlowConfig, IntegrationConfig, TrainingConfig
from nis.integrator.integrand import Integrand, IntegrandBatch
from nis.integrator.integrator import Integrator

#: run-card keys handled by the C++ half (accepted here, not used)
CPP_KEYS = ("ON_ERROR",)
#: nis' defaults for the plugin where they differ from the standalone command's
PLUGIN_DEFAULTS = {
    "calls": 100_000,
    "validation_calls": 20_000,
    "batch_size": 2_000,
    "train_alpha": False,
    "loss": "exponential",  # e+e- -> 3 jets: the only loss whose flow beat Sherpa's efficiency
    "efficiency": "quantile",  # Sherpa unweights against its maximum reduced to 0.1% overweights
}


def parse_settings(raw: typing.Mapping[str, str]) -> tuple[FlowConfig, TrainingConfig, IntegrationConfig, dict]:
    """The run card's ``NIS:`` block (values as strings) as nis configs plus ``{seed, device, threads}``.

    Raises :class:`ConfigError` naming an unknown key or a value of the wrong type."""
    sections: dict[str, tuple[type, str]] = {}  # CALLS: training's (Sherpa does the integration)
    for cls, prefix in ((TrainingConfig, ""), (IntegrationConfig, ""), (FlowConfig, "FLOW_")):
        for f in dataclasses.fields(cls):
            sections.setdefault(prefix + f.name.upper(), (cls, f.name))
    values: dict[type, dict] = {TrainingConfig: {}, IntegrationConfig: {}, FlowConfig: {}}
    for name, value in PLUGIN_DEFAULTS.items():
        values[sections[name.upper()][0]][name] = value
    extra = {"seed": 1, "device": "cpu", "threads": 1}
    for key, text in raw.items():
        key = key.upper()
        if key in CPP_KEYS:
            continue
        if key in ("SEED", "DEVICE", "THREADS"):
            extra[key.lower()] = _convert(key, text, str if key == "DEVICE" else int)
            if key == "THREADS" and extra["threads"] < 1:
                raise ConfigError(f"NIS:THREADS must be at least 1; got {text!r}")
            continue
        if key not in sections:
            allowed = ", ".join(sorted(list(sections) + ["SEED", "DEVICE", "THREADS", *CPP_KEYS]))
            raise ConfigError(f"unknown setting NIS:{key} in the run card; allowed: {allowed}")
        cls, name = sections[key]
        kind = {f.name: f.type for f in dataclasses.fields(cls)}[name]
        values[cls][name] = _convert(key, text, kind)
    if values[TrainingConfig]["train_alpha"]:
        raise ConfigError(
            "NIS:TRAIN_ALPHA cannot be used in the Sherpa plugin: Sherpa asks for each point's weight"
            " on its own, with Sherpa's prior channel weights"
        )
    return (
        FlowConfig(**values[FlowConfig]),
        TrainingConfig(**values[TrainingConfig]),
        IntegrationConfig(**values[IntegrationConfig]),
        extra,
    )


def _convert(key: str, text: str, kind) -> object:
    kind = {"int": int, "float": float, "str": str, "bool": bool}.get(kind, kind)
    try:
        if kind is bool:
            if str(text).lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(text)
            return str(text).lower() in ("true", "1", "yes")
        return int(float(text)) if kind is int else kind(text)
    except ValueError:
        raise ConfigError(f"NIS:{key} must be of type {kind.__name__}; got {text!r}") from None


class SherpaIntegrand(Integrand):
    """Sherpa's weight per channel, evaluated by the C++ half in batches.

    evaluate_batch(channel, u) -> (value (n,), prior (n, C), features (n, k)) as numpy arrays.
    """

    def __init__(self, name: str, dims: int, n_channels: int, feature_dims: int, evaluate_batch=None):
        self.name, self.dims, self.n_channels, self._feature_dims = name, dims, n_channels, feature_dims
        self.evaluate_batch = evaluate_batch

    @property
    def feature_dims(self) -> int:
        return self._feature_dims

    def evaluate(self, u: torch.Tensor, channel: int) -> IntegrandBatch:
        if self.evaluate_batch is None:
            raise RuntimeError("Sherpa's weights can be evaluated only while the plugin trains")
        value, prior, features = self.evaluate_batch(int(channel), np.ascontiguousarray(u.cpu().numpy()))
        as_tensor = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float64), device=u.device)  # noqa: E731
        prior = as_tensor(prior) if self.n_channels > 1 else None
        return IntegrandBatch(as_tensor(value), as_tensor(features), prior)


class Session:
    """One Sherpa process' sampler: train (or read back), then hand out points.

    process: Sherpa's process name; dims: cube dimension (the largest of Sherpa's channels');
    n_channels: Sherpa's channels; feature_dims: width of the momentum features;
    settings: the run card's ``NIS:`` block as strings; state_dir: where state and report go.
    """

    def __init__(
        self, process: str, dims: int, n_channels: int, feature_dims: int, settings: typing.Mapping, state_dir: str
    ):
        self.flow, self.training, self.integration, extra = parse_settings(dict(settings))
        self.seed, self.device = extra["seed"], extra["device"]
        torch.set_num_threads(extra["threads"])
        self.process = process
        self.integrand = SherpaIntegrand(process, dims, n_channels, feature_dims)
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in process)
        self.state_path = Path(state_dir) / f"{safe}.pt"
        self.report_path = Path(state_dir) / f"{safe}.json"
        self.integ: Integrator | None = None
        self.method = "untrained"
        self.reason: str | None = None
        self.report: dict = {}

    def _signature(self) -> dict:
        """What a saved state must have been made with to be reused: the process and the run card's
        nis settings (a changed ``NIS:`` block is another set-up)."""
        return {"process": self.process, "dims": self.integrand.dims, "n_channels": self.integrand.n_channels,
                "configs": {"flow": dataclasses.asdict(self.flow), "training": dataclasses.asdict(self.training),
                            "integration": dataclasses.asdict(self.integration)}}

    def load(self) -> bool:
        """Read the state a previous run saved; False when there is none, it is for another set-up,
        or this nis cannot read it (written by a version with other grid sizes, say)."""
        if not self.state_path.exists():
            return False
        state = torch.load(self.state_path, map_location="cpu", weights_only=False)
        plugin = state.get("plugin", {}) if isinstance(state, dict) else {}
        if plugin.get("signature") != self._signature():
            return False
        try:
            self.integ = Integrator.from_state(state, self.integrand, self.device)
        except (RuntimeError, KeyError, TypeError, ValueError):  # load_state_dict's size mismatches, old formats
            return False
        self.method, self.reason = plugin["method"], plugin["fallback_reason"]
        if self.report_path.exists():
            self.report = json.loads(self.report_path.read_text())
        self.report["read_from"] = str(self.state_path)
        self.write_report()
        return True

    def train(self, evaluate_batch) -> str:
        """Train with Sherpa's weights (``evaluate_batch``), choose flow or VEGAS, save; returns a
        one-line summary for Sherpa's log."""
        start = time.perf_counter()
        self.integrand.evaluate_batch = evaluate_batch
        try:
            integ = Integrator(self.integrand, self.flow, self.training, self.integration, self.seed, self.device)
            method, reason, comparison = integ.prepare()
            method, reason, native = self._against_native(integ, method, reason, comparison)
        finally:
            self.integrand.evaluate_batch = None
        self.integ, self.method, self.reason = integ, method, reason
        self.report = {
            "process": self.process,
            "method": method,
            "fallback_reason": reason,
            "training_calls": integ.n_calls,
            "training_seconds": time.perf_counter() - start,
            "device": str(integ.device),
            "seed": self.seed,
            "n_channels": self.integrand.n_channels,
            "dims": self.integrand.dims,
        }
        if comparison is not None:
            self.report["validation"] = comparison.as_dict()
        self.report.setdefault("validation", {})["native"] = {**native[0].as_dict(), "relative_error": native[1]}
        self.save()
        return self.summary()

    def _against_native(self, integ: Integrator, method: str, reason: str | None, comparison) -> tuple:
        """Flow and VEGAS against Sherpa's own (adapted) channels alone, i.e. uniform cube points:
        a VEGAS sampler with identity grids, which nis keeps when neither beats them. The flow is
        kept if it beats Sherpa's channels and either beats VEGAS (``validate``) or VEGAS does not
        beat Sherpa's channels; then VEGAS if it beats them. ``never`` and ``always_vegas`` keep
        ``validate``'s choice. Returns ``(method, reason, (stats, relative error))`` of native."""
        n = self.integration.validation_calls
        if comparison is not None:
            candidates = {
                "nis": ("the flow", (comparison.nis, comparison.nis_relative_error)),
                "vegas": ("VEGAS", (comparison.vegas, comparison.vegas_relative_error)),
            }
        else:  # training stopped, or VEGAS forced
            candidates = {"vegas": ("VEGAS", integ.figures(False, n)[:2])}
        grids = [fb.grid.clone() for fb in integ.model.fallback]
        for fb in integ.model.fallback:
            fb.set_grid(torch.linspace(0.0, 1.0, 2, dtype=torch.float64).expand(integ.integrand.dims, 2))
        native = integ.figures(False, n)[:2]
        why = {key: integ.not_better(name, "Sherpa's own channels'", figures, native)
               for key, (name, figures) in candidates.items()}
        forced = self.integration.fallback in ("never", "always_vegas")
        if forced or ("nis" in why and why["nis"] is None and (method == "nis" or why["vegas"] is not None)):
            chosen = method if forced else "nis"
        elif why["vegas"] is None:
            chosen = "vegas"
        else:
            chosen = "native"
        if chosen != "native":
            for fb, grid in zip(integ.model.fallback, grids):
                fb.grid.copy_(grid)
        if chosen == "nis":
            return "nis", None, native
        reasons = [reason] if reason else []
        if chosen == "vegas" and not reasons:
            reasons.append(why.get("nis") or "the flow does not beat Sherpa's own channels")
        if chosen == "native":
            reasons += [r for r in why.values() if r and r not in reasons]
        return chosen, "; ".join(reasons), native

    def summary(self) -> str:
        """What Sherpa's log shows: the sampler used and the validation's efficiencies."""
        names = {"nis": "the flow", "vegas": "VEGAS", "native": "Sherpa's own channels (nis found nothing better)"}
        text = f"nis: {self.process}: sampling with {names.get(self.method, self.method)}"
        if self.reason:
            text += f" ({self.reason})"
        val = self.report.get("validation", {})
        kind = self.integration.efficiency_field
        effs = [f"{name} {val[key][kind]:.4g}" for key, name in (("nis", "flow"), ("vegas", "VEGAS"), ("native", "Sherpa"))
                if key in val]
        if effs:
            text += "; validation unweighting efficiency " + ", ".join(effs)
        return text

    def save(self) -> None:
        """State (atomically) and report beside Sherpa's results."""
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        plugin = {"signature": self._signature(), "method": self.method, "fallback_reason": self.reason}
        self.integ.save(self.state_path, plugin=plugin)
        self.write_report()

    def write_report(self, sherpa: typing.Mapping | None = None) -> None:
        """The JSON report; ``sherpa``: what the C++ half measured on the points Sherpa used."""
        if sherpa:
            stats = dict(sherpa)
            n, mean, w_max = stats.get("points", 0), stats.get("mean_weight", 0.0), stats.get("max_weight", 0.0)
            stats["unweighting_efficiency"] = mean / w_max if n and w_max > 0 else None
            self.report["sherpa"] = stats
        self.report["method"] = self.method
        self.report["fallback_reason"] = self.reason
        self.report_path.parent.mkdir(parents=True, exist_ok=True)
        self.report_path.write_text(json.dumps(self.report, indent=2) + "\n")

    def sample(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``n`` points of the chosen sampler in random order: channel (n,), cube point (n, dims),
        ``log(share_c q_c(u))`` (n,): the log-probability density of drawing ``(c, u)``."""
        integ = self.integ
        use_flow = self.method == "nis"
        channels, points, logs = [], [], []
        for c, k in enumerate(integ.model.counts(n)):
            if k == 0:
                continue
            d = integ.model.draw(c, k, integ.generator, use_flow)
            channels.append(torch.full((k,), c, dtype=torch.int64))
            points.append(d.u.cpu())
            logs.append(d.log_q.cpu() + math.log(k / n))
        order = torch.randperm(n, generator=integ.generator, device=integ.device).cpu()
        return tuple(torch.cat(t)[order].numpy() for t in (channels, points, logs))

