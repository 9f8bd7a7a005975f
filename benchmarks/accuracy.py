"""The precision verdict: what a backend loses in accuracy against the ground truth.

Agreement with the reference trajectory is a diagnostic, not a verdict: a tracker's closed loop
amplifies any rounding (a 1-pixel shift of the start box moves per-sequence J by up to 0.13), so
FP16 and INT8 "failed" agreement exactly as often as FP32 itself did. What a user loses is
accuracy, so the verdict is measured teacher-forced: every frame is tracked by the reference and
by the backend from the reference's state of the frame before (the frame level), each result is
scored against the ground truth, and the drop (reference minus backend, per frame: box IoU, and
mask J where the sequence has masks) is pooled over all frames of all sequences. No drift, so
the frames are close to independent and a percentile bootstrap of the mean gives its interval.
The budgets (level "accuracy" in each tracker's spec) bound the interval's upper end: with 95 %
confidence the backend loses no more than that, on these sequences.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from masktrt.budgets import Budget
from masktrt.errors import MasktrtError

LEVEL = "accuracy"
DROPS = {"gt_box_drop": "box IoU", "gt_mask_drop": "J (mask)"}  # frame-level metric -> wording
RESAMPLES = 2000
CONFIDENCE = 0.95
SEED = 0  # the bootstrap's own seed: the interval of one set of drops is always the same


@dataclass(frozen=True)
class PooledDrop:
    """A drop's mean over every compared frame and its bootstrap interval."""

    metric: str
    mean: float
    low: float
    high: float
    frames: int

    def stat(self, name: str) -> float:
        return {"mean": self.mean, "high": self.high, "low": self.low}[name]


def bootstrap_interval(values: np.ndarray, resamples: int = RESAMPLES,
                       confidence: float = CONFIDENCE, seed: int = SEED) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of `values`."""
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, values.size, (resamples, values.size))].mean(axis=1)
    tail = (1.0 - confidence) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def pooled_drop(rows: list[Any], metric: str) -> PooledDrop | None:
    """`metric` pooled over the rows that measured it (None when none did)."""
    parts = [row.per_frame[metric] for row in rows if metric in row.per_frame]
    values = np.concatenate(parts) if parts else np.zeros(0)
    return drop_of(values, metric) if values.size else None


def drop_of(values: np.ndarray, metric: str) -> PooledDrop:
    """The mean of per-frame drops and its bootstrap interval; non-finite drops are an error."""
    if not np.all(np.isfinite(values)):
        raise MasktrtError(f"non-finite {metric} values in the comparison",
                           "check the backend's outputs (parity --level frame shows where)")
    low, high = bootstrap_interval(values)
    return PooledDrop(metric, float(values.mean()), low, high, int(values.size))


@dataclass(frozen=True)
class Verdict:
    """The accuracy budgets of one backend, checked on its pooled drops."""

    backend: str
    precision: str
    drops: dict[str, PooledDrop]
    checks: list[tuple[Budget, float, bool]]

    @property
    def passed(self) -> bool:
        """False when nothing was compared: no pooled drop or no budget measured."""
        return bool(self.drops) and bool(self.checks) and all(ok for _, _, ok in self.checks)


def budget_metric(budget: Budget) -> tuple[str, str]:
    """("gt_mask_drop", "high") from "gt_mask_drop_high"."""
    metric, stat = budget.metric.rsplit("_", 1)
    if metric not in DROPS or stat not in ("mean", "high", "low"):
        raise MasktrtError(f"accuracy budget '{budget.name}' reads '{budget.metric}'",
                           f"name one of {', '.join(DROPS)} with _mean, _high or _low")
    return metric, stat


def verdict(rows: list[Any], budgets: list[Budget]) -> Verdict:
    """Pool one backend's frame-level rows and check the accuracy budgets of its precision."""
    if not rows:
        raise MasktrtError("no frame-level rows to judge", "pass sequences with ground truth")
    drops = {m: d for m in DROPS if (d := pooled_drop(rows, m)) is not None}
    checks = []
    for budget in budgets:
        metric, stat = budget_metric(budget)
        if metric in drops:
            measured = drops[metric].stat(stat)
            checks.append((budget, measured, budget.passes(measured)))
    return Verdict(rows[0].backend, rows[0].precision, drops, checks)


def format_verdicts(rows: list[Any], verdicts: list[Verdict]) -> str:
    """Per sequence: reference and backend accuracy and the mean drop; then the pooled drops
    with their interval and the verdict."""
    head = (f"{'backend':<22} {'sequence':<16} {'frames':>6} {'ref J':>6} {'J':>6} {'J drop':>7} "
            f"{'ref box':>7} {'box':>6} {'box drop':>8}")
    lines = ["teacher-forced accuracy (each frame from the reference's state), against the "
             "ground truth", head, "-" * len(head)]
    lines += [sequence_line(row) for row in rows]
    for v in verdicts:
        lines.append("")
        for metric, drop in v.drops.items():
            lines.append(f"{v.backend}: {DROPS[metric]} drop {drop.mean:+.4f} "
                         f"[{drop.low:+.4f}, {drop.high:+.4f}] ({CONFIDENCE:.0%} bootstrap, "
                         f"{drop.frames} frames)")
        for budget, measured, ok in v.checks:
            lines.append(f"{v.backend}: {budget.name}: {budget.metric} {measured:+.4f} "
                         f"<= {budget.value:g}: {'PASS' if ok else 'FAIL'}")
        if not v.checks:
            lines.append(f"{v.backend}: FAIL (no accuracy budget measured: no ground truth?)")
        lines.append(f"{v.backend} {v.precision}: {'PASS' if v.passed else 'FAIL'}")
    return "\n".join(lines)


def sequence_line(row: Any) -> str:
    def mean(key: str) -> str:
        values = row.per_frame.get(key)
        return f"{values.mean():.3f}" if values is not None and values.size else "-"

    return (f"{row.backend:<22} {row.sequence:<16} {row.frames:>6} {mean('gt_ref_mask'):>6} "
            f"{mean('gt_test_mask'):>6} {mean('gt_mask_drop'):>7} {mean('gt_ref_box'):>7} "
            f"{mean('gt_test_box'):>6} {mean('gt_box_drop'):>8}")


def verdict_json(verdicts: list[Verdict]) -> list[dict[str, Any]]:
    return [{"backend": v.backend, "precision": v.precision, "passed": v.passed,
             "drops": {m: vars(d) for m, d in v.drops.items()},
             "budgets": [{"name": b.name, "metric": b.metric, "value": b.value,
                          "measured": m, "passed": ok, "why": b.why} for b, m, ok in v.checks]}
            for v in verdicts]
