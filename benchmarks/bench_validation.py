"""Does validation keep the sampler that unweights better? Flow against its VEGAS fallback.

For each `nis bench` case (``SUITE:CASE``) and seed, nis trains and validates exactly as the
suite's ``nis`` method does (:func:`nis.bench.run.nis_integrator`: same budget, validation
sample and seed), and then *both* samplers, the one validation kept and the one it dropped,
integrate the suite's evaluation sample, each with the channel shares validation measured for
it. Reported per run: the validation's figures (projected efficiency and relative error per
point of either sampler), its choice, both samplers' efficiency and relative spread on the
evaluation sample, and whether the choice was the better one in efficiency. Results go to
``benchmarks/results/validation-<device>.{md,json}``; a later run adds its rows.

    python benchmarks/bench_validation.py --cases z-jets:pp_z_0j w-jets:pp_w_0j --seeds 4
"""

from __future__ import annotations

import argparse
import gc
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import device_label, with_earlier_rows, write_report  # noqa: E402

from nis.bench.run import case_integrand, nis_integrator  # noqa: E402
from nis.bench.suites import get_case  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", nargs="+", required=True, help="SUITE:CASE of nis bench")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    args = ap.parse_args(argv)

    rows = []
    for spec in args.cases:
        suite, case = get_case(spec)
        config, integrand = case_integrand(suite, case, "nis")
        calls = case.train_calls or suite.train_calls
        for seed in range(args.seeds):
            integ = nis_integrator(integrand, config.flow, config.training, "nis", calls, suite.eval_calls, seed,
                                   args.device)
            chosen, reason, comparison = integ.prepare()
            row = {"case": spec, "seed": seed, "chosen": chosen, "reason": reason}
            if comparison is not None:
                row["validation"] = {
                    "nis": {"efficiency": integ.efficiency(comparison.nis), "rel_error": comparison.nis_relative_error},
                    "vegas": {"efficiency": integ.efficiency(comparison.vegas),
                              "rel_error": comparison.vegas_relative_error},
                }
            for method in sorted(("nis", "vegas"), key=lambda m: m != chosen):  # the kept one first: the suite's numbers
                _, stats = integ.integrate(method)
                row[method] = {"efficiency": stats.efficiency, "rel_std": stats.relative_std}
            better = "nis" if row["nis"]["efficiency"] > row["vegas"]["efficiency"] else "vegas"
            row["right"] = chosen == better
            rows.append(row)
            print(f"{spec:22s} seed {seed}: kept {chosen:5s}  final eff nis {row['nis']['efficiency']:.4g}"
                  f" vegas {row['vegas']['efficiency']:.4g}  {'right' if row['right'] else 'WRONG'}", flush=True)
        integrand = integ = None  # Sherpa takes another case's run card only once this one's matrix elements are gone
        gc.collect()

    device = device_label(args.device)
    meta = {"command": "python benchmarks/bench_validation.py " + " ".join(argv or sys.argv[1:]), "device": device,
            "torch": torch.__version__}
    stem = f"validation-{device}"
    rows = with_earlier_rows(args.out, stem, meta, rows, lambda r: (r["case"], r["seed"]))
    write_report(args.out, stem, meta, rows, table(rows, meta))
    return 0


def table(rows: list[dict], meta: dict) -> str:
    lines = [
        f"# Validation's choice between the flow and its VEGAS fallback ({meta['device']})",
        "",
        f"Command: `{meta['command']}`  ",
        "Per run of the `nis` method of `nis bench` (its budget, validation sample and seed): the"
        " validation figures (efficiency projected to the evaluation's chunks, relative error per point)"
        " of the flow and of the fallback, the sampler validation kept, and both samplers on the suite's"
        " evaluation sample (efficiency with w_max = median of 50 chunk maxima; relative spread of the"
        " weights). `right`: the kept sampler is the one with the higher evaluation efficiency.",
        "",
        "| case | seed | validation eff. nis / VEGAS | validation rel. error nis / VEGAS | kept |"
        " evaluation eff. nis / VEGAS | evaluation rel. std nis / VEGAS | right |",
        "| --- | ---: | ---: | ---: | --- | ---: | ---: | --- |",
    ]
    for r in rows:
        v = r.get("validation")
        val_eff = f"{v['nis']['efficiency']:.3g} / {v['vegas']['efficiency']:.3g}" if v else "-"
        val_rel = f"{v['nis']['rel_error']:.3g} / {v['vegas']['rel_error']:.3g}" if v else "-"
        lines.append(
            f"| {r['case']} | {r['seed']} | {val_eff} | {val_rel} | {r['chosen']} | {r['nis']['efficiency']:.3g} /"
            f" {r['vegas']['efficiency']:.3g} | {r['nis']['rel_std']:.3g} / {r['vegas']['rel_std']:.3g} |"
            f" {'yes' if r['right'] else '**no**'} |"
        )
    right = sum(r["right"] for r in rows)
    lines += ["", f"Validation kept the better sampler in {right} of {len(rows)} runs."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
