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
from typing import Any, Callable

import numpy as np

from masktrt import registry
from masktrt.benchmarks.metrics import box_iou, polygon_iou, region_similarity
from masktrt.budgets import Budget
from masktrt.errors import MasktrtError
from masktrt.registry import DEFAULT_TRACKER
from masktrt.runtime import loop
from masktrt.runtime.backends.base import GraphRunner
from masktrt.runtime.sequences import Sequence
from masktrt.runtime.session import bind
from masktrt.types import FrameResult

METRICS = ("box_iou", "polygon_iou", "mask_iou")
# closed loop, where the sequence has ground truth: per frame, IoU(reference, truth) minus
# IoU(backend, truth). A loop that relearns from its own output (RTS) can part from the
# reference on a 1e-6 difference and still track as well; these say whether it does.
GT_METRICS = ("gt_box_drop", "gt_mask_drop")
NOISE_RESOLUTION = 5e-5  # half the printed resolution: a drop that prints as the floor is within it
Progress = Any  # a tqdm bar (anything with update(n))


def _count(seq: Sequence, frames: int | None) -> int:
    return len(seq) if frames is None else min(frames, len(seq))


def _collect(out: list, progress: Progress | None) -> Callable[[loop.Step, loop.LoopSummary], None]:
    """A loop callback keeping each step's result; the progress bar counts tracked frames."""
    def on_step(step: loop.Step, _: loop.LoopSummary) -> None:
        out.append(step.result)
        if progress is not None and step.number > 0:
            progress.update(1)
    return on_step


def run_trajectory(runner: GraphRunner, seq: Sequence, config: Any, frames: int | None = None,
                   progress: Progress | None = None, tracker: str = DEFAULT_TRACKER) -> list[FrameResult]:
    """Track `seq` from its initial box (and first mask, where it has one) with `runner`
    (the caller's: it stays open); result 0 is the initialisation frame."""
    results: list[FrameResult] = []
    with bind(runner, tracker, config, owns_runner=False) as bound:
        loop.run(bound.core, seq, tuple(seq.init_box()), max_frames=_count(seq, frames),
                 on_step=_collect(results, progress), mask=seq.init_mask())
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
    # how often the reference took each branch the tracker reports (closed loop): a loop that
    # never took a branch says nothing about it (e.g. RTS's classifier: found / not_found)
    branches: dict[str, dict[str, int]] = field(default_factory=dict)
    # closed loop: per ground-truth drop metric, the largest |mean drop| of perturbed reference
    # runs (benchmarks/noise_floor.py); a drop within it is the loop's own chaos
    noise: dict[str, float] = field(default_factory=dict)
    noise_runs: int = 0

    def summary(self, metric: str) -> tuple[float, float]:
        values = self.per_frame[metric]
        return (float(values.mean()), float(values.min())) if values.size else (1.0, 1.0)

    def first_below(self, metric: str, threshold: float) -> int | None:
        """Frame number (as in the sequence) of the first frame below `threshold`."""
        below = np.flatnonzero(self.per_frame[metric] < threshold)
        return int(below[0]) + 1 if below.size else None

    def applies(self, budget: Budget) -> bool:
        """False for a ground-truth budget on a sequence without that ground truth; a budget
        on anything parity does not measure is an error, never a silent pass."""
        metric = budget.metric.rsplit("_", 1)[0]
        if metric in self.per_frame or metric in GT_METRICS:
            return metric in self.per_frame
        raise MasktrtError(f"budget '{budget.name}' reads '{metric}', which parity does not measure",
                           f"name one of {', '.join(METRICS + GT_METRICS)} in the spec's budget")

    def not_applicable(self) -> list[Budget]:
        return [b for b in self.budgets if not self.applies(b)]

    def checks(self) -> list[tuple[Budget, float, bool]]:
        out = []
        for b in filter(self.applies, self.budgets):
            metric, stat = b.metric.rsplit("_", 1)  # e.g. "box_iou_mean" -> ("box_iou", "mean")
            mean, minimum = self.summary(metric)
            measured = mean if stat == "mean" else minimum
            out.append((b, measured, b.passes(measured)))
        return out

    @property
    def frames(self) -> int:
        """How many frames were compared (each metric has one value per compared frame)."""
        return min((v.size for v in self.per_frame.values()), default=0)

    def problem(self) -> str | None:
        """Why the row cannot pass whatever its numbers say: nothing was compared."""
        if self.frames == 0:
            return "compared 0 frames"
        if not self.checks():
            return "no budget applies to this sequence"
        return None

    @property
    def passed(self) -> bool:
        return self.problem() is None and all(ok for _, _, ok in self.checks())


def loop_budgets(level: str, precision: str, tracker: str = DEFAULT_TRACKER) -> list[Budget]:
    """The budgets of a level; none would make every row pass unchecked, so that is an error."""
    found = registry.spec(tracker).budgets_for(level, precision)
    if not found:
        raise MasktrtError(f"no {level} parity budget for precision '{precision}'",
                           f"add one to the budgets of the '{tracker}' spec (trackers/{tracker}/spec.py)")
    return found


def _per_frame(pairs: list[tuple[FrameResult, FrameResult]]) -> dict[str, np.ndarray]:
    rows = [compare_results(r, t) for r, t in pairs]
    return {m: np.array([row[m] for row in rows], dtype=np.float64) for m in METRICS}


def branch_counts(results: list[FrameResult]) -> dict[str, dict[str, int]]:
    """Per `extra` key with text or flag values (the branches a tracker reports), the count of
    frames per value."""
    counts: dict[str, dict[str, int]] = {}
    for result in results:
        for key, value in result.extra.items():
            if isinstance(value, (str, bool)):
                per_value = counts.setdefault(key, {})
                per_value[str(value)] = per_value.get(str(value), 0) + 1
    return counts


def closed_loop(reference: list[FrameResult], runner: GraphRunner, name: str, seq: Sequence,
                config: Any, precision: str = "fp32", progress: Progress | None = None,
                tracker: str = DEFAULT_TRACKER) -> ParityRow:
    """Track `seq` with `runner` and compare with the reference trajectory (frames 1..N-1)."""
    start = time.perf_counter()
    test = run_trajectory(runner, seq, config, frames=len(reference), progress=progress,
                          tracker=tracker)
    seconds = time.perf_counter() - start
    pairs = list(zip(reference[1:], test[1:]))
    return ParityRow(name, seq.name, "closed-loop", precision,
                     {**_per_frame(pairs), **accuracy_drops(seq, pairs)},
                     loop_budgets("closed-loop", precision, tracker), seconds,
                     branch_counts(reference[1:]))


def accuracy_drops(seq: Sequence, pairs: list[tuple[FrameResult, FrameResult]]
                   ) -> dict[str, np.ndarray]:
    """`GT_METRICS` of frames 1..len(pairs), each where the sequence has that ground truth, and
    the scores they are the difference of (gt_ref_box / gt_test_box, gt_ref_mask / gt_test_mask)."""
    frames = range(1, len(pairs) + 1)
    scores = {}
    if seq.has_groundtruth:
        truth = seq.boxes
        scores["box"] = [(float(box_iou(r.xywh, truth[t])), float(box_iou(x.xywh, truth[t])))
                         for t, (r, x) in zip(frames, pairs)]
    if seq.has_masks and all(r.mask is not None and x.mask is not None for r, x in pairs):
        scores["mask"] = [(region_similarity(r.mask, seq.mask(t)), region_similarity(x.mask, seq.mask(t)))
                          for t, (r, x) in zip(frames, pairs)]
    out = {}
    for kind, values in scores.items():
        ref, test = np.array(values, dtype=np.float64).reshape(-1, 2).T
        out.update({f"gt_{kind}_drop": ref - test, f"gt_ref_{kind}": ref, f"gt_test_{kind}": test})
    return out


def shared_state(tracker: Any, reference_state: Any, own_state: Any) -> Any:
    """The reference's state carrying the tested tracker's own per-target values: the tracker
    says how (`frame_state(reference_state, own_state)`)."""
    return tracker.frame_state(reference_state, own_state)


class FrameLevelPair:
    """Two trackers as one, for the loop: each frame, the tested tracker steps from the
    reference's state of the frame before, then the reference steps on (so a difference is the
    network's, not accumulated drift). What the tracker's `frame_state` keeps of its own state
    (learned filters, memories, its template) is carried forward from its own previous step.
    Its results are (reference, tested) pairs."""

    def __init__(self, reference: Any, tested: Any) -> None:
        self.reference, self.tested = reference, tested

    def init(self, frame: Any, box: loop.Box, mask: Any = None) -> tuple[Any, Any]:
        return (loop.init_call(self.reference, frame, box, mask)(),
                loop.init_call(self.tested, frame, box, mask)())

    def track(self, frame: Any, state: tuple[Any, Any]) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
        ref_state, test_state = state
        test_state, test_result = self.tested.track(frame, shared_state(self.tested, ref_state,
                                                                         test_state))
        ref_state, ref_result = self.reference.track(frame, ref_state)
        return (ref_state, test_state), (ref_result, test_result)

    def initial_result(self, state: Any) -> None:
        return None  # frame 0 is not compared


def frame_level(reference_runner: GraphRunner, runner: GraphRunner, name: str, seq: Sequence,
                config: Any, frames: int | None = None, precision: str = "fp32",
                progress: Progress | None = None, tracker: str = DEFAULT_TRACKER,
                budgets: list[Budget] | None = None) -> ParityRow:
    """Each frame tracked by both runners from the reference's state of the frame before;
    `budgets`: the agreement budgets to judge (default: the spec's frame budgets; the accuracy
    verdict passes [] and judges the ground-truth drops instead)."""
    results: list = []
    start = time.perf_counter()
    with bind(reference_runner, tracker, config, owns_runner=False) as reference, \
            bind(runner, tracker, config, owns_runner=False) as test:
        loop.run(FrameLevelPair(reference.core, test.core), seq, tuple(seq.init_box()),
                 max_frames=_count(seq, frames), on_step=_collect(results, progress),
                 mask=seq.init_mask())
    pairs = results[1:]
    return ParityRow(name, seq.name, "frame", precision,
                     {**_per_frame(pairs), **accuracy_drops(seq, pairs)},
                     loop_budgets("frame", precision, tracker) if budgets is None else budgets,
                     time.perf_counter() - start)


def format_table(rows: list[ParityRow]) -> str:
    """The table `masktrt parity` prints: one line per (backend, sequence, budget)."""
    header = (f"{'level':<11} {'backend':<22} {'sequence':<16} {'metric':<18} "
              f"{'measured':>9} {'budget':>10} {'first<':>6} result")
    lines = [header, "-" * len(header)]
    for row in rows:
        for b, measured, ok in row.checks():
            metric = b.metric.rsplit("_", 1)[0]
            first = row.first_below(metric, b.value) if b.metric.endswith("_min") else None
            bound = (">=" if b.kind == "min" else "<=") + f"{b.value:g}"
            lines.append(f"{row.level:<11} {row.backend:<22} {row.sequence:<16} {b.metric:<18} "
                         f"{measured:>9.4f} {bound:>10} {'-' if first is None else first:>6} "
                         f"{'PASS' if ok else 'FAIL'}")
        for b in row.not_applicable():
            lines.append(f"{row.level:<11} {row.backend:<22} {row.sequence:<16} {b.metric:<18} "
                         f"{'-':>9} {'':>10} {'-':>6} n/a (no such ground truth)")
        if row.problem():
            lines.append(f"{row.level:<11} {row.backend:<22} {row.sequence:<16} {'(all)':<18} "
                         f"{'-':>9} {'':>10} {'-':>6} FAIL ({row.problem()})")
    lines += branch_lines(rows) + noise_lines(rows)
    return "\n".join(lines)


def noise_lines(rows: list[ParityRow]) -> list[str]:
    """Per closed-loop row, each ground-truth drop beside the noise floor of the reference."""
    lines = []
    for row in rows:
        if row.level != "closed-loop":
            continue
        if not row.noise_runs:
            lines.append(f"noise floor {row.backend} {row.sequence}: not measured (--noise-runs 0)")
            continue
        for metric, floor in row.noise.items():
            drop = float(row.per_frame[metric].mean()) if metric in row.per_frame else float("nan")
            where = "within" if abs(drop) <= floor + NOISE_RESOLUTION else "beyond"
            runs = f"{row.noise_runs} FP32 reference run{'s' if row.noise_runs > 1 else ''}"
            lines.append(f"noise floor {row.backend} {row.sequence}: {metric} {drop:+.4f}, {where} "
                         f"the reference's own ±{floor:.4f} ({runs} perturbed at "
                         f"{row.precision} rounding size)")
    return lines


def branch_lines(rows: list[ParityRow]) -> list[str]:
    """'branches <sequence>: key value n, ...' once per sequence that has any."""
    seen, lines = set(), []
    for row in rows:
        if row.branches and row.sequence not in seen:
            seen.add(row.sequence)
            text = "; ".join(f"{key} " + ", ".join(f"{v} {n}" for v, n in sorted(values.items()))
                             for key, values in sorted(row.branches.items()))
            lines.append(f"branches of the reference, {row.sequence}: {text}")
    return lines


def rows_to_json(rows: list[ParityRow]) -> dict:
    """Machine-readable parity report: per row, the summary, each check and per-frame values."""
    out = []
    for row in rows:
        out.append({
            "level": row.level, "backend": row.backend, "sequence": row.sequence,
            "precision": row.precision, "seconds": row.seconds, "passed": row.passed,
            "summary": {m: dict(zip(("mean", "min"), row.summary(m))) for m in row.per_frame},
            "checks": [{"budget": b.name, "metric": b.metric, "bound": b.value, "kind": b.kind,
                        "measured": measured, "passed": ok} for b, measured, ok in row.checks()],
            "per_frame": {m: row.per_frame[m].tolist() for m in row.per_frame},
            "not_applicable": [b.name for b in row.not_applicable()],
            "branches": row.branches,
            "noise_floor": {"runs": row.noise_runs, **row.noise},
        })
    return {"schema": "masktrt.parity/1", "rows": out}
