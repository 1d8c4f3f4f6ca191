"""Sherpa alone against Sherpa with nis (``INTEGRATOR: NIS``) on e+e- -> 2, 3, 4, 5 jets.

Each multiplicity runs the example card examples/sherpa/ee_<n>jets.yaml twice from scratch, with
``INTEGRATOR: Default`` and with the plugin, through integration and ``--events`` unweighted
events. Reported per run: Sherpa's cross section and error, its expected unweighting efficiency
(true maximum, and maximum reduced to 0.1% overweights, which Sherpa unweights against), what nis
chose, the phase-space points spent (nis' training, Sherpa's integration, the trials of event
generation; each point is one weight evaluation, i.e. one matrix element unless a cut failed)
and the wall time.

    python benchmarks/bench_sherpa_plugin.py --jets 2 3 4 --events 10000
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
from pathlib import Path

import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import write_report  # noqa: E402

from nis.bridge.sherpa_run import run_sherpa  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def one(jets: int, events: int, nis: bool, work: Path, settings: dict | None = None) -> dict:
    """One Sherpa run of the example card; ``settings`` replace keys of its ``NIS:`` block."""
    card = yaml.safe_load((ROOT / "examples" / "sherpa" / f"ee_{jets}jets.yaml").read_text())
    card["EVENTS"] = events
    card["NIS"] = {**card.get("NIS", {}), **(settings or {})}
    if not nis:
        card["INTEGRATOR"] = "Default"
    shutil.rmtree(work, ignore_errors=True)  # from scratch: Sherpa (and nis) would reuse an earlier run's results
    run = run_sherpa(card, work, timeout=4 * 3600, lhe="events")
    if run.returncode != 0 or not run.processes:
        raise RuntimeError(f"Sherpa failed for {jets} jets (nis={nis}):\n{run.log[-3000:]}")
    row = {
        "jets": jets,
        "sampler": "Sherpa+nis" if nis else "Sherpa",
        "xs_pb": run.xs,
        "error_pb": run.error,
        "efficiency": run.processes[0].efficiency,
        "efficiency_reduced": run.processes[0].efficiency_reduced,
        "integration_points": run.integration_points,
        "event_trials": run.event_trials,
        "training_points": 0,
        "wall_seconds": run.wall_seconds,
        "nis_method": None,
    }
    if nis:
        (report,) = (work / "Results.nis").glob("*.json")
        rep = json.loads(report.read_text())
        row.update(training_points=rep["training_calls"], nis_method=rep["method"], nis_reason=rep["fallback_reason"],
                   training_seconds=rep["training_seconds"], validation=rep.get("validation"))
    row["points"] = row["training_points"] + row["integration_points"] + (row["event_trials"] or 0)
    return row


def markdown(rows: list, meta: dict) -> str:
    lines = [
        f"# Sherpa alone vs Sherpa+nis, e+e- -> jets ({meta['events']} unweighted events)",
        "",
        f"`{meta['command']}` (each row's own command in the JSON) on {meta['device']}; Sherpa"
        f" {meta['sherpa']}, torch {meta['torch']}.",
        "Efficiency: Sherpa's expected unweighting efficiency, true maximum / maximum reduced to 0.1%",
        "overweights (what Sherpa unweights against). Points: nis training + Sherpa integration +",
        "event-generation trials.",
        "",
        "| jets | sampler | sigma [pb] | eff. (max) | eff. (reduced) | nis chose | points | wall [s] |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        red = f"{r['efficiency_reduced']:.4g}" if r["efficiency_reduced"] is not None else "-"
        lines.append(
            f"| {r['jets']} | {r['sampler']} | {r['xs_pb']:.6g} ± {r['error_pb']:.3g} | {r['efficiency']:.4g} | {red}"
            f" | {r['nis_method'] or '-'} | {r['points']:,} | {r['wall_seconds']:.0f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jets", type=int, nargs="+", default=[2, 3, 4])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--work", default="/tmp/nis-bench-sherpa")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    parser.add_argument("--nis", nargs="*", default=[], metavar="KEY=VALUE",
                        help="settings of the cards' NIS: block, e.g. LOSS=renyi (named in the results' file name)")
    args = parser.parse_args(argv)
    settings = {}
    for item in args.nis:
        key, sep, value = item.partition("=")
        if not sep or not key:
            parser.error(f"--nis takes KEY=VALUE; got {item!r}")
        settings[key.upper()] = yaml.safe_load(value)
    from importlib.metadata import version

    meta = {
        "command": "python benchmarks/bench_sherpa_plugin.py " + " ".join(argv or sys.argv[1:]),
        "device": f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)",
        "sherpa": version("sherpa-mc"),
        "torch": torch.__version__,
        "events": args.events,
    }
    stem = f"sherpa-plugin-ee-jets-{args.events}events" + "".join(f"-{k.lower()}-{v}" for k, v in settings.items())
    earlier = Path(args.out) / f"{stem}.json"  # rows of other multiplicities are kept
    rows = [r for r in json.loads(earlier.read_text())["rows"] if r["jets"] not in args.jets] if earlier.exists() else []
    for jets in args.jets:
        for nis in (False, True):
            work = Path(args.work) / f"ee{jets}_{'nis' if nis else 'native'}"
            rows.append({**one(jets, args.events, nis, work, settings), "command": meta["command"]})
            print(json.dumps({k: v for k, v in rows[-1].items() if k != "validation"}), flush=True)
            rows.sort(key=lambda r: (r["jets"], r["sampler"]))
            write_report(args.out, stem, meta, rows, markdown(rows, meta))


if __name__ == "__main__":
    main()
