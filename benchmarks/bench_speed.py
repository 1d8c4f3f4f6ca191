"""Throughput: sampling plus log-density, and one training step, for nis' flow and madnis'.

Measures on one device, in one run, with warm-up and the median of repeats (device events or a
synchronised host clock): points per second for ``sample + log_prob`` of the default flow in 8
and 12 dimensions, and milliseconds per training step (variance loss, camel 8D) at batch 1024
and 16384. Writes ``benchmarks/results/speed-<device>.{md,json}``.

    python benchmarks/bench_speed.py --device cpu
    python benchmarks/bench_speed.py --device cuda
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import device_label, write_report  # noqa: E402

from nis.config import FlowConfig, IntegrationConfig, TrainingConfig  # noqa: E402
from nis.flows import Flow  # noqa: E402
from nis.integrator import Integrator  # noqa: E402
from nis.testfunctions import make_test_function  # noqa: E402


def timed(fn, device: str, repeats: int, warmup: int = 3) -> float:
    """Median wall seconds of ``fn()`` over ``repeats``, after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t = time.perf_counter()
        fn()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def nis_sampling(dims: int, n: int, device: str, repeats: int) -> float:
    flow = Flow(dims).to(device)
    for p in flow.parameters():
        torch.nn.init.normal_(p, std=0.1)  # not the identity: realistic spline work
    gen = torch.Generator(device).manual_seed(0)

    @torch.no_grad()
    def go():
        flow.sample(n, generator=gen)

    return n / timed(go, device, repeats)


def madnis_sampling(dims: int, n: int, device: str, repeats: int) -> float | None:
    try:
        from madnis.nn import Flow as MadnisFlow
    except ImportError:
        return None
    flow = MadnisFlow(dims_in=dims).to(device)

    @torch.no_grad()
    def go():
        flow.sample(n, return_prob=True)

    try:
        return n / timed(go, device, repeats)
    except TypeError:
        return None


def nis_training_step(batch: int, device: str, repeats: int) -> float:
    f = make_test_function("camel", dims=8, width=0.1)
    integ = Integrator(
        f,
        FlowConfig(),
        TrainingConfig(calls=10**9, batch_size=batch, buffered_steps=0, vegas_fraction=0.0, log_every=10**9),
        IntegrationConfig(),
        device=device,
    )
    integ._setup_optimizer(integ.flow_steps())

    def step():
        d, batch_eval, _ = integ._weights(0, batch, True)
        rows = [(0, d.v, d.log_jac, batch_eval.value, d.log_q, batch_eval.features, None)]
        integ._optimise(integ._channel_loss(rows))

    return 1e3 * timed(step, device, repeats)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--points", type=int, default=None, help="points per sampling call")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    args = ap.parse_args(argv)
    dev = args.device
    name = device_label(dev)
    n = args.points or (1_000_000 if dev.startswith("cuda") else 100_000)
    rows = []
    for dims in (8, 12):
        rows.append({"what": f"sample+log_prob {dims}D, points/s", "n": n,
                     "nis": nis_sampling(dims, n, dev, args.repeats),
                     "madnis": madnis_sampling(dims, n, dev, args.repeats)})
    for batch in (1024, 16384):
        rows.append({"what": f"training step camel 8D batch {batch}, ms", "n": batch,
                     "nis": nis_training_step(batch, dev, args.repeats), "madnis": None})
    meta = {"device": name, "torch": torch.__version__, "threads": torch.get_num_threads(),
            "command": "python benchmarks/bench_speed.py " + " ".join(argv or sys.argv[1:])}
    lines = [f"# Speed ({name}, torch {meta['torch']}, {meta['threads']} threads)", "",
             f"Command: `{meta['command']}`", "", "| measure | nis | madnis |", "| --- | ---: | ---: |"]
    for r in rows:
        fmt = (lambda v: "n/a" if v is None else f"{v:.4g}")
        lines.append(f"| {r['what']} | {fmt(r['nis'])} | {fmt(r['madnis'])} |")
    write_report(args.out, f"speed-{name}", meta, rows, "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
