"""Writing a benchmark's results: ``<stem>.json`` (meta and rows) and ``<stem>.md`` (the table)."""

from __future__ import annotations

import json
import sys
from pathlib import Path


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


def write_report(out: str | Path, stem: str, meta: dict, rows: list, markdown: str) -> None:
    """Write the results under ``out`` (created if needed) and print the table."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
    (out / f"{stem}.md").write_text(markdown)
    print(markdown)
