"""A suite's results: the JSON record, the markdown table and the plots.

Each figure in the table is the median over seeds, with the smallest and largest value beside
it; a gain is the ratio of two methods' median efficiencies on the same case (the factor by which
a method needs fewer matrix-element calls per unweighted event, training aside).
"""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
from pathlib import Path

from nis.bench.suites import METHOD_NOTES, METHODS, SUITES, me_variant

__all__ = ["machine", "cpu_model", "summarise", "markdown", "write_results", "plot"]

BASELINES = ("vegas", "sherpa", "sherpa-own", "madnis", "madspace")
TARGETS = {"vegas": 3.0, "sherpa": 2.0, "sherpa-own": 2.0}  # the gains nis aims at (issue 6)


def cpu_model() -> str:
    """The CPU's model name (Linux /proc/cpuinfo), else what platform knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine(device: str = "cpu") -> dict:
    """Where the numbers were measured: CPU model and cores, torch threads, GPU name, versions."""
    import torch

    out = {"cpu": cpu_model(), "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
           "torch": torch.__version__, "python": platform.python_version()}
    if device.startswith("cuda") and torch.cuda.is_available():
        out["gpu"] = torch.cuda.get_device_name(torch.device(device))
    try:
        from importlib.metadata import version

        out["sherpa"] = version("sherpa-mc")
    except Exception:  # noqa: BLE001 - Sherpa is optional
        out["sherpa"] = None
    return out


def _median(values):
    values = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return statistics.median(values) if values else math.nan


def summarise(rows: list[dict]) -> list[dict]:
    """Per case and method: medians over seeds, the spread of the efficiency, gains over baselines."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["case"], r["method"]), []).append(r)
    out = []
    for (case, method), rs in groups.items():
        effs = [r["efficiency"] for r in rs]
        s = {"case": case, "jets": rs[0]["jets"], "method": method, "seeds": len(rs),
             "efficiency": _median(effs), "efficiency_min": min(effs), "efficiency_max": max(effs)}
        for k in ("cross_section_pb", "error_pb", "rel_error", "rel_std", "overweight_fraction", "train_calls",
                  "eval_calls", "calls_to_events", "seconds_to_events", "train_seconds"):
            s[k] = _median([r[k] for r in rs])
        used = [r["used"] for r in rs]
        s["used"] = ", ".join(f"{u} {used.count(u)}/{len(used)}" for u in dict.fromkeys(used))
        out.append(s)
    by = {(s["case"], s["method"]): s for s in out}
    for s in out:
        for base in BASELINES:
            b = by.get((s["case"], base))
            s[f"gain_vs_{base}"] = s["efficiency"] / b["efficiency"] if b and b["efficiency"] > 0 else None
    order = {m: i for i, m in enumerate(METHODS)}
    cases = list(dict.fromkeys(r["case"] for r in rows))
    out.sort(key=lambda s: (cases.index(s["case"]), order.get(s["method"], 99)))
    return out


def _fmt(x, spec=".3g"):
    if x is None or (isinstance(x, float) and (math.isnan(x) or math.isinf(x))):
        return "-"
    return format(x, spec)


def markdown(meta: dict, rows: list[dict], stem: str) -> str:
    summary = summarise(rows)
    gpu = f", GPU {meta['gpu']}" if meta.get("gpu") else ""
    lines = [
        f"# nis bench {meta['suite']}: {meta['description']}",
        "",
        "Commands: " + ", ".join(f"`{c}`" for c in dict.fromkeys(r.get("command", meta["command"]) for r in rows)) + "  ",
        f"Device: {meta['device']} ({meta['cpu']}, {meta['cores']} cores, {meta['torch_threads']} torch threads{gpu});"
        f" torch {meta['torch']}, Sherpa {meta.get('sherpa') or '-'}.  ",
        "Every method: the same training budget in matrix-element calls (Sherpa: its integration stopped there;"
        " Sherpa (own): its own stopping rule) and the same number of fresh points for the figures; w_max ="
        " median of the maxima of 50 chunks for all."
        " Medians over the seeds (0, 1, ...) in the seeds column; efficiency with [min, max] over them.",
        "Gain = ratio of median unweighting efficiencies (unweighted events per matrix-element call after"
        " training). Cost of 10^5 unweighted events = training + 10^5/efficiency points, in calls and in"
        " wall seconds at the evaluation's rate.",
        "",
        "| process | jets | method | seeds | efficiency [min, max] | gain vs VEGAS | vs Sherpa | vs Sherpa (own) | vs MadNIS"
        " | vs madspace | rel. error | overweight | calls to 1e5 events | wall to 1e5 events [s] | used |",
        "| --- | ---: | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for s in summary:
        lines.append(
            f"| {s['case']} | {s['jets']} | {s['method']} | {s['seeds']} | {_fmt(s['efficiency'], '.4g')}"
            f" [{_fmt(s['efficiency_min'], '.3g')}, {_fmt(s['efficiency_max'], '.3g')}]"
            f" | {_fmt(s['gain_vs_vegas'], '.2f')} | {_fmt(s['gain_vs_sherpa'], '.2f')}"
            f" | {_fmt(s['gain_vs_sherpa-own'], '.2f')} | {_fmt(s['gain_vs_madnis'], '.2f')} | {_fmt(s['gain_vs_madspace'], '.2f')}"
            f" | {_fmt(s['rel_error'], '.2e')} | {_fmt(s['overweight_fraction'], '.1e')}"
            f" | {_fmt(s['calls_to_events'], '.3g')} | {_fmt(s['seconds_to_events'], '.3g')} | {s['used']} |"
        )
    lines += _time_split(rows)
    lines += _disagreeing(rows)
    lines += ["", "Methods:", ""]
    present = dict.fromkeys(r["method"] for r in rows)
    lines += [f"- `{m}`: {METHOD_NOTES[m]}" for m in METHODS if m in present]
    if meta.get("skipped"):
        lines += ["", "Not run, and why:", ""]
        for case, why in meta["skipped"].items():
            lines += [f"- {case}, `{m}`: {reason}" for m, reason in why.items()]
    if meta.get("failed"):
        lines += ["", "Failed runs (the error's first line; the suite went on):", ""]
        lines += [f"- {f['case']}, `{f['method']}`, seed {f['seed']}: {f['error']}" for f in meta["failed"]]
    lines += ["", f"Plots: `{stem}-efficiency.png`, `{stem}-gain.png`; every run in `{stem}.json`.", ""]
    return "\n".join(lines)


def disagreeing_runs(rows: list[dict], pulls: float = 5.0) -> list[tuple[dict, float, float]]:
    """Runs whose cross section lies more than ``pulls`` of their own errors from the median of all
    runs of their case (every method and seed): ``(row, median, pull)``. Their efficiency is not
    worth its number: a sampler that misses part of the phase space unweights the part it sees."""
    out = []
    for case in dict.fromkeys(r["case"] for r in rows):
        rs = [r for r in rows if r["case"] == case]
        ref = _median([r.get("cross_section_pb") for r in rs])
        for r in rs:
            err, xs = r.get("error_pb"), r.get("cross_section_pb")
            if err and xs is not None and err > 0 and abs(xs - ref) > pulls * err:
                out.append((r, ref, (xs - ref) / err))
    return out


def _disagreeing(rows: list[dict]) -> list[str]:
    bad = disagreeing_runs(rows)
    if not bad:
        return []
    lines = ["", "Runs whose cross section disagrees with the other runs of the case (more than 5 of its own"
             " errors from their median; their efficiency counts the part of the phase space they saw):", ""]
    lines += [f"- {r['case']}, `{r['method']}`, seed {r['seed']}: {r['cross_section_pb']:.4g} +- {r['error_pb']:.2g} pb"
              f" against the median {ref:.4g} pb ({pull:+.0f} errors)" for r, ref, pull in bad]
    return lines


def _time_split(rows: list[dict]) -> list[str]:
    """Where nis' wall time goes, per case (medians over seeds): matrix elements, the rest of the
    integrand (phase space, cuts, channel densities) and sampler plus training, for the training
    and for the evaluation."""
    nis_rows = [r for r in rows if r["method"] == "nis" and (r.get("time_split") or {}).get("eval")]
    if not nis_rows:
        return []
    parts = ("matrix_elements", "phase_space", "sampler_and_training")
    lines = ["", "Where nis' time goes (seconds, medians over seeds; matrix elements include PDFs for p p):", "",
             "| process | training: ME | phase space | flows + training | evaluation: ME | phase space | flows |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for case in dict.fromkeys(r["case"] for r in nis_rows):
        rs = [r for r in nis_rows if r["case"] == case]
        cells = [_fmt(_median([r["time_split"][stage][p] for r in rs]), ".3g") for stage in ("train", "eval") for p in parts]
        lines.append(f"| {case} | " + " | ".join(cells) + " |")
    return lines


def plot(meta: dict, rows: list[dict], out: Path, stem: str) -> list[Path]:
    """``<stem>-efficiency.png`` (efficiency against jets, per method, spread over seeds) and
    ``<stem>-gain.png`` (nis' gain over each baseline against jets, with the targets)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = summarise(rows)
    # matrix-element variants repeat their case's sampling: plotted only where the file holds nothing else
    summary = [s for s in summary if not me_variant(s["case"])] or summary
    paths = []
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for method in METHODS:
        pts = sorted((s["jets"], s["efficiency"], s["efficiency_min"], s["efficiency_max"]) for s in summary if s["method"] == method)
        if not pts:
            continue
        x, y, lo, hi = zip(*pts)
        ax.errorbar(x, y, yerr=[[a - b for a, b in zip(y, lo)], [b - a for a, b in zip(y, hi)]], marker="o",
                    capsize=3, label=method)
    ax.set_yscale("log")
    _integer_ticks(ax)
    ax.set_xlabel("jet multiplicity")
    ax.set_ylabel("unweighting efficiency <w>/w_max")
    ax.set_title(f"{meta['suite']}: efficiency (median and min-max over seeds)", fontsize=10)
    _legend(ax)
    ax.grid(alpha=0.3)
    paths.append(_save(fig, out / f"{stem}-efficiency.png"))

    samplers = [m for m in ("nis", "nis-madspace") if any(s["method"] == m for s in summary)] or ["nis"]
    fig, axes = plt.subplots(1, len(samplers), figsize=(6.4 * len(samplers), 4.4), squeeze=False)
    for ax, sampler in zip(axes[0], samplers):
        for base in BASELINES:
            pts = sorted((s["jets"], s[f"gain_vs_{base}"]) for s in summary if s["method"] == sampler and s[f"gain_vs_{base}"])
            if pts:
                x, y = zip(*pts)
                line = ax.plot(x, y, marker="o", label=f"{sampler} / {base}")[0]
                if base in TARGETS and base != "sherpa-own":
                    ax.axhline(TARGETS[base], ls="--", color=line.get_color(), lw=1, label=f"target over {base}")
        ax.axhline(1.0, color="black", lw=0.8)
        _integer_ticks(ax)
        ax.set_xlabel("jet multiplicity")
        ax.set_ylabel("gain in unweighting efficiency")
        ax.set_title(f"{meta['suite']}: {sampler}'s gain over each peer", fontsize=10)
        _legend(ax)
        ax.grid(alpha=0.3)
    paths.append(_save(fig, out / f"{stem}-gain.png"))
    return paths


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _integer_ticks(ax) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _legend(ax) -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)


def write_results(out: Path, stem: str, meta: dict, rows: list[dict]) -> None:
    """``<stem>.json`` (meta, every run, the summary), ``<stem>.md`` and the two PNGs; the runs in
    the order of the suite's cases (a case run again later still shows in its place)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    suite = SUITES.get(meta.get("suite"))
    if suite is not None:
        order = {c.name: i for i, c in enumerate(suite.cases)}
        rows = sorted(rows, key=lambda r: order.get(r["case"], len(order)))
    record = {"meta": meta, "rows": rows, "summary": summarise(rows)}
    tmp = out / f"{stem}.json.tmp"
    tmp.write_text(json.dumps(record, indent=1, default=str) + "\n")
    os.replace(tmp, out / f"{stem}.json")
    (out / f"{stem}.md").write_text(markdown(meta, rows, stem))
    if rows:
        plot(meta, rows, out, stem)


def latest_records(out: Path) -> list[dict]:
    """The newest results file of every suite under ``out`` (``<suite>-<YYYY-MM-DD>.json``)."""
    from nis.bench.suites import SUITES

    records = []
    for name in SUITES:
        files = sorted(Path(out).glob(f"{name}-20[0-9][0-9]-[01][0-9]-[0-3][0-9].json"))
        if files:
            record = json.loads(files[-1].read_text())
            record["file"] = files[-1].name
            records.append(record)
    return records


def overview(records: list[dict]) -> str:
    """One table over suites: per process nis' median efficiency beside each peer's, and the gains."""
    lines = [
        "# nis bench: overview of the latest results",
        "",
        "Median unweighting efficiency over seeds at the same matrix-element budget (Sherpa (own): its own",
        "stopping rule, more points); gain = nis / peer. Each suite's file has the commands, spreads and costs.",
        "",
        "| suite | process | jets | nis | nis on madspace | VEGAS | nis fixed alpha | MadNIS | madspace | Sherpa"
        " | Sherpa (own) | nis/VEGAS | nis/Sherpa | nis/Sherpa (own) | nis/MadNIS | nis/madspace |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for record in records:
        summary = record.get("summary") or summarise(record["rows"])
        by = {(s["case"], s["method"]): s for s in summary}
        for case in dict.fromkeys(s["case"] for s in summary):
            eff = {m: by[(case, m)]["efficiency"] if (case, m) in by else None for m in METHODS}
            nis = by.get((case, "nis"), {})
            jets = next(s["jets"] for s in summary if s["case"] == case)
            cells = [_fmt(eff[m], ".3g") for m in ("nis", "nis-madspace", "vegas", "nis-fixed-alpha", "madnis", "madspace",
                                                   "sherpa", "sherpa-own")]
            gains = [_fmt(nis.get(f"gain_vs_{b}"), ".2f") for b in ("vegas", "sherpa", "sherpa-own", "madnis", "madspace")]
            lines.append(f"| {record['meta']['suite']} | {case} | {jets} | " + " | ".join(cells + gains) + " |")
    lines += ["", "Files: " + ", ".join(f"`{r['file']}`" for r in records if "file" in r), ""]
    return "\n".join(lines)


def plot_overview(records: list[dict], path: Path) -> Path:
    """nis' gain (and nis on madspace's channels, dashed) over VEGAS and over Sherpa (same budget)
    against jet multiplicity, every suite."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), sharey=True)
    for ax, base in zip(axes, ("vegas", "sherpa")):
        for k, record in enumerate(records):
            summary = record.get("summary") or summarise(record["rows"])
            for sampler, style in (("nis", "-"), ("nis-madspace", "--")):
                pts = sorted((s["jets"], s[f"gain_vs_{base}"]) for s in summary
                             if s["method"] == sampler and s.get(f"gain_vs_{base}") and not me_variant(s["case"]))
                if pts:
                    ax.plot(*zip(*pts), style, marker="o", color=f"C{k}", label=f"{record['meta']['suite']}: {sampler}")
        ax.axhline(TARGETS[base], ls="--", color="grey", lw=1, label=f"target ({TARGETS[base]:g})")
        ax.axhline(1.0, color="black", lw=0.8)
        ax.set_yscale("log")
        from matplotlib.ticker import NullFormatter, ScalarFormatter

        ax.set_yticks([0.25, 0.5, 1, 2, 3, 5])
        ax.yaxis.set_major_formatter(ScalarFormatter())
        ax.yaxis.set_minor_formatter(NullFormatter())
        _integer_ticks(ax)
        ax.set_xlabel("jet multiplicity")
        ax.set_title(f"gain over {'VEGAS' if base == 'vegas' else 'Sherpa (same budget)'}", fontsize=10)
        ax.grid(alpha=0.3)
        _legend(ax)
    axes[0].set_ylabel("gain in unweighting efficiency")
    return _save(fig, path)
