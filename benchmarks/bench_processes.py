"""nis against VEGAS alone on e+e- -> 3, 4, 5 jets at equal matrix-element calls, one run.

Both samplers use the same process (examples/ee_<n>jets.yaml: phase-space channels, Durham cut,
flavour sum), the same seeds and the same training budget ``--calls`` in matrix-element calls:
nis spends it on its VEGAS grids, flow training and the flow-against-VEGAS validation; VEGAS
alone spends all of it adapting its grids (one per channel, prior channel weights). Then each
draws ``--eval`` fresh points. Reported: cross section, relative standard deviation of the
weights per point, unweighting efficiency (w_max = median of 50 chunk maxima) and its ratio,
which is the gain in unweighted events per matrix-element call.

    python benchmarks/bench_processes.py --calls 100000 --seeds 1
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import budget_meta, write_report  # noqa: E402

from nis.config import IntegrationConfig, TrainingConfig, load_config  # noqa: E402
from nis.integrands import make_integrand  # noqa: E402
from nis.integrator import Integrator  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PROCESSES = ["ee_3jets", "ee_4jets", "ee_5jets"]


def run(config, integrand, calls: int, eval_calls: int, seed: int, vegas_only: bool) -> dict:
    validation = max(2_000, calls // 20)
    if vegas_only:
        training = TrainingConfig(calls=calls)  # always_vegas: all of it adapts the grids
        integration = IntegrationConfig(calls=eval_calls, fallback="always_vegas")
    else:
        training = TrainingConfig(**{**config.training.__dict__, "calls": calls - 2 * validation})
        integration = IntegrationConfig(calls=eval_calls, validation_calls=validation)
    start = time.perf_counter()
    integ = Integrator(integrand, config.flow, training, integration, seed=seed)
    result = integ.run()
    return {
        "sampler": "vegas" if vegas_only else "nis",
        "method": result.method,
        "fallback_reason": result.fallback_reason,
        "cross_section_pb": result.estimate.integral,
        "error_pb": result.estimate.error,
        "rel_std": result.stats.relative_std,
        "efficiency": result.stats.efficiency,
        "train_calls": result.n_integrand_calls - eval_calls,
        "channels": result.n_channels,
        "seconds": time.perf_counter() - start,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=100_000, help="training budget in matrix-element calls")
    ap.add_argument("--eval", type=int, default=100_000, help="fresh evaluation points")
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--processes", nargs="*", default=PROCESSES)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = ap.parse_args(argv)

    device = f"cpu-{platform.machine()}"
    rows = []
    for name in args.processes:
        config = load_config(ROOT / "examples" / f"{name}.yaml")
        integrand = make_integrand(config.integrand, name=name)
        for seed in range(args.seeds):
            for vegas_only in (False, True):
                r = run(config, integrand, args.calls, args.eval, seed, vegas_only)
                r.update(process=name, seed=seed)
                rows.append(r)
                print(
                    f"{name:9s} seed {seed} {r['sampler']:5s} sigma {r['cross_section_pb']:.5g} +- {r['error_pb']:.2g} pb"
                    f"  rel_std {r['rel_std']:.4g}  eff {r['efficiency']:.4f}  {r['seconds']:.0f} s  [{r['method']}]",
                    flush=True,
                )
    meta = budget_meta("bench_processes.py", argv, device, args)
    write_report(args.out, f"processes-{device}-{args.calls}calls", meta, rows, table(rows, meta))
    return 0


def table(rows, meta) -> str:
    lines = [
        f"# e+e- -> jets: nis vs VEGAS alone ({meta['device']})",
        "",
        f"Command: `{meta['command']}`  ",
        f"Training budget {meta['train_calls']:,} matrix-element calls per sampler, {meta['eval_calls']:,} fresh"
        f" points, seeds 0..{meta['seeds'] - 1}, torch {meta['torch']}; processes from examples/ee_<n>jets.yaml"
        " (Durham y_cut = 0.01, d u s c b, sqrt(s) = 91.188 GeV). Means over seeds.",
        "",
        "| process | sampler | sigma [pb] | rel. std | efficiency | eff. gain | used | seconds |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    for proc in dict.fromkeys(r["process"] for r in rows):
        mean = {}
        for sampler in ("nis", "vegas"):
            rs = [r for r in rows if r["process"] == proc and r["sampler"] == sampler]
            mean[sampler] = {k: statistics.fmean(r[k] for r in rs) for k in ("cross_section_pb", "error_pb", "rel_std", "efficiency", "seconds")}
            mean[sampler]["used"] = f"flow {sum(r['method'] == 'nis' for r in rs)}/{len(rs)}" if sampler == "nis" else ""
        for sampler, m in mean.items():
            gain = m["efficiency"] / mean["vegas"]["efficiency"]
            lines.append(
                f"| {proc} | {sampler} | {m['cross_section_pb']:.5g} +- {m['error_pb']:.2g} | {m['rel_std']:.4g} |"
                f" {m['efficiency']:.4f} | {gain:.2f} | {m['used']} | {m['seconds']:.0f} |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
