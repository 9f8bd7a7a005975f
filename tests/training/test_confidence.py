"""Score separation (ROC AUC of score vs IoU > 0.5) and the lost threshold picked from it."""
from __future__ import annotations

import numpy as np
import pytest

from masktrt.training.confidence import roc_auc, separation, youden_threshold


def test_auc_hand_cases() -> None:
    assert roc_auc([0.9, 0.8, 0.2, 0.1], [True, True, False, False]) == 1.0
    assert roc_auc([0.1, 0.2, 0.8, 0.9], [True, True, False, False]) == 0.0
    assert roc_auc([0.5, 0.5], [True, False]) == 0.5
    assert roc_auc([0.5, 0.6], [True, True]) is None


def test_threshold_splits_separable_scores_midway() -> None:
    scores = np.array([0.95, 0.9, 0.7, 0.3, 0.2])
    assert youden_threshold(scores, scores > 0.5) == pytest.approx(0.5)
    assert youden_threshold(scores, np.ones(5, bool)) is None


def test_separation_counts_on_target_frames_by_iou() -> None:
    report = separation(np.array([0.9, 0.8, 0.1]), np.array([0.7, 0.6, 0.0]))
    assert (report["frames"], report["on_target"], report["auc"]) == (3, 2, 1.0)
    assert report["threshold"] == pytest.approx(0.45)


def test_the_operating_point_flags_at_most_its_share_of_on_target_frames() -> None:
    """Issue 27.3: the threshold for a stated target (at most 10 % of on-target frames flagged)
    and what it catches; on 20 on-target frames scoring 0.50..0.69, two may fall below."""
    from masktrt.training.confidence import flag_rates, operating_threshold

    on = 0.5 + 0.01 * np.arange(20)
    off = np.array([0.1, 0.3, 0.505, 0.6])
    scores = np.concatenate([on, off])
    positive = np.concatenate([np.ones(20, bool), np.zeros(4, bool)])
    threshold = operating_threshold(scores, positive, 0.10)
    assert threshold == pytest.approx(0.52)
    rates = flag_rates(scores, positive, threshold)
    assert rates["on_flagged"] == pytest.approx(0.10) and rates["off_caught"] == pytest.approx(0.75)
    report = separation(scores, np.where(positive, 0.9, 0.0))
    assert report["operating_point"]["threshold"] == pytest.approx(0.52)
    assert operating_threshold(off, np.zeros(4, bool)) is None
    with pytest.raises(ValueError):  # flagging every on-target frame is no operating point
        operating_threshold(scores, positive, 1.0)


def test_the_roc_runs_from_nothing_flagged_to_everything_and_agrees_with_flag_rates() -> None:
    from masktrt.training.confidence import flag_rates, roc_points

    scores = np.array([0.9, 0.8, 0.95, 0.3, 0.6, 0.85])
    positive = np.array([True, True, True, False, False, True])
    roc = roc_points(scores, positive)
    assert (roc["on_flagged"][0], roc["off_caught"][0]) == (0.0, 0.0)  # score < min: nothing
    assert (roc["on_flagged"][-1], roc["off_caught"][-1]) == (1.0, 1.0)  # above max: everything
    assert np.all(np.diff(roc["on_flagged"]) >= 0) and np.all(np.diff(roc["off_caught"]) >= 0)
    for t, on, off in zip(roc["thresholds"], roc["on_flagged"], roc["off_caught"]):
        rates = flag_rates(scores, positive, t)
        assert (rates["on_flagged"], rates["off_caught"]) == (on, off)
    assert (0.0, 1.0) in set(zip(roc["on_flagged"], roc["off_caught"]))  # separable: a perfect cut
    assert roc_points(scores, np.ones(6, bool)) is None


def test_the_roc_plot_is_written_with_its_points_and_skipped_without_a_curve(tmp_path) -> None:
    from masktrt.benchmarks.plot import plot_roc
    from masktrt.training.confidence import separation

    scores = np.array([0.9, 0.8, 0.95, 0.3, 0.6, 0.85, 0.7, 0.2])
    ious = np.array([0.8, 0.7, 0.9, 0.1, 0.6, 0.2, 0.55, 0.0])
    path = plot_roc(separation(scores, ious), tmp_path / "roc.png", "toy")
    assert path.stat().st_size > 1000
    assert plot_roc(separation(scores, np.ones(8)), tmp_path / "none.png", "toy") is None
    assert not (tmp_path / "none.png").exists()
