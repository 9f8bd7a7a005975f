"""Anchor labels and regression targets for one search crop (spec §5), in NumPy.

Why a module of its own: the rules (IoU > 0.6 positive, at most 16; IoU < 0.3 negative, up to 64
minus the positives; deltas relative to the anchor) are the training contract with the tracker's
decoder (`runtime.tracker.decode_boxes`), so they sit next to nothing else and are tested alone.
Boxes are (cx, cy, w, h) in 255-crop pixels relative to the crop centre, like the anchor table.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from masktrt.trackers.siammask.anchors import generate_anchors
from masktrt.trackers.siammask.spec import ANCHOR_NUM, SCORE_SIZE

POS_IOU = 0.6
NEG_IOU = 0.3
MAX_POS = 16
MAX_TOTAL = 64
NEGATIVE_PAIR_RADIUS = 4  # cells from the centre where a negative pair's negatives are drawn
IGNORE, NEGATIVE, POSITIVE = -1, 0, 1


@dataclass(frozen=True)
class AnchorTargets:
    """Per anchor, shaped (ANCHOR_NUM, SCORE_SIZE, SCORE_SIZE) like the cls/loc maps' layout."""

    labels: np.ndarray   # int64: -1 ignore, 0 negative, 1 positive
    deltas: np.ndarray   # float32 (4, A, S, S): dx, dy, dw, dh
    weights: np.ndarray  # float32: 1/num_pos on positives, 0 elsewhere


def iou_cxcywh(anchors: np.ndarray, box: np.ndarray) -> np.ndarray:
    """IoU of each (cx, cy, w, h) row with one box (continuous coordinates)."""
    a0, a1 = anchors[:, :2] - anchors[:, 2:] / 2, anchors[:, :2] + anchors[:, 2:] / 2
    b0, b1 = box[:2] - box[2:] / 2, box[:2] + box[2:] / 2
    inter = np.prod(np.clip(np.minimum(a1, b1) - np.maximum(a0, b0), 0, None), axis=1)
    union = np.prod(anchors[:, 2:], axis=1) + float(np.prod(box[2:])) - inter
    return inter / np.maximum(union, 1e-9)


def box_deltas(anchors: np.ndarray, box: np.ndarray) -> np.ndarray:
    """(4, N): the inverse of decode_boxes (dx = (tx - ax)/aw, ..., dw = log(tw/aw), ...)."""
    return np.stack([(box[0] - anchors[:, 0]) / anchors[:, 2],
                     (box[1] - anchors[:, 1]) / anchors[:, 3],
                     np.log(box[2] / anchors[:, 2]),
                     np.log(box[3] / anchors[:, 3])]).astype(np.float32)


def anchor_targets(box: np.ndarray, rng: np.random.Generator,
                   anchors: np.ndarray | None = None) -> AnchorTargets:
    """Label and sample anchors against the ground-truth box of the search crop."""
    anchors = generate_anchors() if anchors is None else anchors
    iou = iou_cxcywh(anchors, np.asarray(box, dtype=np.float64))
    labels = np.full(len(anchors), IGNORE, dtype=np.int64)
    pos = np.flatnonzero(iou > POS_IOU)
    if len(pos) > MAX_POS:
        pos = rng.choice(pos, MAX_POS, replace=False)
    neg = np.flatnonzero(iou < NEG_IOU)
    keep = MAX_TOTAL - len(pos)
    if len(neg) > keep:
        neg = rng.choice(neg, keep, replace=False)
    labels[neg] = NEGATIVE
    labels[pos] = POSITIVE
    weights = np.zeros(len(anchors), dtype=np.float32)
    weights[pos] = 1.0 / max(len(pos), 1)
    shape = (ANCHOR_NUM, SCORE_SIZE, SCORE_SIZE)
    return AnchorTargets(labels.reshape(shape), box_deltas(anchors, box).reshape((4, *shape)),
                         weights.reshape(shape))


def positive_cells(labels: np.ndarray) -> np.ndarray:
    """(K, 2) (row, col) of score cells where any anchor is positive: where the mask is trained."""
    return np.argwhere((labels == POSITIVE).any(axis=0))


def negative_targets(rng: np.random.Generator) -> AnchorTargets:
    """Targets of a negative pair (search crop without the template's object): up to
    MAX_TOTAL negatives among the anchors near the centre, where the cosine window makes the
    tracker look, so the score learns to fall when the target is not there (DaSiamRPN's
    distractor-aware idea); no positives, no box or mask loss."""
    shape = (ANCHOR_NUM, SCORE_SIZE, SCORE_SIZE)
    rows, cols = np.indices(shape[1:]) - SCORE_SIZE // 2
    near = (np.abs(rows) <= NEGATIVE_PAIR_RADIUS) & (np.abs(cols) <= NEGATIVE_PAIR_RADIUS)
    candidates = np.flatnonzero(np.broadcast_to(near, shape).ravel())
    chosen = rng.choice(candidates, min(MAX_TOTAL, len(candidates)), replace=False)
    labels = np.full(int(np.prod(shape)), IGNORE, dtype=np.int64)
    labels[chosen] = NEGATIVE
    return AnchorTargets(labels.reshape(shape), np.zeros((4, *shape), dtype=np.float32),
                         np.zeros(shape, dtype=np.float32))
