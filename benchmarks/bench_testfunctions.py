"""nis against vegas and madnis on the built-in test functions, same budget and seeds, one run.

For every function and seed each method gets ``--calls`` integrand calls to train (nis: VEGAS
grids, flow training and its flow-against-VEGAS validation all inside that budget), then draws
``--eval`` fresh points. Reported per function (mean over seeds): the relative standard
deviation of the weights per point (sqrt(N) x relative error; its square is the variance per
point), the unweighting efficiency with w_max = median of 50 chunk maxima, and the pull
(estimate - exact) / error. Results go to
``benchmarks/results/testfunctions-<device>-<calls>calls[-<variant>].{md,json}`` (``--loss``: nis'
training loss, default variance; ``renyi`` with ``--renyi-order``; ``--vegas-fraction``: the share of
the budget for the VEGAS map in front of the flows, default ``TrainingConfig``'s).

    python benchmarks/bench_testfunctions.py --calls 200000 --seeds 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import budget_meta, device_label, write_report  # noqa: E402

from nis.bench.peers import run_madnis, run_vegas  # noqa: E402
from nis.bench.run import nis_integrator  # noqa: E402
from nis.config import LOSSES, FlowConfig, TrainingConfig  # noqa: E402
from nis.testfunctions import make_test_function  # noqa: E402

FUNCTIONS = {
    "gaussian_2d": ("gaussian", {"dims": 2, "width": 0.2}),
    "gaussian_4d": ("gaussian", {"dims": 4, "width": 0.2}),
    "gaussian_8d": ("gaussian", {"dims": 8, "width": 0.2}),
    "gaussian_16d": ("gaussian", {"dims": 16, "width": 0.2}),
    "camel_2d": ("camel", {"dims": 2, "width": 0.2}),
    "camel_4d": ("camel", {"dims": 4, "width": 0.2}),
    "camel_8d": ("camel", {"dims": 8, "width": 0.2}),
    "camel_8d_w0.1": ("camel", {"dims": 8, "width": 0.1}),
    "camel_16d": ("camel", {"dims": 16, "width": 0.2}),
    "annulus": ("annulus", {}),
    "circles": ("circles", {}),
    "polynomial_18d": ("polynomial", {"dims": 18}),
    "ring_line": ("ring_line", {}),
}


def run_nis(f, calls: int, eval_calls: int, seed: int, device: str, batch: int, **training_options) -> dict:
    """nis on ``f``; ``training_options``: :class:`TrainingConfig` fields beyond the budget and batch."""
    start = time.perf_counter()
    integ = nis_integrator(f, FlowConfig(bins=16, hidden=64), TrainingConfig(batch_size=batch, **training_options),
                           "nis", calls, eval_calls, seed, device)
    result = integ.run()
    return {
        "method": result.method,
        "integral": result.estimate.integral,
        "error": result.estimate.error,
        "rel_std": result.stats.relative_std,
        "efficiency": result.stats.efficiency,
        "train_calls": result.n_integrand_calls - eval_calls,
        "seconds": time.perf_counter() - start,
    }


def peer_row(r) -> dict:
    return {
        "method": r.peer,
        "integral": r.integral,
        "error": r.error,
        "rel_std": r.rel_std_per_point,
        "efficiency": r.unweighting_efficiency,
        "train_calls": r.train_calls,
        "seconds": r.train_seconds + r.eval_seconds,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=200_000, help="training budget per method")
    ap.add_argument("--eval", type=int, default=100_000, help="fresh evaluation points")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--functions", nargs="*", default=list(FUNCTIONS))
    ap.add_argument("--peers", nargs="*", default=["vegas", "madnis"])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=1024, help="nis and madnis batch size")
    ap.add_argument("--loss", default="variance", choices=LOSSES, help="nis' training loss")
    ap.add_argument("--renyi-order", type=float, default=4.0, help="order of the renyi loss")
    ap.add_argument("--vegas-fraction", type=float, default=TrainingConfig.vegas_fraction,
                    help="share of nis' budget for the VEGAS map in front of the flows")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    args = ap.parse_args(argv)

    device_name = device_label(args.device)
    rows = []
    for key in args.functions:
        name, params = FUNCTIONS[key]
        f = make_test_function(name, **params)
        for seed in range(args.seeds):
            nis_row = run_nis(f, args.calls, args.eval, seed, args.device, args.batch, loss=args.loss,
                              renyi_order=args.renyi_order, vegas_fraction=args.vegas_fraction)
            results = {"nis": nis_row}
            # the peers see the whole function on the cube (for ring_line: one map for both channels)
            if "vegas" in args.peers:
                results["vegas"] = peer_row(run_vegas(f.fn, f.dims, args.calls, args.eval, seed))
            if "madnis" in args.peers:
                results["madnis"] = peer_row(
                    run_madnis(f.fn, f.dims, args.calls, args.eval, seed, batch_size=args.batch, device=args.device)
                )
            for method, r in results.items():
                r.update(function=key, seed=seed, peer=method, pull=(r["integral"] - f.exact) / r["error"])
                rows.append(r)
                print(
                    f"{key:16s} seed {seed} {method:7s} rel_std {r['rel_std']:9.4g}  eff {r['efficiency']:7.4f}"
                    f"  pull {r['pull']:+6.2f}  {r['seconds']:6.1f} s  [{r['method']}]",
                    flush=True,
                )

    variant = {"variance": "", "renyi": f"-renyi{args.renyi_order:g}"}.get(args.loss, f"-{args.loss}")
    if args.vegas_fraction != TrainingConfig.vegas_fraction:
        variant += f"-vegas{args.vegas_fraction:g}"
    stem = f"testfunctions-{device_name}-{args.calls}calls{variant}"
    meta = budget_meta("bench_testfunctions.py", argv, device_name, args)
    write_report(args.out, stem, meta, rows, table(rows, meta))
    return 0


def table(rows, meta) -> str:
    lines = [
        f"# Test functions: nis vs peers ({meta['device']})",
        "",
        f"Command: `{meta['command']}`  ",
        f"Training budget {meta['train_calls']:,} integrand calls per method, {meta['eval_calls']:,} fresh"
        f" evaluation points, seeds 0..{meta['seeds'] - 1}, torch {meta['torch']}. Means over seeds;"
        " rel. std = std(w)/mean(w) per point; efficiency = <w>/w_max, w_max = median of 50 chunk maxima;"
        " nis' `used` says how often the flow (not the VEGAS fallback) was used.",
        "",
        "| function | method | rel. std | efficiency | mean pull | used | seconds |",
        "| --- | --- | ---: | ---: | ---: | --- | ---: |",
    ]
    keys = list(dict.fromkeys((r["function"], r["peer"]) for r in rows))
    for fn, peer in keys:
        rs = [r for r in rows if r["function"] == fn and r["peer"] == peer]
        used = ""
        if peer == "nis":
            used = f"flow {sum(r['method'] == 'nis' for r in rs)}/{len(rs)}"
        lines.append(
            f"| {fn} | {peer} | {statistics.fmean(r['rel_std'] for r in rs):.4g} |"
            f" {statistics.fmean(r['efficiency'] for r in rs):.4f} | {statistics.fmean(r['pull'] for r in rs):+.2f} |"
            f" {used} | {statistics.fmean(r['seconds'] for r in rs):.1f} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
