"""`masktrt precision`: one table of what each backend and precision costs a user, the way
deployment results are read (accuracy and speed per backend and precision side by side).

Per sequence and backend: the whole trajectory scored against the ground truth (J, boundary F,
box IoU, success AUC), its drop from the PyTorch FP32 reference's own trajectory with a
bootstrap interval, the closed loop's noise floor beside it (benchmarks/noise_floor.py: how far
the reference moves from itself under rounding of that precision's size), and the end-to-end
milliseconds per tracked frame of that same run. Per backend: the verdict, which is the
teacher-forced drop pooled over every frame of every sequence against the spec's accuracy
budgets (benchmarks/accuracy.py); the closed-loop figures are what a user sees, the verdict is
what is judged, because a closed loop amplifies rounding into another trajectory.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from masktrt.benchmarks.accuracy import PooledDrop, Verdict, drop_of
from masktrt.benchmarks.metrics import boundary_f, box_iou, region_similarity, success_auc
from masktrt.runtime import loop
from masktrt.runtime.sequences import Sequence
from masktrt.runtime.session import bind

REFERENCE = "torch-fp32"


@dataclass(frozen=True)
class Scores:
    """One trajectory against the ground truth, per frame 1..N-1 (J and F where it has masks)."""

    box: np.ndarray
    j: np.ndarray | None = None
    f: np.ndarray | None = None

    def means(self) -> dict[str, float | None]:
        def mean(values: np.ndarray | None) -> float | None:
            return float(values.mean()) if values is not None and values.size else None

        return {"J": mean(self.j), "F": mean(self.f), "box_iou": mean(self.box),
                "box_auc": success_auc(self.box) if self.box.size else None}


def score(seq: Sequence, results: list[Any]) -> Scores:
    """Frames 1.. of `results` (result 0 is the start) against the sequence's ground truth."""
    frames = range(1, len(results))
    box = np.array([float(box_iou(results[t].xywh, seq.boxes[t])) for t in frames])
    if not seq.has_masks:
        return Scores(box)
    masks = [(results[t].mask, seq.mask(t)) for t in frames]
    masks = [(m if m is not None else np.zeros_like(gt), gt) for m, gt in masks]
    return Scores(box, np.array([region_similarity(m, gt) for m, gt in masks]),
                  np.array([boundary_f(m, gt) for m, gt in masks]))


def drop(reference: np.ndarray | None, test: np.ndarray | None, metric: str) -> PooledDrop | None:
    """Reference minus backend per frame, its mean and bootstrap interval (None: not measured)."""
    if reference is None or test is None or not test.size:
        return None
    return drop_of(reference[:test.size] - test, metric)


@dataclass(frozen=True)
class Cell:
    """One backend on one sequence."""

    backend: str
    precision: str
    sequence: str
    scores: Scores
    ms: np.ndarray  # per tracked frame: the tracker call (crop, graphs, pixel work)
    drops: dict[str, PooledDrop] = field(default_factory=dict)  # vs the reference trajectory
    noise: dict[str, float] = field(default_factory=dict)  # the noise floor of those drops
    stages: dict[str, list[float]] = field(default_factory=dict)  # per-stage ms of the frames

    def row(self) -> dict[str, Any]:
        return {"backend": self.backend, "precision": self.precision, "sequence": self.sequence,
                "frames": int(self.scores.box.size), **self.scores.means(),
                **speed(self.ms),
                "stages_ms_median": {k: float(np.median(v)) for k, v in self.stages.items() if v},
                "drops": {m: vars(d) for m, d in self.drops.items()}, "noise_floor": self.noise}


def speed(ms: np.ndarray) -> dict[str, float | None]:
    """Median and 99th percentile of per-frame milliseconds (None: no frame timed)."""
    if not ms.size:
        return {"ms_median": None, "ms_p99": None}
    return {"ms_median": float(np.median(ms)), "ms_p99": float(np.percentile(ms, 99))}


def timed_trajectory(runner: Any, seq: Sequence, config: Any, tracker: str,
                     frames: int | None, clock: Any = None) -> tuple[list[Any], np.ndarray]:
    """(results, ms of each tracked frame's tracker call) from the sequence's start; with a
    `clock` (benchmarks.clock.StageClock) the tracker's stages of the tracked frames too.
    `runner` stays open (its owner closes it)."""
    results, ms = [], []

    def on_step(step: loop.Step, _: Any) -> None:
        results.append(step.result)
        if clock is not None:
            clock.recording = True  # from the first tracked frame on: init is not a frame
        if step.number > 0 and not step.skipped:
            ms.append(1000.0 * step.seconds)

    count = len(seq) if frames is None else min(frames, len(seq))
    timer = {"timer": clock} if clock is not None else {}
    with bind(runner, tracker, config, owns_runner=False, **timer) as tracked:
        loop.run(tracked.core, seq, tuple(seq.init_box()), max_frames=count, on_step=on_step,
                 mask=seq.init_mask())
    return results, np.asarray(ms)


def staged_trajectory(runner: Any, seq: Sequence, config: Any, tracker: str,
                      frames: int | None) -> tuple[list[Any], np.ndarray, dict[str, list[float]]]:
    """timed_trajectory plus the per-stage milliseconds of the tracked frames."""
    from masktrt.benchmarks.clock import StageClock

    clock = StageClock()
    results, ms = timed_trajectory(runner, seq, config, tracker, frames, clock)
    return results, ms, {stage: list(v) for stage, v in clock.host["track"].items()}


def reference_cell(seq: Sequence, results: list[Any], ms: np.ndarray) -> Cell:
    return Cell(REFERENCE, "fp32", seq.name, score(seq, results), ms)


def backend_cell(name: str, precision: str, seq: Sequence, reference: Scores,
                 results: list[Any], ms: np.ndarray, noise: dict[str, float]) -> Cell:
    """A backend's cell; `noise` keyed like the drops (gt_box_drop, gt_mask_drop)."""
    scores = score(seq, results)
    drops = {"gt_box_drop": drop(reference.box, scores.box, "gt_box_drop"),
             "gt_mask_drop": drop(reference.j, scores.j, "gt_mask_drop")}
    return Cell(name, precision, seq.name, scores, ms, {k: v for k, v in drops.items() if v},
                noise)


def measure_sequences(reference: Any, runners: list[tuple[str, str, Any]], paths: list[Any],
                      tracker: str, config: Any, noise_runs: int, max_frames: int | None
                      ) -> tuple[list[Cell], list[Verdict]]:
    """Every sequence: the reference's cell, then each (name, precision, runner)'s; then one
    teacher-forced verdict per runner, pooled over the sequences."""
    from tqdm import tqdm

    from masktrt.benchmarks.accuracy import verdict
    from masktrt.benchmarks.parity import frame_level
    from masktrt.budgets import ACCURACY
    from masktrt.runtime.sequences import load_sequence
    from masktrt import registry

    cells, frame_rows = [], {name: [] for name, _, _ in runners}
    for path in tqdm(paths, unit="sequence", disable=None):
        seq = load_sequence(path)
        cells += sequence_cells(reference, runners, seq, tracker, config, noise_runs, max_frames)
        for name, precision, runner in runners:
            frame_rows[name].append(frame_level(reference, runner, name, seq, config, max_frames,
                                                precision, tracker=tracker, budgets=[]))
    spec = registry.spec(tracker)
    verdicts = [verdict(rows, spec.budgets_for(ACCURACY, rows[0].precision))
                for rows in frame_rows.values() if rows]
    return cells, verdicts


def sequence_cells(reference: Any, runners: list[tuple[str, str, Any]], seq: Sequence,
                   tracker: str, config: Any, noise_runs: int, max_frames: int | None) -> list[Cell]:
    from masktrt.benchmarks.noise_floor import EPS, noise_floor

    results, ms, stages = staged_trajectory(reference, seq, config, tracker, max_frames)
    cells = [replace(reference_cell(seq, results, ms), stages=stages)]
    floors = {p: noise_floor(reference, seq, config, tracker, results, noise_runs, EPS[p])
              if p in EPS else {} for p in {precision for _, precision, _ in runners}}
    for name, precision, runner in runners:
        own, own_ms, own_stages = staged_trajectory(runner, seq, config, tracker, max_frames)
        cells.append(replace(backend_cell(name, precision, seq, cells[0].scores, own, own_ms,
                                          floors[precision]), stages=own_stages))
    return cells


@dataclass(frozen=True)
class PrecisionTable:
    tracker: str
    cells: list[Cell]
    verdicts: list[Verdict]
    machine: dict[str, Any]
    settings: dict[str, Any]

    def ms(self, backend: str) -> np.ndarray:
        """Every timed frame of `backend`, all sequences pooled."""
        parts = [c.ms for c in self.cells if c.backend == backend]
        return np.concatenate(parts) if parts else np.zeros(0)

    def stage_samples(self, backend: str) -> dict[str, list[float]]:
        """Every tracked frame's per-stage ms of `backend`, all sequences pooled."""
        pooled: dict[str, list[float]] = {}
        for c in self.cells:
            if c.backend == backend:
                for stage, values in c.stages.items():
                    pooled.setdefault(stage, []).extend(values)
        return pooled

    def baseline_ms(self) -> float | None:
        """The reference's median ms/frame (the speed ratio's denominator)."""
        return speed(self.ms(REFERENCE))["ms_median"]


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _interval(d: PooledDrop | None) -> str:
    return "-" if d is None else f"{d.mean:+.3f} [{d.low:+.3f}, {d.high:+.3f}]"


def markdown(table: PrecisionTable) -> str:
    """The table as Markdown: one line per sequence x backend, then the verdicts."""
    head = ["sequence", "backend", "precision", "J", "F", "box IoU", "box AUC",
            "J drop [95 % CI]", "box drop [95 % CI]", "noise floor (J / box)",
            "ms/frame median / p99"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for c in table.cells:
        m = c.scores.means()
        noise = (f"{_fmt(c.noise.get('gt_mask_drop'))} / {_fmt(c.noise.get('gt_box_drop'))}"
                 if c.backend != REFERENCE else "-")
        lines.append("| " + " | ".join([
            c.sequence, c.backend, c.precision, _fmt(m["J"]), _fmt(m["F"]), _fmt(m["box_iou"]),
            _fmt(m["box_auc"]), _interval(c.drops.get("gt_mask_drop")),
            _interval(c.drops.get("gt_box_drop")), noise, _ms(c.ms)]) + " |")
    return "\n".join(lines + [""] + verdict_lines(table))


def verdict_lines(table: PrecisionTable) -> list[str]:
    """Per backend: the teacher-forced pooled drops, the budgets, the verdict, the speed ratio."""
    base = table.baseline_ms()
    head = ["backend", "precision", "teacher-forced J drop [95 % CI]",
            "teacher-forced box drop [95 % CI]", "budgets", "verdict", "ms/frame median / p99",
            "speed vs torch FP32 (median)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for v in table.verdicts:
        budgets = "; ".join(f"{b.metric} {m:+.4f} <= {b.value:g}" for b, m, _ in v.checks) or "none measured"
        ms = table.ms(v.backend)
        median = speed(ms)["ms_median"]
        ratio = f"{base / median:.2f}x" if base and median else "-"
        lines.append("| " + " | ".join([
            v.backend, v.precision, _interval(v.drops.get("gt_mask_drop")),
            _interval(v.drops.get("gt_box_drop")), budgets, "PASS" if v.passed else "FAIL",
            _ms(ms), ratio]) + " |")
    return lines


def _ms(ms: np.ndarray) -> str:
    figures = speed(ms)
    if figures["ms_median"] is None:
        return "not measured"
    return f"{figures['ms_median']:.1f} / {figures['ms_p99']:.1f}"


def to_json(table: PrecisionTable) -> dict[str, Any]:
    from masktrt.benchmarks.accuracy import verdict_json

    return {"tracker": table.tracker, "machine": table.machine, "settings": table.settings,
            "reference": REFERENCE, "baseline_ms_median": table.baseline_ms(),
            "speed": {b: speed(table.ms(b)) for b in dict.fromkeys(c.backend for c in table.cells)},
            "cells": [c.row() for c in table.cells], "verdicts": verdict_json(table.verdicts),
            "method": METHOD}


METHOD = {
    "closed_loop": "each backend tracks each sequence from its first box (or mask) on its own; "
                   "J, F, box IoU and AUC against the ground truth over frames 1..N-1",
    "drops": "reference trajectory minus backend trajectory, per frame; mean and 95 % "
             "percentile bootstrap interval (a diagnostic: closed loops amplify rounding)",
    "noise_floor": "largest |mean drop| of K FP32 reference runs with every float output "
                   "perturbed by the judged precision's rounding size (benchmarks/noise_floor.py)",
    "verdict": "teacher-forced: each frame from the reference's state; drops pooled over all "
               "frames of all sequences; the spec's accuracy budgets bound the interval",
    "ms": "per tracked frame of the closed-loop run, the tracker call (crop, graphs, pixel work, "
          "Python) on this machine; median and 99th percentile; one process, backends one "
          "after another",
}


def plot(table: PrecisionTable, path: Any) -> Any:
    """J (or box IoU where a sequence has no masks) per sequence and backend, and ms/frame."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from masktrt.benchmarks.plot import save_figure

    backends = list(dict.fromkeys(c.backend for c in table.cells))
    sequences = list(dict.fromkeys(c.sequence for c in table.cells))
    fig, (acc, timing) = plt.subplots(1, 2, figsize=(12, 4.5))
    width = 0.8 / max(len(backends), 1)
    for i, backend in enumerate(backends):
        cells = {c.sequence: c for c in table.cells if c.backend == backend}
        values = [_accuracy(cells.get(s)) for s in sequences]
        acc.bar(np.arange(len(sequences)) + i * width, values, width, label=backend)
        timing.bar(i, speed(table.ms(backend))["ms_median"] or 0.0, label=backend)
    acc.set_xticks(np.arange(len(sequences)) + 0.4 - width / 2, sequences, rotation=20)
    acc.set_ylabel("J (box IoU without masks)")
    acc.set_ylim(0, 1)
    acc.legend(fontsize=8)
    timing.set_xticks(range(len(backends)), backends, rotation=20)
    timing.set_ylabel("ms per frame (median, all sequences)")
    fig.suptitle(f"{table.tracker}: accuracy and speed by backend and precision")
    return save_figure(fig, path, plt)


def plot_stages(table: PrecisionTable, path: Any) -> Any:
    """Per-stage latency boxes of every backend (log scale), as `masktrt bench` draws them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from masktrt import registry
    from masktrt.benchmarks.plot import stage_boxes, save_figure

    backends = list(dict.fromkeys(c.backend for c in table.cells))
    measured = [{"name": b, "samples_ms": table.stage_samples(b)} for b in backends]
    stages = [s for s in registry.spec(table.tracker).stages.get("track", ())
              if any(m["samples_ms"].get(s) for m in measured)]
    fig, ax = plt.subplots(figsize=(10, 4.5))
    stage_boxes(ax, measured, stages, plt)
    fig.suptitle(f"{table.tracker}: per-stage latency of the tracked frames, by backend")
    return save_figure(fig, path, plt)


def _accuracy(cell: Cell | None) -> float:
    if cell is None:
        return 0.0
    means = cell.scores.means()
    return means["J"] if means["J"] is not None else (means["box_iou"] or 0.0)
