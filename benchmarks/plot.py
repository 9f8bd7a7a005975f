"""The benchmark's PNG: latency distribution per stage and backend, and cost vs targets; and
the held-out evaluation's lost-flag ROC.

Box plots rather than bars, because a tracker's worst frames matter as much as its median;
log scale, because a 1 ms post-processing step and a 300 ms search share the axis. Uses the
non-interactive Agg backend so it works on headless machines and in CI.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence


def plot_report(report: dict[str, Any], path: str | Path) -> Path:
    """Draw from the report's raw per-frame samples (`samples_ms` of each measured backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    measured = [b for b in report["backends"] if b["status"] == "measured"]
    stages = report["settings"]["stages"]["track"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.8), gridspec_kw={"width_ratios": [3, 1.3]})
    stage_boxes(left, measured, stages, plt)
    _scaling(right, measured)
    seq = report["sequence"]
    fig.suptitle(f"masktrt bench: {seq['name']}, {seq['timed_frames']} frames - "
                 f"{report['machine']['cpu']}", fontsize=10)
    return save_figure(fig, path, plt)


def stage_boxes(ax: Any, measured: list[dict], stages: Sequence[str], plt: Any) -> None:
    count = max(len(measured), 1)
    width = 0.8 / count
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, backend in enumerate(measured):
        data = [list(backend["samples_ms"].get(s, [])) or [float("nan")] for s in stages]
        positions = [j + (i - (count - 1) / 2) * width for j in range(len(stages))]
        # black medians: matplotlib's default median colour is the second backend's fill colour
        parts = ax.boxplot(data, positions=positions, widths=width * 0.9, patch_artist=True,
                           showfliers=True, flierprops={"markersize": 2},
                           medianprops={"color": "black", "linewidth": 1.2})
        for box in parts["boxes"]:
            box.set_facecolor(colours[i % len(colours)])
            box.set_alpha(0.7)
        ax.plot([], [], color=colours[i % len(colours)], linewidth=6, label=backend["name"])
    ax.set_xticks(range(len(stages)), stages)
    ax.set_yscale("log")
    ax.set_ylabel("ms per frame (log)")
    ax.set_title("latency per stage", fontsize=10)
    ax.grid(axis="y", alpha=0.3, which="both")
    ax.legend(fontsize=8)


MARKERS = ("o", "s", "^", "D", "v", "P", "X")
STYLES = ("-", "--", ":", "-.")


def _scaling(ax: Any, measured: list[dict]) -> None:
    """One line per backend; backends of near-equal cost overlap, so each gets its own marker
    and dash pattern and the lines are half transparent: none hides another."""
    for i, backend in enumerate(measured):
        rows = backend.get("scaling") or []
        xs = [r["targets"] for r in rows]
        ys = [r["frame"]["mean_ms"] for r in rows]
        ax.plot(xs, ys, marker=MARKERS[i % len(MARKERS)], linestyle=STYLES[i % len(STYLES)],
                alpha=0.75, label=backend["name"])
        _batched_lines(ax, backend["name"], rows, i)
    counts = sorted({r["targets"] for b in measured for r in b.get("scaling") or []})
    if counts:
        ax.set_xticks(counts)
    ax.set_xlabel("targets")
    ax.set_ylabel("mean ms per frame")
    ax.set_title("cost vs targets (sequential; batched where measured)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def _batched_lines(ax: Any, name: str, rows: list[dict], i: int) -> None:
    """The batched export's one-by-one and one-call costs beside the backend's own line."""
    measured = [r for r in rows if r.get("batched")]
    if not measured:
        return
    xs = [r["targets"] for r in measured]
    for offset, (side, label) in enumerate((("sequential", "one by one"), ("batched", "track_many"))):
        ys = [r["batched"][side]["mean_ms"] for r in measured]
        ax.plot(xs, ys, marker=MARKERS[(i + 1 + offset) % len(MARKERS)],
                linestyle=STYLES[(i + 1 + offset) % len(STYLES)], alpha=0.75,
                label=f"{name} batch export, {label}")


def plot_roc(confidence: dict[str, Any], path: str | Path, title: str) -> Path | None:
    """The lost flag's ROC (on-target frames flagged vs off-target frames caught, per score
    threshold) with its operating point and Youden's point marked; None without a curve."""
    roc = confidence.get("roc") if confidence else None
    if not roc:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.2, 4.8))
    ax.plot(roc["on_flagged"], roc["off_caught"], drawstyle="steps-post", label="score < t")
    ax.plot([0, 1], [0, 1], ":", color="grey", label="chance")
    _mark(ax, confidence.get("operating_point"), "o", "operating point")
    youden = confidence.get("threshold")
    if youden is not None:
        i = min(range(len(roc["thresholds"])), key=lambda k: abs(roc["thresholds"][k] - youden))
        _mark(ax, {"on_flagged": roc["on_flagged"][i], "off_caught": roc["off_caught"][i],
                   "threshold": youden}, "s", "Youden")
    ax.set_xlabel("on-target frames flagged lost (false alarms)")
    ax.set_ylabel("off-target frames caught")
    ax.set_title(f"{title}: AUC {confidence.get('auc') or 0:.3f}", fontsize=10)
    ax.legend(loc="lower right", fontsize=8)
    return save_figure(fig, path, plt)


def _mark(ax: Any, point: dict | None, marker: str, label: str) -> None:
    if point and point.get("on_flagged") is not None and point.get("off_caught") is not None:
        ax.plot(point["on_flagged"], point["off_caught"], marker, markersize=8,
                label=f"{label}: score < {point['threshold']:.3f}")


def save_figure(fig: Any, path: str | Path, plt: Any) -> Path:
    """Lay out, write (folders made) and release a figure."""
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
