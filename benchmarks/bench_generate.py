"""Events per second of ``nis generate`` against the number of Dask workers.

Trains (or reuses) a sampler of a config, then generates the same N events with the same seed
in one process and on Dask LocalClusters of 1, 2, ... worker processes (one thread each). The
cluster's start-up is timed apart from the generation (a long production run pays it once);
the merged samples are checked to be identical to the one-process sample.

    python benchmarks/bench_generate.py --config examples/pp_zmumu.yaml --events 400000 --workers 1 2

writes ``benchmarks/results/generate-cpu-<config>.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from nis.bench.report import cpu_model

HERE = Path(__file__).resolve().parent


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="examples/pp_zmumu.yaml")
    parser.add_argument("--sampler", help="an existing sampler directory (default: train one from --config)")
    parser.add_argument("--events", type=int, default=400_000)
    parser.add_argument("--job-events", type=int, default=10_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", default=str(HERE / "results"))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    from distributed import Client

    from nis.cli import main as nis_main
    from nis.production.generate import generate_local, local_cluster, merge, plan, run_job

    name = Path(args.config).stem
    sampler = Path(args.sampler) if args.sampler else Path(args.out) / f".sampler-{name}"
    if not args.sampler:
        assert nis_main(["integrate", args.config, "--save", str(sampler), "--quiet", "--checkpoint", "none"]) == 0
    sizes = plan(args.events, args.job_events)
    t0 = time.perf_counter()
    alone = generate_local(sampler, args.events, args.seed, job_events=args.job_events, progress=False)
    rows = [{"workers": 0, "label": "one process (no Dask)", "seconds": time.perf_counter() - t0, "startup_seconds": 0.0}]
    for k in args.workers:
        t0 = time.perf_counter()
        with local_cluster(k) as cluster, Client(cluster) as client:
            client.run(torch.set_num_threads, 1)
            client.run(run_job, str(sampler.resolve()), 0, 1, args.seed)  # load the sampler on every worker
            startup = time.perf_counter() - t0
            t1 = time.perf_counter()
            futures = [client.submit(run_job, str(sampler.resolve()), j, n, args.seed, pure=False)
                       for j, n in enumerate(sizes)]
            merged = merge(client.gather(futures))
            seconds = time.perf_counter() - t1
        assert np.array_equal(merged["u"].numpy(), alone["u"].numpy()), "merged sample differs from one process"
        rows.append({"workers": k, "label": f"Dask LocalCluster, {k} worker(s)", "seconds": seconds,
                     "startup_seconds": startup})
    for r in rows:
        r["events_per_second"] = args.events / r["seconds"]
    base = next(r for r in rows if r["workers"] == min(args.workers))["events_per_second"]
    for r in rows:
        r["speed_up_vs_1_worker"] = r["events_per_second"] / base
    record = {
        "config": args.config, "events": args.events, "jobs": len(sizes), "job_events": args.job_events,
        "calls": alone["calls"], "cross_section_pb": alone["cross_section_pb"], "error_pb": alone["error_pb"],
        "cpu": cpu_model(), "cores": os.cpu_count(), "torch": torch.__version__, "python": platform.python_version(),
        "rows": rows, "argv": sys.argv[1:],
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    lines = [
        f"# nis generate: events per second against Dask workers ({name})", "",
        f"{args.events:,} events ({len(sizes)} jobs of {args.job_events:,}), {alone['calls']:,} integrand calls,"
        f" cross section {alone['cross_section_pb']:.6g} +- {alone['error_pb']:.3g} pb; {cpu_model()}, {os.cpu_count()}"
        f" cores, torch {torch.__version__}. Every merged sample is identical to the one-process sample.", "",
        "| run | generation [s] | events/s | speed-up vs 1 worker | cluster start-up [s] |", "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['label']} | {r['seconds']:.2f} | {r['events_per_second']:,.0f} |"
                     f" {r['speed_up_vs_1_worker']:.2f} | {r['startup_seconds']:.1f} |")
    one = next(r for r in rows if r["workers"] == min(args.workers))
    top = max(rows, key=lambda r: r["workers"])
    eff = top["speed_up_vs_1_worker"] / top["workers"] if top["workers"] else 1.0
    record["scaling"] = {"rate_per_worker": one["events_per_second"], "efficiency_at_max_workers": eff,
                         "expected_events_per_second_100_workers": 100 * one["events_per_second"] * eff}
    lines += [
        "",
        "Scaling law: the jobs are independent, so with K workers (one core each) the wall time is",
        "T(K) = t_start + N / (K r e(K)), r the rate of one worker and e(K) <= 1 the parallel efficiency",
        "(the scheduler, the client's merge and shared memory bandwidth). Measured here:"
        f" r = {one['events_per_second']:,.0f} events/s, e({top['workers']}) = {eff:.2f} with the scheduler and"
        f" client sharing the {os.cpu_count()} cores. For 100 workers on 100 cores of this kind the expectation is"
        f" 100 r e = {100 * one['events_per_second'] * eff:,.0f} events/s (if e stays at the value"
        " measured here), i.e. 10^8 events in"
        f" {1e8 / (100 * one['events_per_second'] * eff) / 60:.1f} minutes for this process; heavier matrix"
        " elements lower r and raise e (less scheduling per second of work).",
    ]
    lines.append(f"\nCommand: `python benchmarks/bench_generate.py {' '.join(sys.argv[1:])}`\n")
    (out / f"generate-cpu-{name}.json").write_text(json.dumps(record, indent=2) + "\n")
    (out / f"generate-cpu-{name}.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
