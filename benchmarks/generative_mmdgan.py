"""MMD-GAN on p p -> t t~ -> 6 partons: the W and top peak widths with and without the MMD term.

Makes the truth with nis (``nis integrate examples/generative/ttbar_6j.yaml --events N --hdf5``)
unless ``--truth`` exists, trains three MMD-GANs with the same settings: with ``--mmd-weight``
(masses and the tops' pT and pz), with the masses' MMD terms alone (``bulk_weight = 0``) and with
the MMD term off; writes ``mmdgan.json`` (peak widths, ratios to truth, the tops' bulk kinematics
and the pT balance, timings) and the comparison plots to ``--out``. The defaults are the committed run::

    OMP_NUM_THREADS=1 python benchmarks/generative_mmdgan.py
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MADE_BY_KEYS = ("command", "command_seconds", "wall_seconds", "n_integrand_calls", "unweighting_efficiency", "seed")


def _args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--truth", default="/tmp/gen/ttbar_6j.h5", help="event file (made if missing; not committed)")
    p.add_argument("--events", type=int, default=200_000, help="events of the truth when it is made")
    p.add_argument("--config", default=str(ROOT / "examples/generative/ttbar_6j.yaml"))
    p.add_argument("--steps", type=int, default=12000)
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--layers", type=int, default=3)
    p.add_argument("--latent-dim", type=int, default=24)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--mmd-weight", type=float, default=30.0, help="lambda of the runs with the MMD term")
    p.add_argument("--mmd-ramp", type=float, default=0.5, help="fraction of the steps over which lambda rises from 0")
    p.add_argument("--bulk-weight", type=float, default=1.0, help="weight of the tops' pT and pz MMD terms")
    p.add_argument("--no-balance", action="store_true", help="generate all 18 momentum components freely")
    p.add_argument("--kernel", default="breit-wigner", choices=("breit-wigner", "gaussian"))
    p.add_argument("--penalty", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--n-eval", type=int, default=100_000, help="generated events per model in the evaluation")
    p.add_argument("--out", default=str(ROOT / "benchmarks/results/generative"))
    p.add_argument("--models", default="/tmp/gen", help="where the trained models go (not committed)")
    return p.parse_args(argv)


def make_truth(args) -> dict:
    """Run nis integrate for the truth; returns its JSON result plus the wall time."""
    path = Path(args.truth)
    path.parent.mkdir(parents=True, exist_ok=True)
    result = path.with_suffix(".json")
    cmd = [sys.executable, "-m", "nis.cli", "integrate", args.config, "--events", str(args.events),
           "--hdf5", str(path), "--json", str(result), "--checkpoint", "none", "--quiet"]
    start = time.time()
    subprocess.run(cmd, check=True, env={**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")})
    out = json.loads(result.read_text())
    out["command"] = " ".join(["nis", *cmd[3:]])
    out["command_seconds"] = time.time() - start
    return out


def _no_nan(obj):
    """NaN (a width with no peak in the window) as null: strict JSON."""
    if isinstance(obj, dict):
        return {k: _no_nan(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_no_nan(v) for v in obj]
    return None if isinstance(obj, float) and obj != obj else obj


def main(argv=None) -> int:
    args = _args(argv)
    import torch

    from nis.events.hdf5 import read_event_file
    from nis.generative.mmdgan import MMDGANSettings, evaluate_mmdgan, train_mmdgan

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    made = None if Path(args.truth).exists() else make_truth(args)
    sibling = Path(args.truth).with_suffix(".json")  # the nis integrate result beside an existing truth
    if made is None and sibling.exists():
        made = json.loads(sibling.read_text())
        made["command"] = (f"nis integrate {os.path.relpath(args.config, ROOT)} --events {made.get('n_events')}"
                           f" --hdf5 {args.truth} --json {sibling} --checkpoint none --quiet")
    truth = read_event_file(args.truth)
    base = dict(latent_dim=args.latent_dim, hidden=args.hidden, layers=args.layers, lr=args.lr,
                batch_size=args.batch_size, steps=args.steps, kernel=args.kernel, penalty=args.penalty,
                seed=args.seed, check_every=100, mmd_ramp=args.mmd_ramp, balance=not args.no_balance)
    runs, models = {}, {}
    variants = (("with MMD", args.mmd_weight, args.bulk_weight, "mmd"), ("with MMD, masses only", args.mmd_weight, 0.0,
                "mmd_masses"), ("without MMD", 0.0, 0.0, "plain"))
    for label, weight, bulk, name in variants:
        settings = MMDGANSettings(**base, mmd_weight=weight, bulk_weight=bulk)
        start = time.time()
        model = train_mmdgan(truth, settings, progress=sys.stderr.isatty())
        seconds = time.time() - start
        path = model.save(Path(args.models) / f"mmdgan_{name}.pt")
        models[label] = model
        runs[label] = {"settings": dataclasses.asdict(settings), "train_seconds": round(seconds, 1),
                       "model_file": str(path), "history_last": model.history[-1] if model.history else None}
        print(f"{label}: {seconds:.0f} s, last losses {runs[label]['history_last']}", flush=True)
    start = time.time()
    ev = evaluate_mmdgan(models, truth, args.n_eval, args.seed + 1000, args.out)
    out = {
        "benchmark": "MMD-GAN, p p -> t t~ -> b q q~ b~ q q~ (nis.generative.mmdgan)",
        "date": datetime.date.today().isoformat(),
        "device": "cpu",
        "threads": torch.get_num_threads(),
        "truth": {"file": args.truth, "events": len(truth), "process": truth.process,
                  "cross_section_pb": truth.cross_section_pb, "error_pb": truth.error_pb,
                  "made_by": made and {k: made.get(k) for k in MADE_BY_KEYS}},
        "runs": runs,
        "evaluation": {k: ev[k] for k in ("n", "seed", "peaks", "width_ratio", "fwhm_ratio", "bulk")},
        "evaluation_seconds": round(time.time() - start, 1),
        "plots": [os.path.relpath(p, args.out) for p in ev["plots"]],
    }
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "mmdgan.json").write_text(json.dumps(_no_nan(out), indent=2) + "\n")
    for label, ratios in ev["width_ratio"].items():
        text = ", ".join(f"{k} {v:.3f}" for k, v in ratios.items())
        print(f"{label}: fitted peak width / truth's: {text}")
    for label, summary in ev["bulk"].items():
        print(f"{label}: " + ", ".join(f"{k} {v:.4g}" for k, v in summary.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
