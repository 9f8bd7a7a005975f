"""Anchor targets and the spec §5 losses on cases small enough to check by hand."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from masktrt.trackers.siammask.anchors import generate_anchors
from masktrt.trackers.siammask.spec import ANCHOR_NUM, SCORE_SIZE
from masktrt.trackers.siammask.tracker import decode_boxes
from masktrt.trackers.siammask.training.losses import box_loss, cls_loss, mask_loss
from masktrt.trackers.siammask.training.pairs import mask_window
from masktrt.trackers.siammask.training.targets import (MAX_POS, MAX_TOTAL, anchor_targets, iou_cxcywh,
                                      positive_cells)

S = SCORE_SIZE


def test_iou_hand_cases():
    anchors = np.array([[0, 0, 10, 10], [5, 0, 10, 10], [100, 100, 4, 4]], dtype=np.float64)
    iou = iou_cxcywh(anchors, np.array([0, 0, 10, 10.0]))
    assert iou == pytest.approx([1.0, 50 / 150, 0.0])


def test_anchor_targets_sample_sizes_and_invert_the_decoder():
    rng = np.random.default_rng(0)
    box = np.array([3.0, -5.0, 64.0, 64.0])
    t = anchor_targets(box, rng)
    assert t.labels.shape == (ANCHOR_NUM, S, S)
    pos, neg = (t.labels == 1).sum(), (t.labels == 0).sum()
    assert 0 < pos <= MAX_POS and pos + neg == MAX_TOTAL
    assert t.weights[t.labels == 1] == pytest.approx(1 / pos)
    assert t.weights[t.labels != 1].sum() == 0
    decoded = decode_boxes(t.deltas.reshape(4, -1), generate_anchors())
    assert np.allclose(decoded, box[:, None], atol=1e-3)  # the tracker recovers the box
    # the centre cell (12, 12) covers the box's centre, so it is a positive cell
    assert [12, 12] in positive_cells(t.labels).tolist()


def test_cls_loss_averages_positives_and_negatives_separately():
    cls = torch.zeros(1, 2 * ANCHOR_NUM, S, S)
    cls[0, ANCHOR_NUM + 0, 0, 0] = math.log(3.0)  # anchor 0 at (0, 0): p(fg) = 3/4
    labels = torch.full((1, ANCHOR_NUM, S, S), -1)
    labels[0, 0, 0, 0] = 1
    labels[0, 1, 0, 0] = 0  # p(bg) = 1/2
    labels[0, 2, 0, 0] = 0
    expected = 0.5 * -math.log(0.75) + 0.5 * -math.log(0.5)
    assert cls_loss(cls, labels).item() == pytest.approx(expected, rel=1e-6)


def test_box_loss_is_weighted_l1_over_batch():
    loc = torch.zeros(2, 4 * ANCHOR_NUM, S, S)
    deltas = torch.zeros(2, 4, ANCHOR_NUM, S, S)
    deltas[0, :, 1, 3, 4] = torch.tensor([1.0, -2.0, 0.5, 0.5])  # L1 = 4
    weights = torch.zeros(2, ANCHOR_NUM, S, S)
    weights[0, 1, 3, 4] = 0.5
    assert box_loss(loc, deltas, weights).item() == pytest.approx(4 * 0.5 / 2)
    loc[0, 0 * ANCHOR_NUM + 1, 3, 4] = 1.0  # channel c*A + a: dx of anchor 1 now exact
    assert box_loss(loc, deltas, weights).item() == pytest.approx(3 * 0.5 / 2)


def test_mask_loss_is_soft_margin():
    logits = torch.tensor([[0.0, 2.0], [-1.0, 0.0]])
    target = torch.tensor([[1.0, -1.0], [-1.0, 1.0]])
    expected = (math.log(2) + math.log(1 + math.e ** 2) + math.log(1 + math.e ** -1)
                + math.log(2)) / 4
    assert mask_loss(logits, target).item() == pytest.approx(expected, rel=1e-6)


def test_mask_window_geometry():
    mask = np.zeros((255, 255), bool)
    mask[127, 127] = True  # the crop centre
    centre = mask_window(mask, (12, 12))
    assert centre.shape == (127, 127) and centre[63, 63] == 1 and (centre > 0).sum() == 1
    shifted = mask_window(mask, (13, 12))  # one cell down: the pixel moves 8 rows up
    assert shifted[55, 63] == 1
    assert (mask_window(mask, (0, 0)) == -1).all()
