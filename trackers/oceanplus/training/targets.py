"""Anchor-free targets of OceanPlus's cls and bbox maps for one search crop (Ocean's recipe).

Why a module of its own: these rules are the training contract with the tracker's decoder
(`trackers.oceanplus.tracker`: cell j sits at crop pixel (j - R//2) * 8 + S//2, bbox holds its
l, t, r, b distances to the box edges, cls is a sigmoid logit), so they are tested alone.
Positives: cells within POS_RADIUS cells of the target centre that also lie inside the box
(Ocean's dynamic label, kept inside thin targets); every other cell is a negative. The box
is regressed at every cell inside it (Ocean's regression weight), with the IoU loss.
Boxes are (x1, y1, x2, y2) in crop pixels.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from masktrt.trackers.oceanplus.spec import SMALL_INSTANCE, TOTAL_STRIDE, score_size

POS_RADIUS = 2.0  # cells: Ocean's positive radius around the target centre
NEGATIVE, POSITIVE = 0.0, 1.0


@dataclass(frozen=True)
class CellTargets:
    """Per cell of the RxR maps: cls label (0/1), l,t,r,b distances and the regression weight."""

    labels: np.ndarray      # float32 (R, R)
    ltrb: np.ndarray        # float32 (4, R, R), crop pixels
    reg_weight: np.ndarray  # float32 (R, R): 1 inside the box, else 0


def grid(instance: int = SMALL_INSTANCE) -> np.ndarray:
    """(R,) crop-pixel coordinate of each column (and row), as the tracker decodes it."""
    r = score_size(instance)
    return ((np.arange(r) - r // 2) * TOTAL_STRIDE + instance // 2).astype(np.float64)


def ltrb_targets(box: np.ndarray, instance: int = SMALL_INSTANCE) -> np.ndarray:
    """(4, R, R) distances from each cell to the box's left, top, right and bottom edges."""
    g = grid(instance)
    gx, gy = np.meshgrid(g, g)
    x1, y1, x2, y2 = (float(v) for v in box)
    return np.stack([gx - x1, gy - y1, x2 - gx, y2 - gy]).astype(np.float32)


def cell_targets(box: np.ndarray, instance: int = SMALL_INSTANCE) -> CellTargets:
    """Labels, distances and weights for a target whose box is `box` (x1, y1, x2, y2)."""
    ltrb = ltrb_targets(box, instance)
    inside = (ltrb > 0).all(axis=0)
    g = grid(instance)
    gx, gy = np.meshgrid(g, g)
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    near = np.hypot(gx - cx, gy - cy) <= POS_RADIUS * TOTAL_STRIDE
    labels = np.where(near & inside, POSITIVE, NEGATIVE).astype(np.float32)
    return CellTargets(labels, ltrb, inside.astype(np.float32))


def negative_targets(instance: int = SMALL_INSTANCE) -> CellTargets:
    """A search crop without the template's object: every cell negative, nothing regressed."""
    r = score_size(instance)
    return CellTargets(np.zeros((r, r), np.float32), np.zeros((4, r, r), np.float32),
                       np.zeros((r, r), np.float32))
