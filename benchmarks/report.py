"""Writing a benchmark's results: ``<stem>.json`` (meta and rows) and ``<stem>.md`` (the table)."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def device_label(device: str) -> str:
    """The device in file names and tables: the GPU's name (spaces as '-'), or ``cpu-<machine>``."""
    import platform

    import torch

    return torch.cuda.get_device_name(device).replace(" ", "-") if device.startswith("cuda") else f"cpu-{platform.machine()}"


def budget_meta(script: str, argv, device: str, args) -> dict:
    """The meta block of a same-budget comparison: command line, device, budgets, seeds, torch."""
    import torch

    return {
        "command": f"python benchmarks/{script} " + " ".join(argv or sys.argv[1:]),
        "device": device,
        "train_calls": args.calls,
        "eval_calls": args.eval,
        "seeds": args.seeds,
        "torch": torch.__version__,
    }


def with_earlier_rows(out: str | Path, stem: str, meta: dict, rows: list, key) -> list:
    """``rows`` after the rows of an earlier ``<stem>.json`` under ``out`` that they do not replace
    (same ``key(row)``), so that runs of one case at a time (Sherpa's matrix elements: one process
    each) add up in one file; ``meta["command"]`` then lists every command, earlier ones first."""
    earlier = Path(out) / f"{stem}.json"
    if not earlier.exists():
        return rows
    old = json.loads(earlier.read_text())
    done = {key(r) for r in rows}
    meta["command"] = "; ".join(dict.fromkeys(old["meta"]["command"].split("; ") + [meta["command"]]))
    return [r for r in old["rows"] if key(r) not in done] + rows


def write_report(out: str | Path, stem: str, meta: dict, rows: list, markdown: str) -> None:
    """Write the results under ``out`` (created if needed) and print the table."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
    (out / f"{stem}.md").write_text(markdown)
    print(markdown)
