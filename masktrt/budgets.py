"""Parity budgets: named thresholds with the reason each is what it is.

A budget is a named threshold with its justification (polygraphy's comparators in spirit). Each
tracker's spec holds its own table (`masktrt.trackers.<name>.spec.BUDGETS`), which `masktrt
parity`, the tests and the reports read. Levels: `tensor` (each subgraph output vs PyTorch),
`frame` (one frame's tracker outputs given identical state), `closed-loop` (whole trajectories vs
the reference), `block` (INT8 sensitivity of one quantised block) and `accuracy` (the verdict:
what a precision loses against the ground truth, benchmarks/accuracy.py). Agreement budgets
(frame, closed-loop) are diagnostics; the accuracy budgets decide whether a precision ships.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

ACCURACY = "accuracy"  # the level of the verdict budgets
ACCURACY_METRICS = ("gt_mask_drop_high", "gt_box_drop_high")  # upper ends of the 95 % intervals
# The limits every tracker's spec starts from, and why they are what they are.
ACCURACY_LIMITS = {"fp32": 0.005, "fp16": 0.01, "int8": 0.02}
ACCURACY_WHY = ("what a user loses: with 95 % confidence the mean teacher-forced loss against the "
                "ground truth (J, box IoU) is at most this. FP32 backends differ from PyTorch only "
                "in summation order (0.005: noise of a few boundary pixels). FP16: the field "
                "reports it nearly free for Siamese trackers (EAO 0.392 -> 0.389 on Xavier), and "
                "0.01 J is well inside the 0.13 J two FP32 runs started a pixel apart differ by. "
                "INT8: ~10 % relative EAO loss is reported without care (0.389 -> 0.347); 0.02 is "
                "what a recipe worth shipping must keep to")


@dataclass(frozen=True)
class Budget:
    """`value` is an upper bound when `kind == 'max'` and a lower bound when `kind == 'min'`."""

    name: str
    level: str  # tensor | frame | closed-loop | block
    precision: str  # fp32 | fp16 | int8
    metric: str
    value: float
    kind: str  # 'max' (error) or 'min' (agreement)
    why: str

    def passes(self, measured: float) -> bool:
        return measured <= self.value if self.kind == "max" else measured >= self.value


def accuracy_budgets(limits: Mapping[str, float], why: str) -> tuple[Budget, ...]:
    """Per precision, a bound on the upper end of the 95 % interval of the mean teacher-forced
    drop (reference minus backend, against the ground truth) of J and of box IoU."""
    return tuple(Budget(f"accuracy-{precision}-{metric.split('_')[1]}", ACCURACY, precision, metric,
                        limit, "max", why)
                 for precision, limit in limits.items() for metric in ACCURACY_METRICS)
