"""The precision verdict (benchmarks/accuracy.py): pooled teacher-forced drops against the ground
truth, a bootstrap interval, and the spec's accuracy budgets on its upper end."""
from __future__ import annotations

import numpy as np
import pytest

from masktrt import registry
from masktrt.benchmarks.accuracy import bootstrap_interval, format_verdicts, pooled_drop, verdict
from masktrt.benchmarks.parity import ParityRow
from masktrt.budgets import ACCURACY, ACCURACY_LIMITS
from masktrt.errors import MasktrtError


def row(drops: np.ndarray, precision: str = "fp16", backend: str = "onnxruntime-fp16") -> ParityRow:
    ones = np.ones(drops.size)
    per_frame = {"box_iou": ones, "polygon_iou": ones, "mask_iou": ones,
                 "gt_box_drop": drops, "gt_mask_drop": drops,
                 "gt_ref_mask": 0.7 * ones, "gt_test_mask": 0.7 * ones - drops,
                 "gt_ref_box": 0.6 * ones, "gt_test_box": 0.6 * ones - drops}
    return ParityRow(backend, "seq", "frame", precision, per_frame)


def budgets(precision: str = "fp16") -> list:
    return registry.spec("siammask").budgets_for(ACCURACY, precision)


def test_every_tracker_has_accuracy_budgets_for_every_precision() -> None:
    for name in registry.names():
        for precision in ACCURACY_LIMITS:
            assert len(registry.spec(name).budgets_for(ACCURACY, precision)) == 2, (name, precision)


def test_the_interval_brackets_the_mean_and_repeats() -> None:
    values = np.random.default_rng(1).normal(0.004, 0.02, 400)
    low, high = bootstrap_interval(values)
    assert low < values.mean() < high and high - low < 0.01
    assert bootstrap_interval(values) == (low, high)


def test_a_backend_that_loses_nothing_passes_and_one_that_loses_passes_not() -> None:
    rng = np.random.default_rng(0)
    good = verdict([row(rng.normal(0.0, 0.01, 300))], budgets())
    assert good.passed and {b.name for b, _, _ in good.checks} == {b.name for b in budgets()}
    bad = verdict([row(rng.normal(0.03, 0.01, 300))], budgets())
    assert not bad.passed
    assert "FAIL" in format_verdicts([row(np.full(3, 0.03))], [bad])


def test_a_small_mean_with_a_wide_interval_does_not_pass() -> None:
    """The budget is on the interval's upper end: few noisy frames cannot prove a small loss."""
    drops = np.array([0.2, -0.2, 0.15, -0.15, 0.0])
    assert abs(drops.mean()) < 0.01 and not verdict([row(drops)], budgets()).passed


def test_nothing_compared_is_no_pass() -> None:
    with pytest.raises(MasktrtError):
        verdict([], budgets())
    assert not verdict([row(np.zeros(0))], budgets()).passed
    assert pooled_drop([row(np.zeros(0))], "gt_mask_drop") is None
    assert not verdict([row(np.zeros(5))], []).passed  # no budget measured


def test_non_finite_drops_are_an_error_not_a_number() -> None:
    with pytest.raises(MasktrtError, match="non-finite"):
        verdict([row(np.array([0.0, np.nan]))], budgets())
