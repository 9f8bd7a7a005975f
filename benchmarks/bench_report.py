"""The benchmark report for people: Markdown tables (README-ready) and the terminal summary.

The same rows feed both, so what the terminal prints is what the README quotes. Backends that
were not measured stay in the table with their reason, so a missing GPU row reads as
"not measured (no GPU)" rather than silently disappearing.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from masktrt.benchmarks.machine import machine_label
from masktrt.benchmarks.report import markdown_table, text_table, write_json

TOTAL_HEADER = ["total p50 ms", "total p90 ms", "total p99 ms", "mean ms", "fps",
                "speed-up vs torch FP32 (x)"]
# Backends run one after another in one process: its peak RSS includes every library loaded so
# far (torch too, for ONNX Runtime); the growth while the backend ran is that backend's own.
MEMORY_HEADER = ["process peak RSS MiB (all loaded so far)", "RSS growth MiB (this backend)",
                 "device MiB"]


def _own_stages(report: dict[str, Any], phase: str) -> list[str]:
    """The tracker's own stages of `phase` (the report's settings), without the total."""
    return [s for s in report["settings"]["stages"][phase] if s != "total"]


def latency_header(report: dict[str, Any]) -> list[str]:
    return ["backend", "device"] + [f"{s} ms" for s in _own_stages(report, "track")] + TOTAL_HEADER


def init_header(report: dict[str, Any]) -> list[str]:
    stages = [f"{'init ' if s == 'crop' else ''}{s} ms" for s in _own_stages(report, "init")]
    return ["backend"] + stages + ["init total ms"] + MEMORY_HEADER


def _p50(entry: dict[str, Any], stage: str, table: str = "stages") -> float | None:
    return (entry.get(table) or {}).get(stage, {}).get("p50_ms")


def latency_rows(report: dict[str, Any]) -> list[list[Any]]:
    """One row per backend: stage medians (ms), total percentiles, fps and the baseline ratio."""
    rows, stages = [], _own_stages(report, "track")
    for b in report["backends"]:
        if b["status"] != "measured":
            rows.append([b["name"], b["device"]] + [None] * (len(stages) + 5) + [b["reason"]])
            continue
        total = b["stages"]["total"]
        rows.append([b["name"], b["device"]] + [_p50(b, s) for s in stages]
                    + [total["p50_ms"], total["p90_ms"], total["p99_ms"], total["mean_ms"],
                       total["fps"], b.get("speedup_vs_baseline")])
    return rows


def init_rows(report: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for b in report["backends"]:
        if b["status"] != "measured":
            continue
        mem = b["memory"]
        rows.append([b["name"]] + [_p50(b, s, "init") for s in _own_stages(report, "init")]
                    + [_p50(b, "total", "init"), mem["host_peak_rss_mib"],
                     mem["host_peak_delta_mib"], mem["device_mib"]])
    return rows


def scaling_table(report: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """Mean ms per frame for N targets, and the growth relative to one target."""
    counts = report["settings"]["targets"]
    header = ["backend"] + [f"{n} target{'s' if n > 1 else ''} ms" for n in counts] + \
             [f"x{counts[-1]} / x{counts[0]} (ratio)"]
    rows = []
    for b in report["backends"]:
        if b["status"] != "measured":
            continue
        by_count = {r["targets"]: r for r in b["scaling"]}
        means = [by_count[n]["frame"]["mean_ms"] if n in by_count else None for n in counts]
        growth = means[-1] / means[0] if means[0] and means[-1] else None
        rows.append([b["name"]] + means + [growth])
    return header, rows


def batched_table(report: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """Per N targets on the batched export: ms per frame and per target, one by one vs one
    call, and the speed-up (empty rows: no backend measured batched calls)."""
    header = ["backend", "targets", "sequential ms/frame", "batched ms/frame",
              "sequential ms/target", "batched ms/target", "speed-up"]
    rows = []
    for b in report["backends"]:
        for r in (b.get("scaling") or []) if b["status"] == "measured" else []:
            x = r.get("batched")
            if x:
                rows.append([b["name"], r["targets"], x["sequential"]["mean_ms"],
                             x["batched"]["mean_ms"], x["sequential_per_target_ms"],
                             x["batched_per_target_ms"], x["speedup"]])
    return header, rows


def _batched_parts(report: dict[str, Any]) -> list[str]:
    header, rows = batched_table(report)
    if not rows:
        return []
    return ["Batched targets (batch=dynamic export; mean ms, N targets one by one vs one "
            "track_many call per frame):\n", markdown_table(header, rows, digits=2)]


def _load(machine: dict[str, Any]) -> str:
    before, after = machine.get("load_average"), machine.get("load_average_after")
    if not before:
        return ""
    text = f"; load average {before[0]:g}" + (f" -> {after[0]:g}" if after else "")
    return text + f" on {machine['usable_cores']} cores"


def caption(report: dict[str, Any]) -> str:
    seq, settings = report["sequence"], report["settings"]
    weights = settings.get("weights") or {}
    what = weights.get("sha256", "custom backends")
    return (f"`{seq['name']}` ({seq['frame_hw'][1]}x{seq['frame_hw'][0]}), {seq['timed_frames']} "
            f"timed frames after {seq['warmup_frames']} warm-up, preset {settings['preset']}, "
            f"weights {what} (width {weights.get('width', '?')}); machine: "
            f"{machine_label(report['machine'])}{_load(report['machine'])}; {report['created']}")


def markdown_report(report: dict[str, Any]) -> str:
    """The README-ready report: latency, init and memory, scaling, what was not measured."""
    header, rows = scaling_table(report)
    parts = [
        "## masktrt bench\n", caption(report) + "\n",
        "Per-frame latency in ms (stage columns are medians; speed-up = baseline p50 / p50):\n",
        markdown_table(latency_header(report), latency_rows(report), digits=2),
        "Init (ms, median of repeated inits) and memory:\n",
        markdown_table(init_header(report), init_rows(report), digits=1),
        "Multi-target scaling (mean ms per frame, targets tracked sequentially):\n",
        markdown_table(header, rows, digits=1),
    ] + _batched_parts(report)
    missing = [f"- {b['name']}: {b['reason']}" for b in report["backends"] if b["status"] != "measured"]
    if missing:
        parts.append("Not measured:\n\n" + "\n".join(missing) + "\n")
    parts.append("Method: " + "; ".join(f"{k}: {v}" for k, v in report["method"].items()) + ".\n")
    return "\n".join(parts)


def text_summary(report: dict[str, Any]) -> str:
    header, rows = scaling_table(report)
    b_header, b_rows = batched_table(report)
    return "\n".join([caption(report), "", text_table(latency_header(report), latency_rows(report), digits=2),
                      text_table(init_header(report), init_rows(report), digits=1),
                      text_table(header, rows, digits=1)]
                     + ([text_table(b_header, b_rows, digits=2)] if b_rows else []))


def write_reports(report: dict[str, Any], out: str | Path) -> dict[str, Path]:
    """bench.json, bench.md and bench.png in `out`; returns their paths."""
    from masktrt.benchmarks.plot import plot_report
    from masktrt.files import write_text

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": write_json(out / "bench.json", report), "markdown": out / "bench.md"}
    write_text(paths["markdown"], markdown_report(report))
    paths["png"] = plot_report(report, out / "bench.png")
    return paths
