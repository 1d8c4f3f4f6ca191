"""Data-parallel training step time: world size 1 against 2 (gloo on CPU, or nccl on GPUs).

A fixed config (camel 4D, the default flow, variance loss, 3 buffered steps per online step) is
trained with :func:`nis.integrator.distributed.run_distributed`, one process per rank, each with
``--threads`` torch threads. A step is one online step (fresh points, integrand calls, the loss,
an averaged gradient, an optimiser step) with its buffered steps; its time is the median over the
steps after the first, on rank 0 (the ranks wait for each other at every all-reduce). Rows:

* strong scaling: the global batch fixed (``--batch``), split over the ranks;
* weak scaling: ``--batch`` points per rank (the global batch grows with the world size).

Writes ``benchmarks/results/ddp-<device>.{json,md}``.

    OMP_NUM_THREADS=1 python benchmarks/bench_ddp.py
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import write_report  # noqa: E402

from nis.bench.report import cpu_model  # noqa: E402
from nis.config import FlowConfig, IntegrationConfig, RunConfig, TrainingConfig  # noqa: E402
from nis.integrator.distributed import run_distributed  # noqa: E402


def config(batch: int, steps: int, device: str) -> RunConfig:
    vegas_calls = 10 * batch  # a short pre-training: it is not what is timed
    return RunConfig(
        process="camel_4d",
        integrand={"function": "camel", "dims": 4},
        flow=FlowConfig(),
        training=TrainingConfig(calls=vegas_calls + steps * batch,
                                vegas_fraction=vegas_calls / (vegas_calls + steps * batch),
                                batch_size=batch, buffered_steps=3, log_every=10),
        integration=IntegrationConfig(calls=1_000, iterations=1, validation_calls=1_000),
        seed=1,
        device=device,
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4096, help="global batch (strong), per-rank batch (weak)")
    parser.add_argument("--steps", type=int, default=30, help="online training steps per run")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per rank")
    parser.add_argument("--backend", default="gloo")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    runs = [("strong", 1, args.batch), ("strong", 2, args.batch), ("weak", 2, 2 * args.batch)]
    rows, base = [], None
    for scaling, world, global_batch in runs:
        cfg = config(global_batch, args.steps, args.device)
        _, reports = run_distributed(cfg, world, backend=args.backend, threads_per_rank=args.threads,
                                     train_only=True, return_reports=True, spawn_single=True)
        per_rank = [statistics.median(r["step_times"]) for r in reports]
        step = per_rank[0]
        base = base or step
        rows.append({
            "scaling": scaling,
            "world_size": world,
            "global_batch": global_batch,
            "batch_per_rank": global_batch // world,
            "steps": reports[0]["steps"],
            "median_step_seconds_per_rank": per_rank,
            "median_step_seconds": step,
            "points_per_second": global_batch / step,
            "throughput_vs_1": base / step * (global_batch / args.batch),
        })
        print(rows[-1], flush=True)

    device = f"{cpu_model()}" if args.device == "cpu" else torch.cuda.get_device_name(0)
    cores = os.cpu_count()
    meta = {
        "command": "python benchmarks/bench_ddp.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "device": device,
        "backend": args.backend,
        "cores": cores,
        "threads_per_rank": args.threads,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "config": "camel 4D, flow bins 10 hidden 32 layers 2, variance loss, 3 buffered steps per online step",
    }
    strong1, strong2, weak2 = rows
    meaning = (
        f"On this machine ({cores} cores shared with other jobs, {args.threads} thread per rank) two ranks "
        f"take {strong2['median_step_seconds'] * 1e3:.1f} ms per step of the same global batch against "
        f"{strong1['median_step_seconds'] * 1e3:.1f} ms on one (speed-up {strong2['throughput_vs_1']:.2f}x), "
        f"and {weak2['median_step_seconds'] * 1e3:.1f} ms for twice the points (throughput "
        f"{weak2['throughput_vs_1']:.2f}x). With only {cores} cores, and those shared, "
        "the ranks compete with each other, with the launching process and with other jobs for the CPUs (the ideal "
        "would be 2x in both rows), the gradient all-reduce (gloo over localhost TCP) adds a cost to every optimiser "
        "step, and one run's medians move by tens of percent with the load of the machine: the numbers show that "
        "data-parallel training works and roughly what it costs here, not what separate GPUs or nodes would give."
    )
    lines = [
        "# Data-parallel training step time (torch.distributed)",
        "",
        f"Device: {device}; backend {args.backend}; {cores} cores; {args.threads} torch thread(s) per rank; "
        f"torch {torch.__version__}. Config: {meta['config']}. Median step time (online step + 3 buffered "
        "steps) on rank 0 over the steps after the first.",
        "",
        "| scaling | world size | global batch | batch per rank | median step (ms) | points/s | throughput vs 1 rank |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['scaling']} | {r['world_size']} | {r['global_batch']} | {r['batch_per_rank']} | "
            f"{r['median_step_seconds'] * 1e3:.1f} | {r['points_per_second']:.0f} | {r['throughput_vs_1']:.2f} |"
        )
    lines += ["", meaning, ""]
    meta["meaning"] = meaning
    write_report(args.out, f"ddp-{args.device}", meta, rows, "\n".join(lines))


if __name__ == "__main__":
    main()
