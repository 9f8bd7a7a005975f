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
