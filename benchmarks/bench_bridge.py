"""Cost of the matrix-element bridge: |M|^2 per event in C++ and what Python adds on top.

For every process the bridge knows (the built-in providers, and the example provider library in
C), at batches of 1000, 10000 and 100000 events, it measures on one thread:

* ``me``: the provider's own evaluate() in a C++ loop (no checks, no Python): cost per event;
* ``checks``: the bridge's batch checks (finite values, momentum conservation) relative to ``me``;
* ``numpy`` / ``torch``: the full Python call ``me(momenta)`` minus the native checked call,
  relative to ``me``: the bridge overhead of the Python layer.

Momenta come from a flat massless RAMBO at fixed sqrt(s) written here in numpy (processes with
massive particles are skipped). Fastest of interleaved repeats after a warm-up. Writes
``benchmarks/results/bridge-<cpu>.{md,json}``.

    python benchmarks/bench_bridge.py
    python benchmarks/bench_bridge.py --sizes 1000 10000 --processes "g g -> g g g"
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from nis.bench.report import cpu_model  # noqa: E402

from nis.bridge import BridgeError, MatrixElement, example_library  # noqa: E402

PROCESSES = [
    "e+ e- -> mu+ mu-",
    "e+ e- -> d d~",
    "e+ e- -> u u~ g",
    "e+ e- -> d d~ g g",
    "e+ e- -> u u~ g g g",
    "e+ e- -> d d~ g g g g",
    "u u~ -> e+ e-",
    "u u~ -> g g",
    "u g -> u g",
    "g g -> g g",
    "g g -> g g g",
    "g g -> g g g g",
    "g g -> d d~ g",
]
LIBRARY_PROCESS = "e+ e- -> mu+ mu-"


def rambo(n_events: int, n_out: int, sqrt_s: float, rng: np.random.Generator) -> np.ndarray:
    """Flat massless n_out-body phase space at fixed sqrt(s) (Kleiss, Stirling, Ellis), with the
    two incoming beams along z. Returns float64 momenta, shape (n_events, 2 + n_out, 4)."""
    r = rng.uniform(size=(n_events, n_out, 4))
    cos = 2 * r[..., 0] - 1
    sin = np.sqrt(1 - cos**2)
    phi = 2 * np.pi * r[..., 1]
    energy = -np.log(r[..., 2] * r[..., 3])
    q = np.stack([energy, energy * sin * np.cos(phi), energy * sin * np.sin(phi), energy * cos], axis=-1)
    total = q.sum(axis=1)  # (n, 4)
    mass = np.sqrt(total[:, 0] ** 2 - (total[:, 1:] ** 2).sum(-1))
    b = -total[:, 1:] / mass[:, None]
    x = sqrt_s / mass
    gamma = total[:, 0] / mass
    a = 1 / (1 + gamma)
    bq = (b[:, None, :] * q[..., 1:]).sum(-1)  # (n, n_out)
    p = np.empty((n_events, 2 + n_out, 4))
    p[:, 2:, 0] = x[:, None] * (gamma[:, None] * q[..., 0] + bq)
    p[:, 2:, 1:] = x[:, None, None] * (q[..., 1:] + b[:, None, :] * q[..., :1] + (a[:, None] * bq)[..., None] * b[:, None, :])
    half = sqrt_s / 2
    p[:, 0] = (half, 0, 0, half)
    p[:, 1] = (half, 0, 0, -half)
    return p


def interleaved_min_seconds(fns: dict, budget: float, min_rounds: int = 5) -> dict:
    """Fastest wall seconds of each fn() over rounds that call every fn once, in rotating order,
    after one warm-up round; as many rounds as fill about `budget` seconds. Interleaving and the
    minimum keep other load on the machine out of the differences between them."""
    names = list(fns)
    t = time.perf_counter()
    for name in names:
        fns[name]()
    first = time.perf_counter() - t
    rounds = max(min_rounds, min(200, int(budget / max(first, 1e-9))))
    best = {name: float("inf") for name in names}
    for r in range(rounds):
        for name in names[r % len(names):] + names[: r % len(names)]:
            t = time.perf_counter()
            fns[name]()
            best[name] = min(best[name], time.perf_counter() - t)
    return best


def measure(me: MatrixElement, n: int, sqrt_s: float, budget: float, seed: int) -> dict:
    p = rambo(n, me.info.n_particles - 2, sqrt_s, np.random.default_rng(seed))
    pt = torch.from_numpy(p)
    out = np.empty(n)
    t = interleaved_min_seconds({
        "me": lambda: me._time_native(p, repeats=1, threads=1, checks=False),
        "checked": lambda: me._time_native(p, repeats=1, threads=1, checks=True),
        "numpy": lambda: me.evaluate(p, out=out, threads=1),
        "torch": lambda: me.evaluate(pt, threads=1),
    }, budget)
    return {
        "n_events": n,
        "me_seconds": t["me"],
        "me_ns_per_event": 1e9 * t["me"] / n,
        "checked_seconds": t["checked"],
        "numpy_seconds": t["numpy"],
        "torch_seconds": t["torch"],
        "checks_overhead": (t["checked"] - t["me"]) / t["me"],
        "numpy_overhead": (t["numpy"] - t["checked"]) / t["me"],
        "torch_overhead": (t["torch"] - t["checked"]) / t["me"],
        "numpy_overhead_us": 1e6 * (t["numpy"] - t["checked"]),
        "torch_overhead_us": 1e6 * (t["torch"] - t["checked"]),
        "total_overhead_numpy": (t["numpy"] - t["me"]) / t["me"],
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--processes", nargs="*", default=PROCESSES)
    ap.add_argument("--sizes", nargs="*", type=int, default=[1000, 10000, 100000])
    ap.add_argument("--sqrt-s", type=float, default=500.0, help="GeV")
    ap.add_argument("--budget", type=float, default=0.3, help="seconds of repeats per measurement")
    ap.add_argument("--max-seconds", type=float, default=2.0,
                    help="skip a batch size when one |M|^2 call would take longer than this")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    args = ap.parse_args(argv)

    candidates = [(proc, None) for proc in args.processes]
    if example_library() is not None:
        candidates.append((LIBRARY_PROCESS, example_library()))
    rows, skipped = [], []
    for process, library in candidates:
        label = process + (" [C library]" if library else "")
        try:
            me = MatrixElement(process, library=library)
        except BridgeError as err:
            skipped.append((label, f"{err.code}: {err}"))
            continue
        if any(m != 0 for m in me.info.masses):
            skipped.append((label, "massive particles (this benchmark's RAMBO is massless)"))
            continue
        per_event = None
        for n in args.sizes:
            if per_event is not None and per_event * n > args.max_seconds:
                skipped.append((f"{label} at {n}", f"one call would take ~{per_event * n:.1f} s"))
                continue
            row = {"process": label, **measure(me, n, args.sqrt_s, args.budget, args.seed)}
            per_event = row["me_seconds"] / n
            rows.append(row)
            print(f"{label:32s} n={n:>6d}  me {row['me_ns_per_event']:10.1f} ns/event  checks {row['checks_overhead']:+.3f}"
                  f"  numpy {row['numpy_overhead']:+.4f}  torch {row['torch_overhead']:+.4f}", flush=True)

    cpu = f"cpu-{platform.machine()}"
    meta = {"cpu": cpu_model(), "machine": platform.machine(), "threads": 1, "sqrt_s_GeV": args.sqrt_s,
            "torch": torch.__version__, "numpy": np.__version__, "seed": args.seed}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"bridge-{cpu}.json").write_text(json.dumps({"meta": meta, "rows": rows, "skipped": skipped}, indent=2) + "\n")
    lines = [
        f"# Matrix-element bridge: cost per event and bridge overhead ({cpu})",
        "",
        f"CPU: {meta['cpu']}; one thread; flat massless RAMBO at sqrt(s) = {args.sqrt_s:g} GeV, seed {args.seed}; "
        f"torch {meta['torch']}, numpy {meta['numpy']}. Fastest of interleaved repeats after a warm-up.",
        "`me`: the provider's evaluate() in C++ alone. Overheads are relative to `me`: `checks` = bridge batch "
        "checks (finite, momentum conservation); `numpy`/`torch` = Python call minus the native checked call "
        "(also in microseconds per call). Where the matrix element is expensive the overheads are below the "
        "timing noise of the machine, and show as small numbers of either sign.",
        "",
        "| process | events | me [ns/event] | checks | numpy | torch | numpy [us/call] | torch [us/call] |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(f"| {r['process']} | {r['n_events']} | {r['me_ns_per_event']:.1f} | {r['checks_overhead']:+.3f} "
                     f"| {r['numpy_overhead']:+.4f} | {r['torch_overhead']:+.4f} | {r['numpy_overhead_us']:.1f} "
                     f"| {r['torch_overhead_us']:.1f} |")
    if skipped:
        lines += ["", "Skipped:", ""] + [f"- {label}: {why}" for label, why in skipped]
    (out / f"bridge-{cpu}.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {out / f'bridge-{cpu}.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
