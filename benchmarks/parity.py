"""Frame-level and closed-loop parity of a deployed backend against the PyTorch reference.

Elementwise agreement can hide a drifting trajectory (the next crop is cut where the last
prediction said), so the closed loop tracks the whole sequence with each backend from the same
initial box and compares the trajectories frame by frame. The frame level isolates one step:
both backends get the reference's state and the same frame, so a difference there is the
network's, not accumulated drift.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from masktrt.benchmarks.metrics import box_iou, polygon_iou, region_similarity
from masktrt.budgets import Budget, budgets_for
from masktrt.errors import MasktrtError
from masktrt.runtime.backends.base import Backend
from masktrt.specs.siammask import TrackerConfig
from masktrt.runtime.sequences import Sequence
from masktrt.runtime.trackers.siammask import SiamMaskTracker, initial_result
from masktrt.types import FrameResult, TargetState

METRICS = ("box_iou", "polygon_iou", "mask_iou")


def run_trajectory(backend: Backend, seq: Sequence, config: TrackerConfig,
                   frames: int | None = None, progress=None) -> list[FrameResult]:
    """Track `seq` from its initial box; result 0 is the initialisation frame."""
    tracker = SiamMaskTracker(backend, config)
    count = len(seq) if frames is None else min(frames, len(seq))
    state = tracker.init(seq.frame(0), tuple(seq.init_box()))
    results = [initial_result(state)]
    for index in range(1, count):
        state, result = tracker.track(seq.frame(index), state)
        results.append(result)
        if progress is not None:
            progress.update(1)
    return results


def compare_results(ref: FrameResult, test: FrameResult) -> dict[str, float]:
    """Box IoU, rotated-polygon IoU and mask IoU of one frame's outputs."""
    return {
        "box_iou": float(box_iou(ref.xywh, test.xywh)),
        "polygon_iou": polygon_iou(ref.polygon, test.polygon),
        "mask_iou": region_similarity(test.mask, ref.mask)
        if ref.mask is not None and test.mask is not None else 1.0,
    }


@dataclass
class ParityRow:
    """Per-frame agreement of one backend with the reference, and its verdict on the budgets."""

    backend: str
    sequence: str
    level: str
    precision: str
    per_frame: dict[str, np.ndarray]
    budgets: list[Budget] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self, metric: str) -> tuple[float, float]:
        values = self.per_frame[metric]
        return (float(values.mean()), float(values.min())) if values.size else (1.0, 1.0)

    def first_below(self, metric: str, threshold: float) -> int | None:
        """Frame number (as in the sequence) of the first frame below `threshold`."""
        below = np.flatnonzero(self.per_frame[metric] < threshold)
        return int(below[0]) + 1 if below.size else None

    def checks(self) -> list[tuple[Budget, float, bool]]:
        out = []
        for b in self.budgets:
            metric, stat = b.metric.rsplit("_", 1)  # e.g. "box_iou_mean" -> ("box_iou", "mean")
            mean, minimum = self.summary(metric)
            measured = mean if stat == "mean" else minimum
            out.append((b, measured, b.passes(measured)))
        return out

    @property
    def passed(self) -> bool:
        return all(ok for _, _, ok in self.checks())


def loop_budgets(level: str, precision: str) -> list[Budget]:
    """The budgets of a level; none would make every row pass unchecked, so that is an error."""
    found = budgets_for(level, precision)
    if not found:
        raise MasktrtError(f"no {level} parity budget for precision '{precision}'",
                           "add one to masktrt/budgets.py")
    return found


def _per_frame(pairs: list[tuple[FrameResult, FrameResult]]) -> dict[str, np.ndarray]:
    rows = [compare_results(r, t) for r, t in pairs]
    return {m: np.array([row[m] for row in rows], dtype=np.float64) for m in METRICS}


def closed_loop(reference: list[FrameResult], backend: Backend, name: str, seq: Sequence,
                config: TrackerConfig, precision: str = "fp32", progress=None) -> ParityRow:
    """Track `seq` with `backend` and compare with the reference trajectory (frames 1..N-1)."""
    start = time.perf_counter()
    test = run_trajectory(backend, seq, config, frames=len(reference), progress=progress)
    seconds = time.perf_counter() - start
    return ParityRow(name, seq.name, "closed-loop", precision,
                     _per_frame(list(zip(reference[1:], test[1:]))),
                     loop_budgets("closed-loop", precision), seconds)


def frame_level(reference_backend: Backend, backend: Backend, name: str, seq: Sequence,
                config: TrackerConfig, frames: int | None = None, precision: str = "fp32",
                progress=None) -> ParityRow:
    """Each frame tracked by both backends from the reference's state of the frame before."""
    ref_tracker, test_tracker = SiamMaskTracker(reference_backend, config), SiamMaskTracker(backend, config)
    first = seq.frame(0)
    box = tuple(seq.init_box())
    ref_state, test_state = ref_tracker.init(first, box), test_tracker.init(first, box)
    count = len(seq) if frames is None else min(frames, len(seq))
    pairs = []
    start = time.perf_counter()
    for index in range(1, count):
        frame = seq.frame(index)
        shared = TargetState(center=ref_state.center, size=ref_state.size,
                             avg_chans=ref_state.avg_chans, frame_hw=ref_state.frame_hw,
                             kernels=test_state.kernels, score=ref_state.score)
        _, test_result = test_tracker.track(frame, shared)
        ref_state, ref_result = ref_tracker.track(frame, ref_state)
        pairs.append((ref_result, test_result))
        if progress is not None:
            progress.update(1)
    return ParityRow(name, seq.name, "frame", precision, _per_frame(pairs),
                     loop_budgets("frame", precision), time.perf_counter() - start)


def format_table(rows: list[ParityRow]) -> str:
    """The table `masktrt parity` prints: one line per (backend, sequence, budget)."""
    header = (f"{'level':<11} {'backend':<22} {'sequence':<16} {'metric':<16} "
              f"{'measured':>9} {'budget':>10} {'first<':>6} result")
    lines = [header, "-" * len(header)]
    for row in rows:
        for b, measured, ok in row.checks():
            metric = b.metric.rsplit("_", 1)[0]
            first = row.first_below(metric, b.value) if b.metric.endswith("_min") else None
            bound = (">=" if b.kind == "min" else "<=") + f"{b.value:g}"
            lines.append(f"{row.level:<11} {row.backend:<22} {row.sequence:<16} {b.metric:<16} "
                         f"{measured:>9.4f} {bound:>10} {'-' if first is None else first:>6} "
                         f"{'PASS' if ok else 'FAIL'}")
    return "\n".join(lines)


def rows_to_json(rows: list[ParityRow]) -> dict:
    """Machine-readable parity report: per row, the summary, each check and per-frame values."""
    out = []
    for row in rows:
        out.append({
            "level": row.level, "backend": row.backend, "sequence": row.sequence,
            "precision": row.precision, "seconds": row.seconds, "passed": row.passed,
            "summary": {m: dict(zip(("mean", "min"), row.summary(m))) for m in METRICS},
            "checks": [{"budget": b.name, "metric": b.metric, "bound": b.value, "kind": b.kind,
                        "measured": measured, "passed": ok} for b, measured, ok in row.checks()],
            "per_frame": {m: row.per_frame[m].tolist() for m in METRICS},
        })
    return {"schema": "masktrt.parity/1", "rows": out}
