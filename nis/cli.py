"""The ``nis`` command.

``nis integrate CONFIG [--seed S] [--calls N] [--events N] [--lhe FILE] [--hdf5 FILE] [--json FILE] [--device D]``
integrates what CONFIG describes, shows a progress bar while it trains, prints a summary and
writes the result keys of DESIGN.md to ``--json`` (``--save DIR``: a portable sampler;
``--ranks N``: data-parallel training on N processes). Exit codes: 0 done, 1 the integrand failed,
2 bad input (config, options), 130 interrupted (the last good checkpoint is kept).

``nis bench SUITE [--seeds N] [--calls N] [--eval N] [--methods ...] [--cases ...] [--device D]``
runs a benchmark suite (:mod:`nis.bench`: smoke, ee-jets, gg-gluons, w-jets, z-jets) and writes
``benchmarks/results/<suite>-<date>.{json,md}`` and its plots; ``nis bench --list`` names them,
``nis bench --overview`` gathers the newest result of every suite into ``overview.{md,png}``.

``nis generative train CONFIG`` trains a generative event model (:mod:`nis.generative`) on nis
event files and writes the model, its plots against truth and ``results.json``;
``nis generative sample MODEL --events N`` writes generated events as event files.

``nis shower LHE --out FILE.h5 [--events N] [--seed S] [--detector YAML]`` showers and
hadronises the events of a Les Houches file with Pythia 8, clusters jets with FastJet and smears
them with the detector model (:mod:`nis.shower`); the file holds parton, particle and detector level.

``nis unfold CONFIG [--out DIR]`` unfolds a showered sample from detector to parton level with a
conditional flow (cINN) and with OmniFold (:mod:`nis.unfolding`): plots, calibration, results.json.

``nis generate DIR --events N --seed S [--lhe FILE] [--workers K | --scheduler ADDRESS]``
generates unweighted events from a sampler written by ``nis integrate CONFIG --save DIR``
(:mod:`nis.production`), in one process or over Dask workers.

``nis events merge OUT IN IN...`` joins the event files of independent runs of one process.

``nis jetimages generate CONFIG`` makes boosted-W and QCD fat jets with Pythia 8;
``nis jetimages evaluate CONFIG --out DIR`` compares a jet-image CNN with the mass and tau21
baselines, plainly and with (mass, tau21) decorrelated (:mod:`nis.jetimages`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from nis.config import ConfigError, RunConfig, load_config


def _positive_int(text: str) -> int:
    try:
        value = int(float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value <= 0 or value != float(text):
        raise argparse.ArgumentTypeError(f"must be a positive whole number, got {text}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nis", description="Neural importance sampling for LHC event generators.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("integrate", help="integrate a process or test function described by a YAML config")
    p.add_argument("config", help="YAML run configuration (see examples/)")
    p.add_argument("--seed", type=int, help="random seed (overrides the config's)")
    p.add_argument("--calls", type=_positive_int, help="training budget in integrand calls (training.calls)")
    p.add_argument("--events", type=_positive_int, help="generate this many unweighted events")
    p.add_argument("--lhe", help="write the unweighted events to this Les Houches Event file")
    p.add_argument("--events-out", help="write the unweighted events as a NumPy .npz file")
    p.add_argument("--overweight", type=float, metavar="EPS",
                   help="partial unweighting: events against the w_max that leaves a fraction EPS of the cross"
                        " section in overweight events (weight |w|/w_max > 1), e.g. 0.02; default: the median w_max")
    p.add_argument("--hdf5", help="write the unweighted events' final state as an HDF5 event file (nis.events.hdf5)")
    p.add_argument("--json", help="write the result as a JSON object to this file")
    p.add_argument("--device", help="torch device, e.g. cpu or cuda (overrides the config's)")
    p.add_argument(
        "--checkpoint",
        help="save the trained sampler here (default: PROCESS.nis.pt in the working directory; 'none' to skip)",
    )
    p.add_argument("--resume", help="continue from a checkpoint written by an earlier run")
    p.add_argument("--save", metavar="DIR", help="write a portable sampler (nis generate DIR generates from it)")
    p.add_argument("--ranks", type=_positive_int, default=1,
                   help="train data-parallel on this many processes (torch.distributed; gloo on the CPU, nccl with"
                        " --device cuda: one GPU per rank); events and samplers need one process")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no summary")

    b = sub.add_parser("bench", help="run a benchmark suite: every method at the same budget and seeds")
    b.add_argument("suite", nargs="?", help="suite name (see --list)")
    b.add_argument("--list", action="store_true", help="name the suites, their cases and budgets")
    b.add_argument("--overview", action="store_true",
                   help="write overview.md and overview.png in --out from the newest results of every suite")
    b.add_argument("--seeds", type=_positive_int, default=3, help="seeds 0..N-1 per method and case (default 3)")
    b.add_argument("--calls", type=_positive_int, help="training budget in matrix-element calls (default: the suite's)")
    b.add_argument("--eval", type=_positive_int, help="fresh evaluation points per run (default: the suite's)")
    b.add_argument("--methods", nargs="+", help="only these methods (vegas nis nis-fixed-alpha madnis sherpa)")
    b.add_argument("--cases", nargs="+", help="only these cases of the suite")
    b.add_argument("--device", default="cpu", help="torch device for nis and MadNIS (default cpu)")
    b.add_argument("--out", default="benchmarks/results", help="results directory (default benchmarks/results)")
    b.add_argument("--name", help="file stem of the results (default <suite>-<YYYY-MM-DD>)")
    b.add_argument("--workdir", default="/tmp/nis-bench", help="scratch directory of the native Sherpa runs")
    b.add_argument("--resume", action="store_true", help="keep the runs already in the results file, do the rest")
    b.add_argument("--redo", action="store_true",
                   help="with --resume: run the chosen --cases and --methods again, replacing their rows (after a change)")
    b.add_argument("--quiet", action="store_true", help="no progress bar")

    g = sub.add_parser("generative", help="generative event models trained on nis events (nis.generative)")
    gsub = g.add_subparsers(dest="action", required=True)
    gt = gsub.add_parser("train", help="train the model a YAML config describes, save it and evaluate it")
    gt.add_argument("config", help="YAML config (see examples/generative/)")
    gt.add_argument("--epochs", type=_positive_int, help="training epochs (network.epochs)")
    gt.add_argument("--seed", type=int, help="training seed (network.seed)")
    gt.add_argument("--output", help="output directory (the config's output)")
    gt.add_argument("--device", help="torch device (network.device)")
    gt.add_argument("--no-eval", action="store_true", help="train and save only, no plots")
    gt.add_argument("--quiet", action="store_true", help="no progress bar")
    ge = gsub.add_parser("evaluate", help="evaluate a trained Z + jets model again (plots, results.json)")
    ge.add_argument("config", help="the YAML config it was trained with")
    ge.add_argument("--quiet", action="store_true", help="no progress bar")
    gs = gsub.add_parser("sample", help="generate events with a trained model")
    gs.add_argument("model", help="model file (OUTPUT/model.pt of nis generative train)")
    gs.add_argument("--events", type=_positive_int, required=True, help="number of events")
    gs.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    gs.add_argument("--out", default="generated", help="output prefix: PREFIX_<n>j.h5 per multiplicity (default generated)")
    gs.add_argument("--jets", type=int, nargs="+", help="only these jet multiplicities (Z + jets models)")
    gs.add_argument("--device", default="cpu", help="torch device of the network (default cpu)")
    sh = sub.add_parser("shower", help="shower an LHE file with Pythia 8, cluster jets, smear (nis.shower)")
    sh.add_argument("lhe", help="Les Houches Event file (nis integrate ... --lhe FILE)")
    sh.add_argument("--out", required=True, help="output HDF5 file: parton, particle and detector level")
    sh.add_argument("--events", type=_positive_int, help="only the first N events (default all)")
    sh.add_argument("--seed", type=_positive_int, default=1, help="Pythia's and the detector's seed (default 1)")
    sh.add_argument("--detector", help="YAML file of detector parameters (nis.shower.detector; default built in)")
    sh.add_argument("--no-mpi", action="store_true", help="switch off multiple parton interactions")
    sh.add_argument("--no-hadronisation", action="store_true", help="stop at parton level after the showers")
    sh.add_argument("--jet-radius", type=float, default=0.4, help="anti-kT R (default 0.4)")
    sh.add_argument("--pythia", action="append", default=[], metavar="'KEY = VALUE'", help="more Pythia settings")
    sh.add_argument("--json", help="write the run's summary here")
    sh.add_argument("--quiet", action="store_true", help="no progress bar")
    un = sub.add_parser("unfold", help="unfold a showered sample with a cINN and OmniFold (nis.unfolding)")
    un.add_argument("config", help="YAML config (see examples/unfolding/)")
    un.add_argument("--out", help="output directory (default: the config's output)")
    un.add_argument("--quiet", action="store_true", help="no progress bars")
    ge = sub.add_parser("generate", help="generate unweighted events from a sampler (nis integrate --save DIR)")
    ge.add_argument("sampler", help="sampler directory written by nis integrate CONFIG --save DIR")
    ge.add_argument("--events", type=_positive_int, required=True, help="number of unweighted events")
    ge.add_argument("--seed", type=int, default=1, help="master seed: job j draws from stream (seed, j) (default 1)")
    ge.add_argument("--lhe", help="write the events to this Les Houches Event file")
    ge.add_argument("--hdf5", help="write the events' final state as an HDF5 event file")
    ge.add_argument("--events-out", help="write the events as a NumPy .npz file")
    ge.add_argument("--workers", type=_positive_int, help="fan out over a Dask LocalCluster of this many processes")
    ge.add_argument("--scheduler", help="fan out over the Dask cluster at this address (tcp://HOST:PORT)")
    ge.add_argument("--job-events", type=_positive_int, default=10_000, help="events per job (default 10000)")
    ge.add_argument("--config", help="the process config: refuse the sampler if it was trained on another")
    ge.add_argument("--device", default="cpu", help="torch device (default cpu)")
    ge.add_argument("--json", help="write the summary here")
    ge.add_argument("--quiet", action="store_true", help="no progress bar")
    ev = sub.add_parser("events", help="event files (nis.events.hdf5)")
    esub = ev.add_subparsers(dest="action", required=True)
    em = esub.add_parser("merge", help="join the event files of independent runs of one process (other seeds)")
    em.add_argument("out", help="the merged HDF5 event file")
    em.add_argument("inputs", nargs="+", help="HDF5 event files of nis integrate ... --hdf5 (or nis generate)")
    ji = sub.add_parser("jetimages", help="jet-image classification: boosted W against QCD jets (nis.jetimages)")
    jsub = ji.add_subparsers(dest="action", required=True)
    jg = jsub.add_parser("generate", help="generate the signal and background fat jets with Pythia 8")
    jg.add_argument("config", help="YAML config (see examples/jetimages/)")
    jg.add_argument("--out", help="directory of the jet files (default: the config's data_dir)")
    jg.add_argument("--classes", nargs="+", choices=("signal", "background"), default=["signal", "background"],
                    help="only these classes (run them as separate processes to use more cores)")
    jg.add_argument("--quiet", action="store_true", help="no progress bars")
    je = jsub.add_parser("evaluate", help="train and compare the CNN and the baselines, write plots and results")
    je.add_argument("config", help="the YAML config the jets were generated with")
    je.add_argument("--out", required=True, help="output directory: plots, results.json, results.md, models")
    je.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def _fail(message: str, code: int = 2):
    print(f"nis: error: {message}", file=sys.stderr)
    return code


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _summary(result, config: RunConfig) -> str:
    e, s = result.estimate, result.stats
    lines = [f"nis integrate {result.process}  (seed {result.seed}, {result.device})"]
    lines.append(f"  method              {result.method}" + (f"  [{result.fallback_reason}]" if result.fallback_reason else ""))
    if "matrix_element" in config.integrand:
        integral = f"  cross section       {e.integral:.7g} +- {e.error:.3g} pb"
    else:
        integral = f"  integral            {e.integral:.7g} +- {e.error:.3g}"
    if result.exact is not None and e.error > 0:
        integral += f"   (exact {result.exact:.7g}, pull {(e.integral - result.exact) / e.error:+.2f})"
    lines.append(integral)
    lines.append(f"  chi2/dof            {e.chi2_dof:.3f}  ({e.iterations} iterations, Q = {e.q_value:.3f})")
    lines.append(
        f"  unweighting eff.    {s.efficiency:.4g}  (w_max = median of {config.integration.wmax_chunks} chunk maxima,"
        f" overweight {100 * s.overweight_fraction:.2f}%); {s.efficiency_quantile:.4g} at"
        f" {100 * config.integration.overweight_eps:.2g}% overweight"
    )
    if result.comparison is not None:
        c = result.comparison
        lines.append(
            f"  flow vs VEGAS       rel. error per point {c.nis_relative_error:.4g} vs {c.vegas_relative_error:.4g};"
            f" efficiency {c.nis.efficiency:.4g} vs {c.vegas.efficiency:.4g}"
        )
    lines.append(f"  channels            {result.n_active_channels} active of {result.n_channels}")
    lines.append(f"  integrand calls     {result.n_integrand_calls:,}")
    lines.append(f"  wall time           {result.wall_seconds:.1f} s")
    return "\n".join(lines)


def _integrate_distributed(args, config) -> int:
    from nis.integrator.distributed import run_distributed

    backend = "nccl" if str(config.device).startswith("cuda") else "gloo"
    try:
        result = run_distributed(config, args.ranks, backend=backend)
    except (RuntimeError, ValueError) as exc:
        return _fail(str(exc), 1)
    if not args.quiet:
        print(_summary(result, config))
        print(f"  ranks               {args.ranks} ({backend})")
    if args.json:
        out = result.as_json()
        out["ranks"] = args.ranks
        _write_atomic(Path(args.json), json.dumps(out, indent=2) + "\n")
    return 0


def integrate(args) -> int:
    try:
        config = load_config(args.config)
        if args.seed is not None:
            config.seed = args.seed
        if args.calls is not None:
            config.training.calls = args.calls
        if args.device is not None:
            config.device = args.device
        if args.overweight is not None:
            if not 0.0 < args.overweight < 1.0:
                return _fail(f"--overweight must lie in (0, 1); got {args.overweight}")
            if not args.events:
                return _fail("--overweight needs --events N")
            config.integration.overweight_eps = args.overweight
        if args.ranks > 1:
            asked = [f"--{o.replace('_', '-')}" for o in ("events", "lhe", "hdf5", "events_out", "save", "resume")
                     if getattr(args, o)]
            if asked:
                return _fail(f"--ranks trains over several processes and returns the result; {', '.join(asked)}"
                             " need(s) one process (train with --save DIR, then nis generate DIR --workers K)")
            return _integrate_distributed(args, config)
        is_process = "matrix_element" in config.integrand
        if args.lhe and not is_process:
            return _fail(
                f"{config.process!r} is a test function: its points have no particles to write as LHE;"
                " use --events-out FILE.npz for the unweighted points"
            )
        from nis.processes.ttbar import is_ttbar

        if args.lhe and is_process and is_ttbar(str(config.integrand["matrix_element"])):
            return _fail(
                f"{config.process!r}: nis does not write Les Houches events of t t~ -> 6 partons yet (its top and W"
                " resonances and colour lines); use --hdf5 FILE for the final state"
            )
        if args.hdf5 and not is_process:
            return _fail(f"{config.process!r} is a test function: its points have no particles for --hdf5; use --events-out")
        for option in ("lhe", "events_out", "hdf5"):
            if getattr(args, option) and not args.events:
                return _fail(f"--{option.replace('_', '-')} needs --events N")
        from nis.integrands import make_integrand

        integrand = make_integrand(config.integrand, name=config.process)
    except (ConfigError, ValueError, TypeError, FileNotFoundError) as exc:
        return _fail(str(exc))
    checkpoint = args.checkpoint or f"{config.process}.nis.pt"
    checkpoint = None if checkpoint.lower() == "none" else Path(checkpoint)

    from nis.integrator import Integrator, IntegrandError

    try:
        if args.resume:
            integ = Integrator.load(args.resume, integrand, device=config.device)
        else:
            integ = Integrator(
                integrand, config.flow, config.training, config.integration, seed=config.seed,
                device=config.device, integrand_spec=config.integrand,
            )
    except (RuntimeError, ValueError, FileNotFoundError) as exc:
        return _fail(str(exc))
    integ.checkpoint_path = checkpoint
    try:
        result = integ.run(config.process, progress=not args.quiet)
        if checkpoint is not None:
            integ.save(checkpoint)
        out = result.as_json()
        s = result.stats
        w_max, efficiency, overweight = ((s.w_max_quantile, s.efficiency_quantile, s.overweight_fraction_quantile)
                                         if args.overweight else (s.w_max, s.efficiency, s.overweight_fraction))
        if args.events:
            from nis.processes.eventfile import run_record

            events = integ.generate(args.events, result.method, w_max, efficiency=efficiency, progress=not args.quiet)
            out["n_events"] = args.events
            out["event_w_max"] = w_max
            out["event_overweight_fraction"] = overweight
            out["event_generation_calls"] = events["calls"]
            out["n_integrand_calls"] = integ.n_calls
            e = result.estimate
            out.update(_write_events(args, integrand, events, result.process, e.integral, e.error, config.seed,
                                     _summary(result, config), lambda: run_record(result, config, w_max)))
        if args.save:
            from nis.production.artifact import save_artifact

            estimator = (f"quantile: overweight fraction {config.integration.overweight_eps}" if args.overweight else
                         f"median of {config.integration.wmax_chunks} chunk maxima")
            save_artifact(args.save, integ, result, config, w_max, efficiency, overweight, estimator)
            out["sampler"] = str(args.save)
    except IntegrandError as exc:
        return _fail(str(exc), 1)
    except KeyboardInterrupt:
        where = f"; the last good checkpoint is {checkpoint}" if checkpoint and checkpoint.exists() else ""
        print(f"\nnis: interrupted{where}", file=sys.stderr)
        return 130
    if not args.quiet:
        print(_summary(result, config))
        if args.events:
            print(f"  events              {args.events:,} unweighted from {out['event_generation_calls']:,} calls")
    if args.json:
        _write_atomic(Path(args.json), json.dumps(out, indent=2) + "\n")
    return 0


def _write_events(args, integrand, events: dict, process: str, sigma: float, error: float, seed: int, comment: str,
                  record) -> dict:
    """The event outputs asked for (--events-out, --lhe, --hdf5); their JSON keys. ``record``
    makes the HDF5 file's generator record when needed."""
    import numpy as np
    import torch

    out = {}
    if args.events_out:
        path = Path(args.events_out)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(tmp, **{k: v.cpu().numpy() for k, v in events.items() if isinstance(v, torch.Tensor)})
        os.replace(tmp, path)
        out["events_out"] = str(path)
    if args.lhe:
        from nis.processes.lhe import write_events

        write_events(args.lhe, integrand, events, sigma, error, seed, comment=comment)
        out["lhe"] = str(args.lhe)
    if args.hdf5:
        from nis.processes.eventfile import write_hdf5

        write_hdf5(args.hdf5, integrand, events, process, sigma, error, record())
        out["hdf5"] = str(args.hdf5)
    return out


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    commands = {"integrate": integrate, "bench": bench, "generative": generative, "shower": shower,
                "unfold": unfold, "jetimages": jetimages, "generate": generate, "events": events}
    try:
        return commands[args.command](args)
    except KeyboardInterrupt:  # integrate and bench say more where they can
        print("\nnis: interrupted", file=sys.stderr)
        return 130


def events(args) -> int:
    from nis.events.hdf5 import EventFileError, merge_event_files, read_event_file, write_event_file

    try:
        merged = merge_event_files([read_event_file(p) for p in args.inputs], names=list(args.inputs))
    except EventFileError as exc:
        return _fail(str(exc))
    write_event_file(args.out, merged)
    print(f"{args.out}: {len(merged):,} events of {merged.process} from {len(args.inputs)} files, "
          f"{merged.cross_section_pb:.6g} +- {merged.error_pb:.3g} pb")
    return 0


def generate(args) -> int:
    import time

    from nis.production.artifact import ArtifactError, load_artifact
    from nis.production.generate import GenerationError, generate_distributed, generate_local

    if args.workers and args.scheduler:
        return _fail("give --workers K (a local cluster) or --scheduler ADDRESS, not both")
    try:
        integrand_cfg = load_config(args.config).integrand if args.config else None
        integ, manifest = load_artifact(args.sampler, args.device, integrand_cfg)
        start = time.perf_counter()
        if args.workers or args.scheduler:
            events = generate_distributed(args.sampler, args.events, args.seed, args.workers, args.scheduler,
                                          args.device, args.job_events, progress=not args.quiet)
        else:
            events = generate_local(args.sampler, args.events, args.seed, args.device, args.job_events,
                                    progress=not args.quiet)
        seconds = time.perf_counter() - start
        record = {"sampler": str(args.sampler), "seed": args.seed, "seed_policy": manifest["seed_policy"],
                  "method": manifest["method"], "w_max": manifest["w_max"], "integrand": manifest["config"]["integrand"]}
        summary = {
            "sampler": str(args.sampler), "process": manifest["process"], "n_events": args.events, "seed": args.seed,
            "calls": events["calls"], "cross_section_pb": events["cross_section_pb"], "error_pb": events["error_pb"],
            "training_cross_section_pb": manifest["cross_section_pb"], "training_error_pb": manifest["error_pb"],
            "w_max": manifest["w_max"], "method": manifest["method"], "jobs": events["jobs"],
            "workers": events["workers"], "seconds": seconds, "events_per_second": args.events / seconds,
        }
        summary.update(_write_events(args, integ.integrand, events, manifest["process"], events["cross_section_pb"],
                                     events["error_pb"], args.seed, f"nis generate {args.sampler} --seed {args.seed}",
                                     lambda: record))
    except (ConfigError, ArtifactError, GenerationError, ValueError, FileNotFoundError) as exc:
        return _fail(str(exc))
    if not args.quiet:
        print(f"nis generate {manifest['process']}: {args.events:,} events from {events['calls']:,} calls in"
              f" {seconds:.1f} s ({summary['events_per_second']:.0f} events/s, {events['jobs']} jobs on"
              f" {events['workers']} worker(s)); cross section {events['cross_section_pb']:.6g} +-"
              f" {events['error_pb']:.3g} pb (training: {manifest['cross_section_pb']:.6g} +- {manifest['error_pb']:.3g})")
    if args.json:
        _write_atomic(Path(args.json), json.dumps(summary, indent=2) + "\n")
    return 0


def jetimages(args) -> int:
    from nis.jetimages.run import evaluate, generate_jets
    from nis.shower.pythia import MissingDependency

    try:
        if args.action == "generate":
            summary = generate_jets(args.config, args.out, progress=not args.quiet, classes=tuple(args.classes))
            for label, s in summary.items():
                print(f"nis jetimages generate: {label}: {s['jets']:,} jets from {s['events']:,} events"
                      f" ({s['events_per_second']:.0f} events/s)")
            return 0
        results = evaluate(args.config, args.out, progress=not args.quiet)
    except (ValueError, FileNotFoundError, MissingDependency) as exc:  # ConfigError, JetFileError, ModelFileError
        return _fail(str(exc))
    print((Path(args.out) / "results.md").read_text() if (Path(args.out) / "results.md").exists() else results)
    return 0


def unfold(args) -> int:
    from nis.unfolding.run import unfold as run_unfold

    try:
        summary = run_unfold(args.config, args.out, progress=not args.quiet)
    except (ValueError, FileNotFoundError) as exc:  # ConfigError, ShoweredFileError, FeatureError, ModelFileError
        return _fail(str(exc))
    out = args.out or summary["settings"]["output"]
    for name, chi2 in summary["summary"]["chi2_per_ndf"].items():
        print(f"  {name:18s} chi2/ndf against the pseudo-data truth: "
              + ", ".join(f"{obs} {value:.2f}" for obs, value in chi2.items()))
    print("  cINN calibration, largest |coverage - q|: "
          + ", ".join(f"{obs} {v:.3f}" for obs, v in summary["summary"]["calibration_max_deviation"].items()))
    print(f"nis unfold: plots and results.json in {out}")
    return 0


def shower(args) -> int:
    from nis.events.lhe import LHEReadError
    from nis.shower.detector import Detector
    from nis.shower.pythia import MissingDependency
    from nis.shower.run import ShowerError, ShowerSettings, shower as run_shower

    try:
        settings = ShowerSettings(
            seed=args.seed, events=args.events or 0, mpi=not args.no_mpi, hadronisation=not args.no_hadronisation,
            jet_radius=args.jet_radius, pythia=args.pythia,
        )
        detector = Detector.load(args.detector) if args.detector else Detector()
        summary = run_shower(args.lhe, args.out, settings, detector, progress=not args.quiet)
    except (ConfigError, ValueError, FileNotFoundError, LHEReadError, MissingDependency, ShowerError) as exc:
        return _fail(str(exc))
    if summary["events_lost"]:
        print(f"nis: warning: Pythia dropped {summary['events_lost']} event(s), LHE event number(s)"
              f" {summary['lost_event_numbers']}: " + " | ".join(summary["pythia_errors"]), file=sys.stderr)
    print(f"nis shower: {summary['events_showered']:,} of {summary['events_read']:,} events showered"
          f" ({summary['events_lost']} lost, {summary['events_per_second']:.0f} events/s);"
          f" {summary['detector_passed']:,} with two detector muons -> {args.out}")
    if args.json:
        _write_atomic(Path(args.json), json.dumps(summary, indent=2) + "\n")
    return 0


def generative(args) -> int:
    from nis.events.hdf5 import EventFileError
    from nis.generative.features import FeatureError
    from nis.generative.model_io import ModelFileError

    try:
        if args.action == "train":
            from nis.generative.config import load_generative_config
            from nis.generative.run import train

            cfg = load_generative_config(args.config)
            for option, key in (("epochs", "epochs"), ("seed", "seed"), ("device", "device")):
                if getattr(args, option) is not None:
                    setattr(cfg.network, key, getattr(args, option))
            if args.output:
                cfg.output = args.output
            summary = train(cfg, progress=not args.quiet, evaluate_after=not args.no_eval)
            print(f"nis generative train: {cfg.model} trained in {summary['train_seconds']:.0f} s;"
                  f" model, plots and results.json in {cfg.output}")
            return 0
        if args.action == "evaluate":
            from nis.generative.config import load_generative_config
            from nis.generative.run import reevaluate

            cfg = load_generative_config(args.config)
            reevaluate(cfg, progress=not args.quiet)
            print(f"nis generative evaluate: plots and results.json in {cfg.output}")
            return 0
        from nis.generative.run import sample

        paths = sample(args.model, args.events, args.seed, args.out, args.jets, device=args.device)
        print("nis generative sample: " + ", ".join(str(p) for p in paths.values()))
        return 0
    except (ConfigError, EventFileError, FeatureError, ModelFileError, ValueError) as exc:
        return _fail(str(exc))


def bench(args) -> int:
    import datetime

    from nis.bench.run import BenchSettings, run_suite
    from nis.bench.suites import METHODS, SUITES, get_suite

    if args.overview:
        from nis.bench.report import latest_records, overview, plot_overview

        records = latest_records(Path(args.out))
        if not records:
            return _fail(f"no suite results (<suite>-<date>.json) in {args.out}")
        (Path(args.out) / "overview.md").write_text(overview(records))
        plot_overview(records, Path(args.out) / "overview.png")
        print(overview(records))
        return 0
    if args.list or not args.suite:
        for suite in SUITES.values():
            print(f"{suite.name:10s} {suite.description}")
            print(f"{'':10s} {suite.train_calls:,} training + {suite.eval_calls:,} evaluation calls; cases:"
                  f" {', '.join(c.name for c in suite.cases)}")
        return 0 if args.list else _fail("nis bench needs a suite name (see nis bench --list)")
    try:
        suite = get_suite(args.suite)
    except KeyError as exc:
        return _fail(exc.args[0])
    unknown = sorted(set(args.methods or ()) - set(METHODS))
    if unknown:
        return _fail(f"unknown method(s) {unknown}; the methods are: {', '.join(METHODS)}")
    from nis.device import torch_device

    try:
        torch_device(args.device)
    except ValueError as exc:
        return _fail(f"--device: {exc}")
    settings = BenchSettings(
        seeds=args.seeds, train_calls=args.calls, eval_calls=args.eval,
        methods=tuple(args.methods) if args.methods else None, cases=tuple(args.cases) if args.cases else None,
        device=args.device, workdir=Path(args.workdir), resume=args.resume, redo=args.redo,
    )
    if args.redo and not args.resume:
        return _fail("--redo replaces rows of an earlier results file: use it with --resume (and --name for another day's)")
    stem = args.name or f"{suite.name}-{datetime.date.today().isoformat()}"
    try:
        run_suite(suite, settings, Path(args.out), stem, progress=not args.quiet)
    except KeyError as exc:
        return _fail(exc.args[0])
    except KeyboardInterrupt:
        print(f"\nnis: interrupted; the runs done so far are in {Path(args.out) / stem}.json (--resume continues)",
              file=sys.stderr)
        return 130
    print(f"nis bench {suite.name}: results in {Path(args.out) / stem}.{{json,md}} and the plots beside them")
    return 0


if __name__ == "__main__":
    sys.exit(main())
