"""Accuracy metrics of the three benchmarks SiamMask reports on, in NumPy/OpenCV only.

- DAVIS: region similarity J (mask IoU) and boundary F-measure, as the DAVIS 2016 paper defines
  them (Perazzi et al., CVPR 2016), written here from that definition.
- OTB: box IoU on x,y,w,h and the success curve / AUC over 21 overlap thresholds 0, 0.05, ..., 1.
- VOT: IoU of rotated polygons, computed exactly with cv2.intersectConvexConvex.

Masks are HxW arrays where non-zero is the object. Boxes are 0-based x,y,w,h, continuous (a box
covers [x, x+w) x [y, y+h); no +1). Polygons are 4x2 corner arrays.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

BOUNDARY_TOLERANCE = 0.008  # DAVIS bound_th: match tolerance as a fraction of the image diagonal
OTB_THRESHOLDS = np.linspace(0.0, 1.0, 21)  # overlap thresholds of the OTB success plot


# ---- DAVIS -------------------------------------------------------------------------------------

def region_similarity(pred: np.ndarray, gt: np.ndarray) -> float:
    """J: |pred ∩ gt| / |pred ∪ gt|; 1 when both are empty (DAVIS: nothing to find, nothing found)."""
    p, g = _binary_pair(pred, gt)
    union = np.count_nonzero(p | g)
    if union == 0:
        return 1.0
    return np.count_nonzero(p & g) / union


def boundary_map(mask: np.ndarray) -> np.ndarray:
    """One-pixel-wide boundary of a binary mask (DAVIS `seg2bmap` semantics), bool HxW.

    A pixel is on the boundary when it differs from its right, bottom or bottom-right neighbour;
    neighbours outside the image are not compared, so the image border is not a boundary (an
    object touching the frame edge gets no boundary there).
    """
    m = np.asarray(mask) != 0
    b = np.zeros_like(m)
    b[:, :-1] |= m[:, :-1] != m[:, 1:]  # right
    b[:-1, :] |= m[:-1, :] != m[1:, :]  # bottom
    b[:-1, :-1] |= m[:-1, :-1] != m[1:, 1:]  # bottom-right
    return b


def disk(radius: int) -> np.ndarray:
    """uint8 disk structuring element: the pixels with x² + y² <= radius²."""
    yy, xx = np.ogrid[-radius:radius + 1, -radius:radius + 1]
    return (xx * xx + yy * yy <= radius * radius).astype(np.uint8)


def boundary_tolerance_pixels(shape: tuple[int, ...], bound_th: float = BOUNDARY_TOLERANCE) -> int:
    """DAVIS: a tolerance >= 1 is in pixels, below 1 a fraction of the diagonal, rounded up."""
    if bound_th >= 1:
        return int(bound_th)
    return int(math.ceil(bound_th * math.hypot(shape[0], shape[1])))


def boundary_prf(pred: np.ndarray, gt: np.ndarray,
                 bound_th: float = BOUNDARY_TOLERANCE) -> tuple[float, float, float]:
    """(precision, recall, F) of the predicted boundary against the ground-truth boundary.

    A boundary pixel counts as matched when the other boundary lies within the tolerance (a disk
    dilation). Empty boundaries follow DAVIS: both empty -> P=R=1; only the prediction empty ->
    P=1, R=0; only the ground truth empty -> P=0, R=1.
    """
    p, g = _binary_pair(pred, gt)
    bp, bg = boundary_map(p), boundary_map(g)
    n_p, n_g = int(bp.sum()), int(bg.sum())
    if n_p == 0 or n_g == 0:
        precision, recall = float(n_p == 0), float(n_g == 0)
        return precision, recall, _f_measure(precision, recall)
    kernel = disk(boundary_tolerance_pixels(p.shape, bound_th))
    near_g = cv2.dilate(bg.astype(np.uint8), kernel).astype(bool)
    near_p = cv2.dilate(bp.astype(np.uint8), kernel).astype(bool)
    precision = np.count_nonzero(bp & near_g) / n_p
    recall = np.count_nonzero(bg & near_p) / n_g
    return precision, recall, _f_measure(precision, recall)


def boundary_f(pred: np.ndarray, gt: np.ndarray, bound_th: float = BOUNDARY_TOLERANCE) -> float:
    """F: the DAVIS contour accuracy, harmonic mean of boundary precision and recall."""
    return boundary_prf(pred, gt, bound_th)[2]


def _f_measure(precision: float, recall: float) -> float:
    total = precision + recall
    return 0.0 if total == 0 else 2 * precision * recall / total


def _binary_pair(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p, g = np.asarray(pred) != 0, np.asarray(gt) != 0
    if p.shape != g.shape:
        raise ValueError(f"mask shapes differ: prediction {p.shape}, ground truth {g.shape}")
    return p, g


# ---- OTB ---------------------------------------------------------------------------------------

def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of x,y,w,h boxes, row by row: (4,) x (4,) -> scalar, (N,4) x (N,4) -> (N,).

    Boxes with no area (or NaN, as for a frame without a prediction) score 0.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    left = np.maximum(a[..., 0], b[..., 0])
    top = np.maximum(a[..., 1], b[..., 1])
    right = np.minimum(a[..., 0] + a[..., 2], b[..., 0] + b[..., 2])
    bottom = np.minimum(a[..., 1] + a[..., 3], b[..., 1] + b[..., 3])
    inter = np.clip(right - left, 0, None) * np.clip(bottom - top, 0, None)
    union = a[..., 2] * a[..., 3] + b[..., 2] * b[..., 3] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
    return np.nan_to_num(iou, nan=0.0)


def success_curve(ious: np.ndarray, thresholds: np.ndarray = OTB_THRESHOLDS) -> np.ndarray:
    """Fraction of frames whose IoU is strictly above each threshold (the OTB success plot).

    Strictly above, as OTB defines it: a failed frame (IoU 0) never counts, and so a perfect
    tracker scores 0 at threshold 1; its AUC on the 21 thresholds is 20/21, not 1.
    """
    ious = np.asarray(ious, dtype=np.float64).reshape(-1)
    if ious.size == 0:
        return np.zeros(len(thresholds))
    return (ious[:, None] > np.asarray(thresholds)[None, :]).mean(axis=0)


def success_auc(ious: np.ndarray, thresholds: np.ndarray = OTB_THRESHOLDS) -> float:
    """OTB's AUC: the mean of the success curve over its thresholds."""
    return float(success_curve(ious, thresholds).mean())


# ---- VOT ---------------------------------------------------------------------------------------

def polygon_area(polygon: np.ndarray) -> float:
    """Area of a simple polygon (shoelace formula), orientation-independent."""
    p = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    x, y = p[:, 0], p[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2)


def polygon_iou(a: np.ndarray, b: np.ndarray, bounds: tuple[int, int] | None = None) -> float:
    """IoU of two convex polygons (VOT rotated rectangles), exact.

    cv2.intersectConvexConvex gives the exact intersection area of convex polygons, so the result
    has no rasterisation error and does not depend on an image size; VOT's ground truth and the
    tracker's minimum-area rectangles are convex. Coordinates are shifted to a local origin before
    the float32 conversion OpenCV requires, which keeps ~1e-6 relative precision far from (0,0).
    `bounds=(width, height)` first clips both polygons to the image, as the VOT toolkit does.
    Empty or degenerate polygons, or NaN (no prediction), score 0.
    """
    pa = np.asarray(a, dtype=np.float64).reshape(-1, 2)
    pb = np.asarray(b, dtype=np.float64).reshape(-1, 2)
    if not (np.isfinite(pa).all() and np.isfinite(pb).all()):
        return 0.0
    origin = np.minimum(pa.min(axis=0), pb.min(axis=0))
    pa, pb = pa - origin, pb - origin
    if bounds is not None:
        w, h = bounds
        frame = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float64) - origin
        pa, pb = _clip_convex(pa, frame), _clip_convex(pb, frame)
        if pa is None or pb is None:
            return 0.0
    area_a, area_b = polygon_area(pa), polygon_area(pb)
    if area_a <= 0 or area_b <= 0:
        return 0.0
    if np.array_equal(pa, pb):
        return 1.0  # by definition; the float32 intersection can give 1 - 2e-8 for some shapes
    inter = _intersection_area(pa, pb)
    union = area_a + area_b - inter
    return float(inter / union) if union > 0 else 0.0


def _intersection_area(pa: np.ndarray, pb: np.ndarray) -> float:
    area, _ = cv2.intersectConvexConvex(pa.astype(np.float32), pb.astype(np.float32))
    return max(float(area), 0.0)


def _clip_convex(polygon: np.ndarray, frame: np.ndarray) -> np.ndarray | None:
    """The part of a convex polygon inside the frame rectangle, or None when nothing is inside."""
    area, points = cv2.intersectConvexConvex(polygon.astype(np.float32), frame.astype(np.float32))
    if area <= 0 or points is None:
        return None
    return points.reshape(-1, 2).astype(np.float64)


def mask_box(mask: np.ndarray) -> np.ndarray:
    """Tight 0-based x,y,w,h of a mask's non-zero pixels (0,0,0,0 when empty), float64."""
    return np.array(cv2.boundingRect((np.asarray(mask) != 0).astype(np.uint8)), dtype=np.float64)
