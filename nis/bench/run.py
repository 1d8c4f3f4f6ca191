"""Running a suite: every case, seed and method at the same budget, one row per run.

Every method gets ``train_calls`` integrand (matrix-element) calls before its evaluation and then
draws ``eval_calls`` fresh points (native Sherpa: its integration stopped at the budget, or with
``sherpa-own`` at its own stopping rule, then as many weighted points); the evaluation weights of all methods go through
:func:`nis.events.unweighting_stats`, so w_max is the same estimator everywhere: the median of the
maxima of 50 chunks. From the evaluation a row also gives the cost of 10^5 unweighted events,
training included: ``calls = train_calls + 1e5 / efficiency`` and ``seconds = train_seconds +
(1e5 / efficiency) * (eval_seconds / eval_calls)``.

Rows are written after each run, so an interrupted suite keeps what it measured and
``resume=True`` skips the runs already in the file (same case, method, seed, budget, device).
"""

from __future__ import annotations

import gc
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from nis.bench.peers import PeerResult, run_madnis
from nis.bench.report import machine, write_results
from nis.bench.suites import METHOD_CHANGES, SHERPA_METHODS, Case, Suite
from nis.config import FlowConfig, IntegrationConfig, RunConfig, TrainingConfig, from_dict

__all__ = ["BenchSettings", "case_integrand", "nis_integrator", "run_suite", "run_method"]

EVENTS = 100_000  # unweighted events the cost columns are quoted for
TIMING_KEYS = ("train_seconds", "eval_seconds", "seconds_to_events", "time_split")  # differ between identical runs


@dataclass
class BenchSettings:
    seeds: int = 3
    train_calls: int | None = None  # None: the suite's (and case's) budget
    eval_calls: int | None = None
    methods: tuple[str, ...] | None = None  # None: every method that applies
    cases: tuple[str, ...] | None = None  # None: every case
    device: str = "cpu"
    workdir: Path = Path("/tmp/nis-bench")
    resume: bool = False
    redo: bool = False  # with resume: the chosen cases and methods run again, replacing their rows


def nis_integrator(integrand, flow: FlowConfig, training: TrainingConfig, method: str, calls: int, eval_calls: int,
                   seed: int, device: str):
    """The :class:`~nis.integrator.Integrator` of a nis-based method (``nis``, ``nis-fixed-alpha``,
    ``vegas``) at a same-budget comparison's budget: ``calls`` integrand calls for training and the
    validation's two samples of ``max(2000, calls / 20)`` each (``vegas``: all for VEGAS),
    ``eval_calls`` for the integration; ``training``'s other fields as given."""
    from nis.integrator import Integrator

    validation = max(2_000, calls // 20)
    if method == "vegas":
        training = TrainingConfig(**{**training.__dict__, "calls": calls})
        integration = IntegrationConfig(calls=eval_calls, fallback="always_vegas")
    else:
        training = TrainingConfig(**{**training.__dict__, "calls": calls - 2 * validation,
                                     "train_alpha": method != "nis-fixed-alpha" and training.train_alpha})
        integration = IntegrationConfig(calls=eval_calls, validation_calls=validation)
    return Integrator(integrand, flow, training, integration, seed=seed, device=device)


def _nis_run(config: RunConfig, integrand, method: str, calls: int, eval_calls: int, seed: int, device: str,
             clocks: dict | None = None) -> PeerResult:
    """nis (flows + alpha_i(x)), nis with fixed prior channel weights, or VEGAS alone through the same
    integrator; the whole training budget ``calls`` includes the flow-against-VEGAS validation."""
    start = time.perf_counter()
    integ = nis_integrator(integrand, config.flow, config.training, method, calls, eval_calls, seed, device)
    chosen, reason, _ = integ.prepare()
    train_calls, train_seconds = integ.n_calls, time.perf_counter() - start
    split = {"train": _split(clocks, train_seconds)} if clocks else {}
    for clock in (clocks or {}).values():
        clock.seconds = 0.0
    start = time.perf_counter()
    estimate, stats = integ.integrate(chosen)
    if integ.device.type == "cuda":
        torch.cuda.synchronize(integ.device)
    eval_seconds = time.perf_counter() - start
    if clocks:
        split["eval"] = _split(clocks, eval_seconds)
    return PeerResult(
        peer=method, integral=estimate.integral, error=estimate.error, rel_std_per_point=stats.relative_std,
        unweighting_efficiency=stats.efficiency, overweight_fraction=stats.overweight_fraction,
        train_calls=train_calls, eval_calls=integ.n_calls - train_calls, train_seconds=train_seconds,
        eval_seconds=eval_seconds, weights=None,
        extra={"used": chosen if method != "vegas" else "vegas", "fallback_reason": reason if method != "vegas" else None,
               "time_split": split},
    )


class _Clock:
    """Wraps a callable and adds up the seconds spent in it (synchronised on CUDA)."""

    def __init__(self, fn, device: str):
        self.fn, self.seconds = fn, 0.0
        self.cuda = torch.device(device).type == "cuda"

    def __call__(self, *args, **kwargs):
        if self.cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        out = self.fn(*args, **kwargs)
        if self.cuda:
            torch.cuda.synchronize()
        self.seconds += time.perf_counter() - start
        return out


#: the integrand's own method that computes matrix elements (with PDFs for p p), timed apart
ME_METHODS = ("matrix_elements", "_cross_section")


def _timed(integrand, device: str) -> dict[str, _Clock]:
    """Clocks on the integrand's ``evaluate`` and its matrix-element method (instance attributes
    that shadow the methods; :func:`_untimed` removes them)."""
    clocks = {"integrand": _Clock(integrand.evaluate, device)}
    integrand.evaluate = clocks["integrand"]
    for name in ME_METHODS:
        if hasattr(type(integrand), name):
            clocks["matrix_elements"] = _Clock(getattr(integrand, name), device)
            setattr(integrand, name, clocks["matrix_elements"])
    return clocks


def _untimed(integrand) -> None:
    for name in ("evaluate",) + ME_METHODS:
        integrand.__dict__.pop(name, None)


def _split(clocks: dict, total: float) -> dict:
    """Seconds in matrix elements, in the rest of the integrand (phase space, cuts, channel
    densities) and outside the integrand (sampling, flows, VEGAS, training)."""
    me = clocks["matrix_elements"].seconds if "matrix_elements" in clocks else 0.0
    integrand = clocks["integrand"].seconds
    return {"matrix_elements": me, "phase_space": integrand - me, "sampler_and_training": total - integrand}


def run_method(method: str, case: Case, config: RunConfig, integrand, calls: int, eval_calls: int, seed: int,
               device: str, workdir: Path) -> PeerResult:
    """One method on one case and seed; for all but Sherpa, ``extra["time_split"]`` says where the
    training and the evaluation spent their time."""
    if method in ("vegas", "nis", "nis-fixed-alpha", "nis-madspace", "madnis"):
        clocks = _timed(integrand, device)
        try:
            if method == "madnis":
                r = run_madnis(integrand, integrand.dims, calls, eval_calls, seed, device=device)
            else:
                r = _nis_run(config, integrand, method, calls, eval_calls, seed, device, clocks)
        finally:
            _untimed(integrand)
        if "train" not in r.extra.get("time_split", {}):  # madnis: the whole run in one
            r.extra["time_split"] = {"all": _split(clocks, r.train_seconds + r.eval_seconds)}
        return r
    if method == "madspace":
        from nis.bench.madspace_peer import run_madspace

        return run_madspace(integrand, calls, eval_calls, seed)
    if method in SHERPA_METHODS:
        from nis.bench.sherpa_native import native_card, run_native_sherpa

        card = native_card(case.run_config(), case.sherpa_card)
        if method == "sherpa":  # stop at the budget; iterations (n_min points that pass the cuts) to fit it
            card["PSI"] = {**card.get("PSI", {}), "NRAWMAX": int(calls), "ITMIN": min(5000, max(200, int(calls) // 30))}
        return run_native_sherpa(card, workdir / f"{case.name}-{method}-seed{seed}", eval_calls, seed)
    raise ValueError(f"unknown benchmark method {method!r}")


def _row(suite: Suite, case: Case, method: str, seed: int, calls: int, eval_calls: int, device: str, r: PeerResult) -> dict:
    eff = r.unweighting_efficiency
    needed = EVENTS / eff if eff > 0 else math.inf
    per_point = r.eval_seconds / r.eval_calls if r.eval_calls else math.nan
    return {
        "suite": suite.name, "case": case.name, "jets": case.jets, "method": method, "seed": seed, "device": device,
        "train_budget": calls, "eval_budget": eval_calls,
        "cross_section_pb": r.integral, "error_pb": r.error,
        "rel_error": r.error / abs(r.integral) if r.integral else math.nan,
        "rel_std": r.rel_std_per_point, "efficiency": eff, "overweight_fraction": r.overweight_fraction,
        "train_calls": r.train_calls, "eval_calls": r.eval_calls,
        "train_seconds": r.train_seconds, "eval_seconds": r.eval_seconds,
        "calls_to_events": r.train_calls + needed, "seconds_to_events": r.train_seconds + needed * per_point,
        "used": r.extra.get("used", method), "fallback_reason": r.extra.get("fallback_reason"),
        "time_split": r.extra.get("time_split") or {k: v for k, v in r.extra.items() if k.endswith("_seconds")} or None,
        "extra": {k: v for k, v in r.extra.items()
                  if k not in ("used", "fallback_reason", "time_split") and not k.endswith("_seconds")},
    }


def _key(row: dict) -> tuple:
    return row["case"], row["method"], row["seed"], row["train_budget"], row["eval_budget"], row["device"]


def run_suite(suite: Suite, settings: BenchSettings, out: Path, stem: str, progress: bool = True) -> dict:
    """Run ``suite``; results (JSON, markdown, PNG) go to ``out/<stem>.*`` after every run."""
    from tqdm import tqdm

    out = Path(out)
    json_path = out / f"{stem}.json"
    rows: list[dict] = []
    command = settings_command(suite, settings)
    earlier = {"meta": {}}
    if settings.resume and json_path.exists():
        earlier = json.loads(json_path.read_text())
        rows = [{"command": earlier["meta"]["command"], **r} for r in earlier["rows"]]
    cases = [c for c in suite.cases if settings.cases is None or c.name in settings.cases]
    if settings.cases is not None:
        unknown = set(settings.cases) - {c.name for c in suite.cases}
        if unknown:
            raise KeyError(f"suite {suite.name!r} has no case {sorted(unknown)}; its cases: {[c.name for c in suite.cases]}")
    skipped = {c.name: dict(c.why_not) for c in cases if c.why_not}
    jobs = []
    for case in cases:
        methods = [m for m in case.methods if settings.methods is None or m in settings.methods]
        for method in list(methods):
            why = unavailable(method)
            if why:
                methods.remove(method)
                skipped.setdefault(case.name, {})[method] = why
        for seed in range(settings.seeds):
            jobs += [(case, seed, m) for m in methods]
    retried = {(case.name, method, seed) for case, seed, method in jobs}
    if settings.redo:  # after a change to nis: these runs again, the other cases' and methods' rows kept
        again = {(case.name, method) for case, _, method in jobs}
        rows = [r for r in rows if (r["case"], r["method"]) not in again]
    done = {_key(r) for r in rows}
    meta = {
        "suite": suite.name, "description": suite.description, "command": command,
        "seeds": settings.seeds, "device": settings.device, **machine(settings.device),
        "skipped": {**earlier["meta"].get("skipped", {}), **skipped},  # earlier runs of other cases keep theirs
        "failed": [f for f in earlier["meta"].get("failed", []) if (f["case"], f["method"], f["seed"]) not in retried],
    }
    integrands: dict[tuple, tuple] = {}
    bar = tqdm(jobs, desc=f"nis bench {suite.name}", unit="run", disable=not progress)
    for case, seed, method in bar:
        calls = settings.train_calls or case.train_calls or suite.train_calls
        eval_calls = settings.eval_calls or suite.eval_calls
        if (case.name, method, seed, calls, eval_calls, settings.device) in done:
            continue
        bar.set_postfix_str(f"{case.name} {method} seed {seed}")
        key = (case.name, method in METHOD_CHANGES)
        if method not in SHERPA_METHODS and key not in integrands:
            if any(k[0] != case.name for k in integrands):
                # one process's matrix elements at a time: Sherpa's can be large, and Sherpa takes a
                # second run card only once every matrix element of the first is gone
                integrands.clear()
                gc.collect()
            integrands[key] = case_integrand(suite, case, method)
        try:
            r = run_method(method, case, *integrands.get(key, (None, None)), calls, eval_calls, seed, settings.device,
                           Path(settings.workdir))
        except Exception as exc:  # noqa: BLE001 - one failed run is recorded, the suite goes on
            message = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
            meta["failed"].append({"case": case.name, "method": method, "seed": seed, "error": message})
            bar.write(f"{case.name:22s} {method:16s} seed {seed}: FAILED {message}")
            write_results(out, stem, meta, rows)
            continue
        row = {**_row(suite, case, method, seed, calls, eval_calls, settings.device, r), "command": command}
        rows.append(row)
        bar.write(f"{case.name:22s} {method:16s} seed {seed}: sigma {row['cross_section_pb']:.6g} +- {row['error_pb']:.2g}"
                  f"  eff {row['efficiency']:.4g}  calls {row['train_calls']:,}+{row['eval_calls']:,}"
                  f"  {row['train_seconds'] + row['eval_seconds']:.0f} s  [{row['used']}]")
        write_results(out, stem, meta, rows)
    integrands.clear()  # the last case's matrix elements go too: Sherpa then takes the next run card
    gc.collect()
    write_results(out, stem, meta, rows)
    return {"meta": meta, "rows": rows}


def case_integrand(suite: Suite, case: Case, method: str) -> tuple:
    """``(RunConfig, integrand)`` of ``case`` as ``method`` runs it."""
    from nis.integrands import make_integrand

    data = case.run_config()
    data["integrand"].update(METHOD_CHANGES.get(method, {}))
    config = from_dict(RunConfig, data, f"suite {suite.name} case {case.name}")
    return config, make_integrand(config.integrand, name=case.name)


def unavailable(method: str) -> str | None:
    """Why ``method`` cannot run on this machine (a peer not installed), or None."""
    import importlib.util

    if method in SHERPA_METHODS:
        from nis.bridge.sherpa_install import SETUP_HINT, sherpa_executable

        return None if sherpa_executable() else f"Sherpa is not installed here ({SETUP_HINT})"
    module = {"madnis": "madnis==1.0.0", "madspace": "madspace==0.2.1", "nis-madspace": "madspace==0.2.1"}.get(method)
    if module and importlib.util.find_spec(module.split("=")[0]) is None:
        return f"{module.split('=')[0]} is not installed here (pip install {module})"
    return None


def settings_command(suite: Suite, s: BenchSettings) -> str:
    """The ``nis bench`` command line that reproduces these settings."""
    parts = ["nis bench", suite.name, f"--seeds {s.seeds}"]
    if s.train_calls:
        parts.append(f"--calls {s.train_calls}")
    if s.eval_calls:
        parts.append(f"--eval {s.eval_calls}")
    if s.methods:
        parts.append("--methods " + " ".join(s.methods))
    if s.cases:
        parts.append("--cases " + " ".join(s.cases))
    if s.device != "cpu":
        parts.append(f"--device {s.device}")
    return " ".join(parts)
