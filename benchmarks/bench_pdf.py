"""PDF evaluations per second: nis.pdf (batched torch) against Sherpa's own PDF code, point by point.

For NNPDF31_nnlo_as_0118_mc member 0, at a batch of 10^6 points (x log-uniform in [1e-6, 1],
Q^2 log-uniform in [10, 10^6] GeV^2, seeded), it measures:

* ``nis.pdf``: ``pdf.xfxQ2_all(x, q2)`` (all 11 flavours from one interpolation) and
  ``pdf.xfxQ2(21, x, q2)`` (the gluon only), float64, on the CPU (one thread by default) and on
  CUDA when available;
* ``Sherpa``: ``NNPDFDriver::xfx``, what Sherpa's ``PDF_NNPDF::GetXPDF`` calls, once per point and
  flavour in a C++ loop (:mod:`nis.pdf.sherpa_reference`; 11 calls per point for all flavours),
  on a subsample of the points (``--sherpa-points``), reported per point.

Fastest of interleaved repeats after a warm-up. Writes ``benchmarks/results/pdf-<device>.{md,json}``.

    python benchmarks/bench_pdf.py
    python benchmarks/bench_pdf.py --points 100000 --devices cpu
"""

from __future__ import annotations

import argparse
import importlib.metadata
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import write_report  # noqa: E402

from nis.bench.report import cpu_model  # noqa: E402
from nis.pdf import load_pdf  # noqa: E402

SET = "NNPDF31_nnlo_as_0118_mc"


def best_seconds(fns: dict, budget: float, sync=lambda: None, min_rounds: int = 3) -> dict:
    """Fastest wall seconds of each fn() over interleaved rounds after a warm-up round."""
    t = time.perf_counter()
    for f in fns.values():
        f()
    sync()
    first = time.perf_counter() - t
    rounds = max(min_rounds, min(50, int(budget / max(first, 1e-9))))
    best = {k: math.inf for k in fns}
    names = list(fns)
    for r in range(rounds):
        for k in names[r % len(names):] + names[: r % len(names)]:
            sync()
            t = time.perf_counter()
            fns[k]()
            sync()
            best[k] = min(best[k], time.perf_counter() - t)
    return best


def sherpa_rows(x: np.ndarray, q2: np.ndarray, flavours, budget: float) -> tuple[list, dict, str | None]:
    """Per-point cost of Sherpa's NNPDFDriver on (x, q2), and its values for an accuracy note."""
    from nis.pdf import sherpa_reference

    reason = sherpa_reference.unavailable_reason()
    if reason:
        return [], {}, reason
    sh = sherpa_reference.SherpaNNPDF(SET)
    t = best_seconds({"all": lambda: sh.xfxQ2(list(flavours), x, q2), "one": lambda: sh.xfxQ2(21, x, q2)}, budget)
    n = len(x)
    rows = [{"code": "Sherpa NNPDFDriver (C++ loop, per point)", "device": "cpu", "flavours": f, "points": n,
             "seconds": t[k], "points_per_second": n / t[k], "ns_per_point": 1e9 * t[k] / n}
            for k, f in (("all", len(flavours)), ("one", 1))]
    return rows, {"all": sh.xfxQ2(list(flavours), x, q2)}, None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--sherpa-points", type=int, default=100_000, help="subsample timed through Sherpa")
    ap.add_argument("--devices", nargs="*", default=["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    ap.add_argument("--budget", type=float, default=3.0, help="seconds of repeats per measurement")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    rng = np.random.default_rng(args.seed)
    x = np.exp(rng.uniform(np.log(1e-6), 0.0, args.points))
    q2 = np.exp(rng.uniform(np.log(10.0), np.log(1e6), args.points))
    m = min(args.sherpa_points, args.points)
    s_rows, s_vals, s_reason = sherpa_rows(x[:m], q2[:m], load_pdf(SET).flavours, args.budget)
    try:
        sherpa_version = importlib.metadata.version("sherpa-mc")
    except importlib.metadata.PackageNotFoundError:
        sherpa_version = None

    for device in args.devices:
        pdf = load_pdf(SET, device=device)
        xt = torch.from_numpy(x).to(device)
        qt = torch.from_numpy(q2).to(device)
        sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
        t = best_seconds({"all": lambda p=pdf, a=xt, b=qt: p.xfxQ2_all(a, b),
                          "one": lambda p=pdf, a=xt, b=qt: p.xfxQ2(21, a, b)}, args.budget, sync)
        n = args.points
        rows = [{"code": "nis.pdf (torch, batched)", "device": device, "flavours": f, "points": n, "seconds": t[k],
                 "points_per_second": n / t[k], "ns_per_point": 1e9 * t[k] / n}
                for k, f in (("all", len(pdf.flavours)), ("one", 1))]
        rows += s_rows
        accuracy = {}
        if s_vals:
            ours = pdf.xfxQ2_all(xt[:m], qt[:m]).cpu().numpy()
            theirs = s_vals["all"]
            relevant = np.abs(theirs) > 1e-3 * np.abs(theirs).max(axis=0)
            full = np.where(relevant, np.abs(ours - theirs) / np.abs(theirs), 0.0)
            rel = full[relevant]
            i, j = np.unravel_index(np.argmax(full), full.shape)
            accuracy = {"median_rel_dev": float(np.median(rel)), "q95_rel_dev": float(np.quantile(rel, 0.95)),
                        "max_rel_dev": float(rel.max()), "max_at": {"x": float(x[i]), "Q_GeV": float(np.sqrt(q2[i])),
                        "pid": int(pdf.flavours[j]), "nis": float(ours[i, j]), "sherpa": float(theirs[i, j])}}
        meta = {
            "command": "python benchmarks/bench_pdf.py " + " ".join(argv if argv is not None else sys.argv[1:]),
            "set": f"{SET} member 0", "device": device, "cpu": cpu_model(), "torch_threads": args.threads,
            "gpu": torch.cuda.get_device_name(device) if device.startswith("cuda") else None,
            "points": args.points, "sherpa_points": m, "seed": args.seed, "torch": torch.__version__,
            "sherpa": sherpa_version, "sherpa_skipped": s_reason, "sherpa_vs_nis_relative_deviation": accuracy,
            "sampling": "x log-uniform in [1e-6, 1], Q^2 log-uniform in [10, 1e6] GeV^2 (all inside the grid)",
        }
        base = {r["flavours"]: r["points_per_second"] for r in s_rows}
        setup = (f"{SET}, member 0, float64. {args.points:,} points, x log-uniform in [1e-6, 1], Q^2 log-uniform in "
                 f"[10, 1e6] GeV^2 (seed {args.seed}); Sherpa timed on the first {m:,} of them. CPU: {meta['cpu']}, "
                 f"torch {torch.__version__} with {args.threads} thread(s)")
        if meta["gpu"]:
            setup += f"; GPU: {meta['gpu']}"
        if sherpa_version:
            setup += f"; Sherpa {sherpa_version}"
        legend = ("`nis.pdf`: one batched call (`xfxQ2_all` for all flavours, `xfxQ2(21, ...)` for one). `Sherpa`: "
                  "`NNPDFDriver::xfx`, what Sherpa's `PDF_NNPDF::GetXPDF` calls, once per point and flavour in a C++ "
                  "loop (11 calls per point for all flavours).")
        lines = [
            f"# PDF evaluations per second ({device})",
            "",
            setup + ". Fastest of interleaved repeats after a warm-up.",
            legend,
            "",
            "| code | device | flavours | points/s | ns/point | vs Sherpa |",
            "| --- | --- | ---: | ---: | ---: | ---: |",
        ]
        for r in rows:
            gain = r["points_per_second"] / base[r["flavours"]] if r["flavours"] in base else None
            lines.append(f"| {r['code']} | {r['device']} | {r['flavours']} | {r['points_per_second']:.3e} | "
                         f"{r['ns_per_point']:.1f} | {'' if gain is None else f'{gain:.1f}x'} |")
        if accuracy:
            at = accuracy["max_at"]
            note = ("Sherpa's NNPDFDriver interpolates with 4x4-point polynomials, nis.pdf (like LHAPDF) with a "
                    "log-bicubic Hermite: on the Sherpa subsample, where |xf| > 1e-3 of its maximum, the relative "
                    f"difference has median {accuracy['median_rel_dev']:.1e}, 95% quantile "
                    f"{accuracy['q95_rel_dev']:.1e}, maximum {accuracy['max_rel_dev']:.1e}, at x = {at['x']:.3g}, "
                    f"Q = {at['Q_GeV']:.4g} GeV, PDG id {at['pid']}: nis.pdf {at['nis']:.4g}, "
                    f"Sherpa {at['sherpa']:.4g}.")
            lines += ["", note]
        if s_reason:
            lines += ["", f"Sherpa not measured: {s_reason}"]
        write_report(args.out, f"pdf-{device.split(':')[0]}", meta, rows, "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
