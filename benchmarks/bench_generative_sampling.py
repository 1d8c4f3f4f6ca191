"""Sampling speed of the generative models: seconds for 10^6 events, as ``nis generative sample`` makes them.

For each model file (default: the committed Z + jets INN, DiscFlow and Bayesian INN under
``benchmarks/results/generative/``, and the MMD-GAN where ``--mmdgan`` names one) and each torch
thread count, :func:`nis.generative.run.sample` writes ``--events`` events to scratch files:
flows, the inverse of the feature map, the generation cuts, undoing the magic transformation by
rejection (the 2-jet events keep about a sixth of their draws) and the HDF5 output, all timed
together. Writes ``benchmarks/results/generative/sampling-<device>.{md,json}`` (a later run
replaces the rows of the same model, threads and events and keeps the others).

    python benchmarks/bench_generative_sampling.py --threads 1 2
    python benchmarks/bench_generative_sampling.py --device cuda --threads 1   # on a GPU
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import device_label, with_earlier_rows, write_report  # noqa: E402

from nis.bench.report import cpu_model  # noqa: E402
from nis.generative.run import sample  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "generative"
MODELS = [RESULTS / kind / "model.pt" for kind in ("inn", "discflow", "binn")]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", type=Path, default=MODELS)
    ap.add_argument("--mmdgan", type=Path, default=None, help="an MMD-GAN model file to time as well")
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, torch.get_num_threads()])
    ap.add_argument("--device", default="cpu", help="where the networks run (the cuts and HDF5 stay on the CPU)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)

    rows = []
    models = list(args.models) + ([args.mmdgan] if args.mmdgan else [])
    with tempfile.TemporaryDirectory() as scratch:
        for threads in dict.fromkeys(args.threads):
            torch.set_num_threads(threads)
            for model in models:
                start = time.perf_counter()
                paths = sample(model, args.events, 0, Path(scratch) / "events", device=args.device)
                seconds = time.perf_counter() - start
                name = model.resolve().relative_to(ROOT) if model.resolve().is_relative_to(ROOT) else model
                rows.append({"model": str(name),
                             "threads": threads, "events": args.events, "seconds": seconds,
                             "events_per_second": args.events / seconds, "files": sorted(p.name for p in paths.values())})
                print(f"{rows[-1]['model']}: {threads} thread(s), {args.events:,} events in {seconds:.1f} s", flush=True)
    meta = {"command": "python benchmarks/bench_generative_sampling.py " + " ".join(argv or sys.argv[1:]),
            "device": device_label(args.device), "cpu": cpu_model(), "torch": torch.__version__}
    stem = f"sampling-{meta['device']}"
    rows = with_earlier_rows(args.out, stem, meta, rows, lambda r: (r["model"], r["threads"], r["events"]))
    lines = [
        f"# Generative models: sampling speed ({meta['device']}; {meta['cpu']}, torch {meta['torch']})",
        "",
        f"`{meta['command']}`: `nis generative sample` in-process, events written to HDF5; the 2-jet events",
        "undo the Delta R magic transformation by rejection. Target: 10^6 events in under 60 s on the CPU.",
        "",
        "| model | torch threads | events | seconds | events / s |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {r['model']} | {r['threads']} | {r['events']:,} | {r['seconds']:.1f} | {r['events_per_second']:,.0f} |"
              for r in rows]
    write_report(args.out, stem, meta, rows, "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
