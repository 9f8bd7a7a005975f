"""OceanPlus training losses and targets on crafted inputs: a perfect prediction costs
(almost) nothing, a wrong one costs more, and the labels sit where the tracker decodes them."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from masktrt.trackers.oceanplus.spec import SMALL_INSTANCE, TOTAL_STRIDE, score_size
from masktrt.trackers.oceanplus.training.losses import cls_loss, iou_loss, mask_loss
from masktrt.trackers.oceanplus.training.targets import (POS_RADIUS, cell_targets, grid,
                                                negative_targets)

R = score_size(SMALL_INSTANCE)
CENTRE = SMALL_INSTANCE // 2


def box_around(cx: float, cy: float, w: float, h: float) -> np.ndarray:
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])


def test_grid_is_the_trackers_cell_geometry() -> None:
    g = grid()
    assert len(g) == R == 25 and g[R // 2] == CENTRE and np.all(np.diff(g) == TOTAL_STRIDE)


def test_positives_surround_the_target_centre_inside_the_box() -> None:
    t = cell_targets(box_around(CENTRE, CENTRE, 100, 100))
    rows, cols = np.nonzero(t.labels)
    assert t.labels[R // 2, R // 2] == 1
    assert np.all(np.hypot(rows - R // 2, cols - R // 2) <= POS_RADIUS)
    assert len(rows) == 13  # the cells within 2 cells' distance
    assert set(np.unique(t.labels)) == {0.0, 1.0}


def test_a_thin_target_keeps_its_positives_inside_the_box() -> None:
    t = cell_targets(box_around(CENTRE, CENTRE, 6, 100))
    assert np.all(t.reg_weight[t.labels == 1] == 1) and t.labels.sum() == 5  # one column


def test_ltrb_are_the_distances_to_the_box_edges() -> None:
    box = box_around(CENTRE + 8, CENTRE - 16, 60, 40)
    t = cell_targets(box)
    l, top, r, b = t.ltrb[:, R // 2, R // 2]
    assert (l, top, r, b) == pytest.approx((22, 36, 38, 4))  # box y 91..131, cell at 127
    assert t.reg_weight[R // 2, R // 2] == 1 and t.reg_weight[R // 2 + 1, R // 2] == 0
    assert t.ltrb[3, R // 2 + 1, R // 2] == pytest.approx(-4)  # the row below: under the box
    inside = t.reg_weight == 1
    assert np.all(t.ltrb[:, inside] > 0) and t.labels[~inside].sum() == 0


def test_negative_targets_have_no_positive_and_no_regression() -> None:
    t = negative_targets()
    assert t.labels.shape == (R, R) and t.labels.sum() == 0 and t.reg_weight.sum() == 0


def test_cls_loss_is_small_when_right_and_balanced() -> None:
    labels = torch.from_numpy(cell_targets(box_around(CENTRE, CENTRE, 80, 80)).labels)[None]
    right = (labels * 2 - 1)[:, None] * 20.0
    assert cls_loss(right, labels) < 1e-6
    assert cls_loss(-right, labels) > 9.0
    zero = cls_loss(torch.zeros(1, 1, R, R), labels)
    assert zero == pytest.approx(np.log(2), rel=1e-5)  # 0.5 * log 2 per class
    assert cls_loss(torch.zeros(1, 1, R, R), torch.zeros(1, R, R)) == pytest.approx(0.5 * np.log(2))


def test_iou_loss_is_zero_for_a_perfect_box_and_grows_with_error() -> None:
    t = cell_targets(box_around(CENTRE, CENTRE, 80, 60))
    ltrb, weight = torch.from_numpy(t.ltrb)[None], torch.from_numpy(t.reg_weight)[None]
    assert iou_loss(ltrb, ltrb, weight) == pytest.approx(0.0, abs=1e-7)
    small, big = iou_loss(ltrb * 0.9, ltrb, weight), iou_loss(ltrb * 0.5, ltrb, weight)
    assert 0 < small < big
    assert iou_loss(ltrb, ltrb, torch.zeros_like(weight)) == 0.0


def test_mask_loss_is_small_for_confident_right_logits() -> None:
    target = torch.zeros(1, 1, 31, 31)
    target[..., 10:20, 10:20] = 1
    contour = torch.zeros_like(target)
    contour[..., 10, 10:20] = 1
    logit = (target * 2 - 1) * 15.0
    right = torch.cat([-logit / 2, logit / 2], dim=1)  # fg - bg = logit
    assert mask_loss(right, target, contour) < 1e-5
    assert mask_loss(-right, target, contour) > 10.0
    assert mask_loss(right[:0], target[:0], contour[:0]) == 0.0
