"""nis' training losses side by side on `nis bench` cases: same budget, seeds and evaluation.

For each case (``SUITE:CASE``, e.g. ``ee-jets:ee_3jets``), loss and seed, the ``nis`` method of
``nis bench`` runs with ``training.loss`` (and ``training.renyi_order``) replaced: VEGAS grids,
flow training and the flow-against-VEGAS validation inside the suite's budget, then the suite's
evaluation sample. Reported per case and loss (median over seeds, [min, max]): the unweighting
efficiency (w_max = median of 50 chunk maxima), the relative standard deviation of the weights per
point, and how often the flow (not the VEGAS fallback) was used. The ``variance`` rows repeat
``nis bench``'s own ``nis`` rows (same code path, same seeds). ``--vegas-fraction`` replaces the
share of the budget for the VEGAS map in front of the flows in every run. Results go to
``benchmarks/results/losses-<device>[-vegas<fraction>].{md,json}``; a later run adds its rows to
the file.

    python benchmarks/bench_losses.py --cases ee-jets:ee_3jets gg-gluons:gg_2g --losses variance renyi
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import device_label, with_earlier_rows, write_report  # noqa: E402

from nis.bench.run import _nis_run  # noqa: E402
from nis.bench.suites import get_case  # noqa: E402
from nis.config import LOSSES, RunConfig, from_dict  # noqa: E402
from nis.integrands import make_integrand  # noqa: E402

DEFAULT_CASES = ("ee-jets:ee_3jets", "ee-jets:ee_4jets", "gg-gluons:gg_2g", "gg-gluons:gg_3g", "z-jets:pp_z_0j")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", nargs="*", default=list(DEFAULT_CASES), help="SUITE:CASE of nis bench")
    ap.add_argument("--losses", nargs="*", default=["variance", "renyi"], choices=LOSSES)
    ap.add_argument("--renyi-order", type=float, default=4.0)
    ap.add_argument("--vegas-fraction", type=float, default=None,
                    help="training.vegas_fraction for every run (default: the cases' own)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    args = ap.parse_args(argv)

    rows = []
    for spec in args.cases:
        suite, case = get_case(spec)
        for loss in args.losses:
            data = case.run_config()
            data.setdefault("training", {}).update(loss=loss, renyi_order=args.renyi_order)
            if args.vegas_fraction is not None:
                data["training"]["vegas_fraction"] = args.vegas_fraction
            config = from_dict(RunConfig, data, f"{spec} with loss {loss}")
            integrand = make_integrand(config.integrand, name=case.name)
            calls, eval_calls = case.train_calls or suite.train_calls, suite.eval_calls
            for seed in range(args.seeds):
                r = _nis_run(config, integrand, "nis", calls, eval_calls, seed, args.device)
                row = {"case": spec, "loss": loss, "seed": seed, "efficiency": r.unweighting_efficiency,
                       "rel_std": r.rel_std_per_point, "used": r.extra["used"], "train_calls": r.train_calls,
                       "eval_calls": r.eval_calls, "seconds": r.train_seconds + r.eval_seconds,
                       "cross_section_pb": r.integral, "error_pb": r.error}
                rows.append(row)
                print(f"{spec:22s} {loss:9s} seed {seed}: eff {row['efficiency']:.4g}  rel_std {row['rel_std']:.3g}"
                      f"  [{row['used']}]  {row['seconds']:.0f} s", flush=True)
            integrand = None  # Sherpa takes another case's run card only once this one's matrix elements are gone
            gc.collect()

    device = device_label(args.device)
    meta = {"command": "python benchmarks/bench_losses.py " + " ".join(argv or sys.argv[1:]), "device": device,
            "cores": torch.get_num_threads(), "renyi_order": args.renyi_order, "seeds": args.seeds,
            "vegas_fraction": args.vegas_fraction, "torch": torch.__version__}
    variant = "" if args.vegas_fraction is None else f"-vegas{args.vegas_fraction:g}"
    stem = f"losses-{device}{variant}"
    rows = with_earlier_rows(args.out, stem, meta, rows, lambda r: (r["case"], r["loss"], r["seed"]))
    write_report(args.out, stem, meta, rows, table(rows, meta))
    return 0


def table(rows: list[dict], meta: dict) -> str:
    lines = [
        f"# nis' training losses on nis bench cases ({meta['device']}, {meta['cores']} torch threads)",
        "",
        f"Command: `{meta['command']}`  ",
        f"The `nis` method of `nis bench` with `training.loss` replaced (renyi: order {meta['renyi_order']:g})"
        + ("" if meta.get("vegas_fraction") is None else f" and `training.vegas_fraction = {meta['vegas_fraction']:g}`")
        + "; each"
        f" suite's budget and evaluation sample; medians over seeds 0..{meta['seeds'] - 1} with [min, max];"
        " efficiency = <w>/w_max, w_max = median of 50 chunk maxima; rel. std = std(w)/mean(w) per point;"
        " `flow used`: runs whose validation kept the flow (the others use the VEGAS fallback).",
        "",
        "| case | loss | efficiency [min, max] | rel. std | flow used | seconds |",
        "| --- | --- | --- | ---: | ---: | ---: |",
    ]
    for case, loss in dict.fromkeys((r["case"], r["loss"]) for r in rows):
        rs = [r for r in rows if r["case"] == case and r["loss"] == loss]
        eff = [r["efficiency"] for r in rs]
        lines.append(
            f"| {case} | {loss} | {statistics.median(eff):.4g} [{min(eff):.3g}, {max(eff):.3g}]"
            f" | {statistics.median(r['rel_std'] for r in rs):.3g} | {sum(r['used'] == 'nis' for r in rs)}/{len(rs)}"
            f" | {statistics.median(r['seconds'] for r in rs):.0f} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
