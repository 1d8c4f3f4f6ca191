"""Run configuration: YAML files become dataclasses, checked before any work starts.

A config file names the process (or test function) and, optionally, the settings of the flow,
the training and the final integration (processes: see :mod:`nis.processes.spec`)::

    process: camel_8d
    integrand: {function: camel, dims: 8, width: 0.1}
    flow: {bins: 10, hidden: 32, layers: 2}
    training: {calls: 1000000, batch_size: 4096, loss: variance}
    integration: {calls: 100000, iterations: 10}

Every key is documented on the dataclass field it fills; an unknown key, a wrong type or a
value out of range raises :class:`ConfigError` naming the key and what is allowed.
"""

from __future__ import annotations

import dataclasses
import difflib
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

LOSSES = ("variance", "kl", "chi2", "exponential", "renyi")
FALLBACK_CRITERIA = ("both", "variance", "efficiency", "always_vegas", "never")


class ConfigError(ValueError):
    """A configuration that cannot be run; the message names the key and the fix."""


@dataclass
class FlowConfig:
    """Shape of each channel's flow (see :class:`nis.flows.Flow`)."""

    bins: int = 10  #: spline bins per dimension
    hidden: int = 32  #: width of the coupling networks' hidden layers
    layers: int = 2  #: hidden layers per coupling network
    dtype: str = "float32"  #: float32 or float64 for the flows; weights are always float64

    def __post_init__(self):
        _positive(self, "bins", "hidden", "layers")
        _choice(self, "dtype", ("float32", "float64"))


@dataclass
class TrainingConfig:
    """How the sampler is trained. ``calls`` is the whole training budget in integrand calls."""

    calls: int = 200_000  #: integrand calls for VEGAS pre-training plus flow training
    vegas_fraction: float = 0.0  #: share of ``calls`` for VEGAS grids in front of the flows; 0: flows on the cube
    vegas_iterations: int = 10  #: VEGAS adaptation iterations
    vegas_bins: int = 0  #: increments per dimension of the VEGAS map in front of each flow; 0: automatic
    fallback_bins: int = 0  #: increments per dimension of the fallback VEGAS grid; 0: automatic
    fallback_passes: int = 1  #: refinements of the fallback grid per step; above 1 each on all its points so far
    batch_size: int = 1024  #: integrand calls per online training step (all channels)
    loss: str = "variance"  #: variance, kl, chi2, exponential or renyi (:mod:`nis.integrator.losses`)
    renyi_order: float = 4.0  #: order a > 1 of the renyi loss; larger weighs the largest weights more
    learning_rate: float = 3e-3  #: Adam's initial step size (cosine decay to 1% of it)
    buffered_steps: int = 3  #: extra steps on buffered samples after each online step
    buffer_capacity: int = 20  #: buffer size, in online batches
    grad_clip: float = 10.0  #: maximal gradient norm
    train_alpha: bool = True  #: learn alpha_c(x) on top of the prior (multi-channel only)
    alpha_hidden: int = 32  #: width of the channel-weight network
    drop_threshold: float = 1e-5  #: drop a channel whose share of the integral stays below this
    min_channel_fraction: float = 0.1  #: floor of a channel's share of a batch, relative to 1/C
    log_every: int = 25  #: steps between progress updates, NaN checks and snapshots

    def __post_init__(self):
        _non_negative(self, "calls", "buffered_steps", "drop_threshold", "min_channel_fraction")
        _positive(self, "vegas_iterations", "batch_size", "learning_rate", "fallback_passes")
        _positive(self, "buffer_capacity", "grad_clip", "alpha_hidden", "log_every")
        _choice(self, "loss", LOSSES)
        if not self.renyi_order > 1.0:
            raise ConfigError(f"training.renyi_order must be above 1; got {self.renyi_order}")
        if not 0.0 <= self.vegas_fraction <= 1.0:
            raise ConfigError(f"training.vegas_fraction must lie in [0, 1]; got {self.vegas_fraction}")
        for name in ("vegas_bins", "fallback_bins"):
            if getattr(self, name) == 1 or getattr(self, name) < 0:
                raise ConfigError(f"training.{name} must be 0 (automatic) or at least 2; got {getattr(self, name)}")

    def refine_points(self, n_channels: int) -> int:
        """Points per channel between two refinements of a fallback grid: one VEGAS iteration's
        worth of the whole budget, so each refinement is as well measured as one of VEGAS' own."""
        return max(2, self.calls // (self.vegas_iterations * n_channels))

    def fallback_memory(self, n_channels: int) -> int:
        """Points a fallback grid keeps to refine on with ``fallback_passes`` > 1: the channel's share
        of the whole budget, at most 10^6 points over all channels, at least one refinement's
        worth; none with a single pass, which refines on the points since the last step only."""
        if self.fallback_passes == 1:
            return 0
        return max(self.refine_points(n_channels), min(self.calls, 1_000_000) // n_channels)

    def grid_increments(self, n_channels: int) -> int:
        """``vegas_bins``, or with 0 about 50 points per increment and axis in each channel and
        VEGAS iteration of the whole budget, between 16 and 128. Finer grids follow the noise of
        the few points a channel gets: e+e- -> 3 jets, g g -> g g at 1e5 calls (3 channels) and
        e+e- -> 4 jets (9 channels) unweight 1.2 to 1.4 times better with 16 to 48 increments than
        with 128 (benchmarks/results, nis bench)."""
        if self.vegas_bins:
            return self.vegas_bins
        return min(128, max(16, self.calls // (self.vegas_iterations * n_channels * 50)))

    def fallback_increments(self, n_channels: int, refined: bool = True) -> int:
        """``fallback_bins``, or with 0: the rule of :meth:`grid_increments` for a grid that keeps
        adapting on the flow's points (``refined``); for VEGAS alone (``always_vegas``), whose grid
        is vegas' own adaptation on the whole budget, vegas' resolution: a tenth of the points per
        iteration, between that and 1000 (coarser loses what vegas found: e+e- -> 3 jets unweights
        0.13 with it, 0.10 with 66 increments)."""
        if self.fallback_bins:
            return self.fallback_bins
        if refined:
            return self.grid_increments(n_channels)
        return min(1000, max(self.grid_increments(n_channels), self.refine_points(n_channels) // 10))


@dataclass
class IntegrationConfig:
    """Validation (flow against VEGAS) and the final integration with the winner."""

    calls: int = 100_000  #: integrand calls of the final integration
    iterations: int = 10  #: equal parts of ``calls``, combined with a chi2/dof check
    validation_calls: int = 50_000  #: fresh calls per sampler to choose flow or VEGAS
    fallback: str = "both"  #: flow kept if it wins on: both, variance, efficiency; or always_vegas, never
    wmax_chunks: int = 50  #: w_max = median of the maxima of this many chunks
    overweight_eps: float = 1e-3  #: overweight fraction of the quantile-truncated w_max
    #: efficiency the flow-against-VEGAS choice compares: median (w_max = median of chunk maxima)
    #: or quantile (w_max truncated at overweight_eps, like Sherpa's reduced maximum)
    efficiency: str = "median"

    def __post_init__(self):
        _positive(self, "calls", "iterations", "validation_calls", "wmax_chunks")
        _choice(self, "fallback", FALLBACK_CRITERIA)
        _choice(self, "efficiency", ("median", "quantile"))
        if not 0.0 < self.overweight_eps < 1.0:
            raise ConfigError(f"integration.overweight_eps must lie in (0, 1); got {self.overweight_eps}")
        if self.calls < self.iterations:
            raise ConfigError(
                f"integration.calls ({self.calls}) must be at least integration.iterations ({self.iterations})"
            )

    @property
    def efficiency_field(self) -> str:
        """The :class:`~nis.events.unweighting.UnweightingStats` field ``efficiency`` names."""
        return "efficiency_quantile" if self.efficiency == "quantile" else "efficiency"


@dataclass
class RunConfig:
    """A whole run: what to integrate and how."""

    process: str  #: the name reported in results
    integrand: dict  #: ``{function: NAME, ...}`` (test function) or ``{matrix_element: "...", ...}`` (process)
    flow: FlowConfig = field(default_factory=FlowConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    integration: IntegrationConfig = field(default_factory=IntegrationConfig)
    seed: int = 1
    device: str = "cpu"

    def __post_init__(self):
        if not isinstance(self.integrand, dict) or not ({"function", "matrix_element"} & set(self.integrand)):
            raise ConfigError(
                "integrand must be a mapping with a 'function' key (test function, e.g. {function: camel, dims: 8})"
                " or a 'matrix_element' key (process, e.g. {matrix_element: 'e+ e- -> mu+ mu-', sqrt_s: 91.188})"
            )
        if "matrix_element" in self.integrand:
            from nis.integrands import process_config

            process_config(self.integrand)  # every key checked before any work starts

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def _fail(obj, name, msg):
    section = _SECTION.get(type(obj), type(obj).__name__)
    raise ConfigError(f"{section}.{name} {msg}")


def _positive(obj, *names):
    for n in names:
        if getattr(obj, n) <= 0:
            _fail(obj, n, f"must be positive; got {getattr(obj, n)}")


def _non_negative(obj, *names):
    for n in names:
        if getattr(obj, n) < 0:
            _fail(obj, n, f"must not be negative; got {getattr(obj, n)}")


def _choice(obj, name, allowed):
    if getattr(obj, name) not in allowed:
        _fail(obj, name, f"must be one of {', '.join(allowed)}; got {getattr(obj, name)!r}")


_SECTION = {FlowConfig: "flow", TrainingConfig: "training", IntegrationConfig: "integration", RunConfig: "config"}


_TYPE_NAMES = {int: "a whole number", float: "a number", str: "a string", bool: "true or false", dict: "a mapping"}


def _coerce(value, typ, where):
    """Check a YAML scalar against a field type (int accepts 1e6-style floats that are whole)."""
    if typ is int and isinstance(value, float) and value.is_integer():
        return int(value)
    if typ is int and isinstance(value, str):
        try:
            f = float(value)
        except ValueError:
            f = None
        if f is not None and f.is_integer():
            return int(f)
    if typ is float and isinstance(value, (int, str)) and not isinstance(value, bool):
        try:
            return float(value)
        except ValueError:
            pass
    if typ in (int, float, str, bool, dict) and not (
        isinstance(value, typ) and not (typ is int and isinstance(value, bool))
    ):
        raise ConfigError(f"{where} must be {_TYPE_NAMES[typ]}; got {value!r}")
    return value


def from_dict(cls, data: dict, where: str = "config"):
    """Build dataclass ``cls`` from ``data``, rejecting unknown keys and wrong types."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must be a mapping; got {data!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in data.items():
        if key not in names:
            close = difflib.get_close_matches(str(key), names, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ConfigError(f"unknown key '{key}' in {where}{hint} (known keys: {', '.join(names)})")
        typ = hints[key]
        if dataclasses.is_dataclass(typ):
            kwargs[key] = from_dict(typ, value, key)
        else:
            kwargs[key] = _coerce(value, typ, f"{where}.{key}" if where != "config" else key)
    missing = [
        f.name
        for f in dataclasses.fields(cls)
        if f.name not in kwargs
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ConfigError(f"{where} is missing required key(s): {', '.join(missing)}")
    return cls(**kwargs)


def load_yaml(path: str | Path, cls):
    """Read the YAML file ``path`` into the checked dataclass ``cls`` (:func:`from_dict`)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    return from_dict(cls, data, "config")


def load_config(path: str | Path) -> RunConfig:
    """Read and check a YAML run configuration."""
    return load_yaml(path, RunConfig)
