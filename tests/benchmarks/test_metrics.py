"""Metrics on cases whose answers are known exactly, plus a brute-force check of the F-measure."""
from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from masktrt.benchmarks.metrics import (
    OTB_THRESHOLDS,
    boundary_f,
    boundary_map,
    boundary_prf,
    boundary_tolerance_pixels,
    box_iou,
    disk,
    mask_box,
    polygon_area,
    polygon_iou,
    region_similarity,
    success_auc,
    success_curve,
)


def rect_mask(x: int, y: int, w: int, h: int, shape=(100, 100)) -> np.ndarray:
    mask = np.zeros(shape, dtype=np.uint8)
    mask[y:y + h, x:x + w] = 1
    return mask


def rotated_square(side: float, angle: float, centre=(0.0, 0.0)) -> np.ndarray:
    half = side / 2
    corners = np.array([[-half, -half], [half, -half], [half, half], [-half, half]])
    c, s = math.cos(angle), math.sin(angle)
    return corners @ np.array([[c, s], [-s, c]]) + np.asarray(centre)


# ---- J -----------------------------------------------------------------------------------------

def test_region_similarity_known_cases():
    a = rect_mask(20, 20, 40, 40)
    assert region_similarity(a, a) == 1.0
    assert region_similarity(a, rect_mask(70, 70, 10, 10)) == 0.0
    # Two equal squares overlapping by half: 800 / (1600 + 1600 - 800) = 1/3.
    assert region_similarity(a, rect_mask(40, 20, 40, 40)) == pytest.approx(1 / 3)
    # 0/255 masks and bool masks mean the same thing.
    assert region_similarity(a * 255, rect_mask(40, 20, 40, 40).astype(bool)) == pytest.approx(1 / 3)


def test_region_similarity_empty_masks_follow_davis():
    empty = np.zeros((10, 10), np.uint8)
    assert region_similarity(empty, empty) == 1.0
    assert region_similarity(empty, rect_mask(1, 1, 2, 2, (10, 10))) == 0.0


def test_shape_mismatch_is_rejected():
    with pytest.raises(ValueError, match="shapes differ"):
        region_similarity(np.zeros((4, 4)), np.zeros((4, 5)))


# ---- F -----------------------------------------------------------------------------------------

def test_boundary_map_of_a_rectangle_is_one_pixel_wide():
    # Transitions are marked on the pixel left of / above them: columns 19 and 59, rows 19 and 59
    # of the 40x40 square at (20,20), plus the diagonal-only corner (19,19).
    b = boundary_map(rect_mask(20, 20, 40, 40))
    assert b.sum() == 160
    assert b[20:60, 19].all() and b[20:60, 59].all() and b[19, 20:60].all() and b[59, 20:60].all()
    assert b[19, 19] and not b[30, 30] and not b[60, 30]


def test_image_border_is_not_a_boundary():
    full = np.ones((20, 30), np.uint8)
    assert boundary_map(full).sum() == 0
    band = np.zeros((20, 30), np.uint8)
    band[:, 10:] = 1  # touches top, bottom and right edges: only the left edge is a boundary
    assert boundary_map(band).sum() == 20 and boundary_map(band)[:, 9].all()


def test_tolerance_is_a_fraction_of_the_diagonal_rounded_up():
    assert boundary_tolerance_pixels((480, 854)) == 8  # 0.008 * 979.6 = 7.84
    assert boundary_tolerance_pixels((100, 100)) == 2  # 0.008 * 141.4 = 1.13
    assert boundary_tolerance_pixels((100, 100), bound_th=3) == 3  # >= 1: pixels
    assert disk(1).tolist() == [[0, 1, 0], [1, 1, 1], [0, 1, 0]]


def test_boundary_f_known_cases():
    a = rect_mask(20, 20, 40, 40)
    assert boundary_f(a, a) == 1.0
    assert boundary_f(a, rect_mask(80, 80, 10, 10)) == 0.0
    # Shifted by one pixel: J drops but every boundary pixel is within the 2-pixel tolerance.
    assert region_similarity(a, rect_mask(21, 20, 40, 40)) < 1
    assert boundary_f(a, rect_mask(21, 20, 40, 40)) == 1.0


def test_boundary_f_of_full_height_bands_is_one_half():
    # Bands [20,60) and [20,80) spanning the full height: boundaries are columns {19, 59} and
    # {19, 79}; only column 19 matches, so P = R = F = 1/2 (J = 40/60).
    pred, gt = np.zeros((50, 100), np.uint8), np.zeros((50, 100), np.uint8)
    pred[:, 20:60] = 1
    gt[:, 20:80] = 1
    assert boundary_prf(pred, gt) == pytest.approx((0.5, 0.5, 0.5))
    assert region_similarity(pred, gt) == pytest.approx(2 / 3)


def test_boundary_empty_cases_follow_davis():
    empty, obj = np.zeros((30, 30), np.uint8), rect_mask(5, 5, 10, 10, (30, 30))
    assert boundary_prf(empty, empty) == (1.0, 1.0, 1.0)
    assert boundary_prf(empty, obj) == (1.0, 0.0, 0.0)
    assert boundary_prf(obj, empty) == (0.0, 1.0, 0.0)


def brute_force_prf(pred, gt, radius):
    """The definition, pixel by pixel: a boundary pixel matches if the other boundary is within
    Euclidean distance `radius`."""
    bp, bg = np.argwhere(boundary_map(pred)), np.argwhere(boundary_map(gt))

    def matched(src, dst):
        d2 = ((src[:, None, :] - dst[None, :, :]) ** 2).sum(-1)
        return (d2 <= radius * radius).any(axis=1).mean()

    p, r = matched(bp, bg), matched(bg, bp)
    return p, r, 2 * p * r / (p + r) if p + r else 0.0


def test_boundary_prf_matches_brute_force_on_random_blobs():
    rng = np.random.default_rng(0)
    for _ in range(3):
        pred, gt = np.zeros((60, 80), np.uint8), np.zeros((60, 80), np.uint8)
        for m in (pred, gt):
            for _ in range(3):
                x, y = rng.integers(0, 60), rng.integers(0, 40)
                m[y:y + rng.integers(5, 20), x:x + rng.integers(5, 20)] = 1
        radius = boundary_tolerance_pixels(pred.shape)
        assert boundary_prf(pred, gt) == pytest.approx(brute_force_prf(pred, gt, radius))


# ---- boxes and AUC -----------------------------------------------------------------------------

def test_box_iou_known_cases():
    assert box_iou([0, 0, 2, 2], [1, 0, 2, 2]) == pytest.approx(1 / 3)
    assert box_iou([0, 0, 4, 4], [1, 1, 2, 2]) == pytest.approx(0.25)
    assert box_iou([0, 0, 2, 2], [2, 0, 2, 2]) == 0.0  # touching edges: no area in common
    assert box_iou([0, 0, 0, 0], [0, 0, 0, 0]) == 0.0
    assert box_iou([np.nan] * 4, [0, 0, 2, 2]) == 0.0  # no prediction
    rows = box_iou(np.array([[0, 0, 2, 2], [5, 5, 1, 1]]), np.array([[0, 0, 2, 2], [5, 5, 2, 2]]))
    np.testing.assert_allclose(rows, [1.0, 0.25])


def test_success_curve_and_auc_follow_otb():
    assert len(OTB_THRESHOLDS) == 21 and OTB_THRESHOLDS[1] == pytest.approx(0.05)
    # Perfect tracking: IoU 1 is above every threshold but the last (IoU > t, strictly).
    perfect = success_curve(np.ones(10))
    assert perfect[:20].tolist() == [1.0] * 20 and perfect[20] == 0.0
    assert success_auc(np.ones(10)) == pytest.approx(20 / 21)
    assert success_auc(np.zeros(10)) == 0.0
    # IoU 0.5 everywhere: above thresholds 0 .. 0.45, i.e. 10 of 21.
    assert success_auc(np.full(5, 0.5)) == pytest.approx(10 / 21)
    # Half the frames perfect, half lost.
    assert success_auc(np.array([1.0, 0.0])) == pytest.approx(10 / 21)


def test_auc_approaches_mean_iou_on_a_fine_grid():
    ious = np.random.default_rng(1).uniform(size=200)
    assert success_auc(ious, np.linspace(0, 1, 10001)) == pytest.approx(ious.mean(), abs=1e-3)


# ---- polygons ----------------------------------------------------------------------------------

@pytest.mark.parametrize("angle", [0.0, 0.3, math.pi / 4, 1.2])
def test_polygon_iou_of_a_rotated_square_shifted_along_its_side(angle):
    # Shifting a square by half its side along its own x axis: IoU = 1/3 at any rotation,
    # also far from the origin where float32 alone would lose precision.
    a = rotated_square(20, angle, centre=(400.3, 250.7))
    b = a + 10 * np.array([math.cos(angle), math.sin(angle)])
    assert polygon_iou(a, b) == pytest.approx(1 / 3, abs=1e-5)
    assert polygon_iou(a, a) == pytest.approx(1.0, abs=1e-6)


def test_polygon_iou_orientation_disjoint_degenerate_and_missing():
    a = rotated_square(10, 0.4)
    assert polygon_iou(a, a[::-1]) == pytest.approx(1.0, abs=1e-6)
    assert polygon_iou(a, a + 100) == 0.0
    assert polygon_iou(a, np.zeros((4, 2))) == 0.0
    assert polygon_iou(a, np.full((4, 2), np.nan)) == 0.0


def test_polygon_iou_clipped_to_the_image():
    # Square [0,2]^2 vs [1,3]x[0,2] (IoU 1/3), clipped to a 2x2 image: [0,2]^2 vs [1,2]x[0,2] -> 1/2.
    a = np.array([[0, 0], [2, 0], [2, 2], [0, 2]], float)
    assert polygon_iou(a, a + [1, 0]) == pytest.approx(1 / 3)
    assert polygon_iou(a, a + [1, 0], bounds=(2, 2)) == pytest.approx(0.5)
    assert polygon_iou(a + 10, a + 10, bounds=(2, 2)) == 0.0  # both outside the image


def test_polygon_area_is_orientation_independent():
    square = rotated_square(30, 0.5, centre=(50, 50))
    assert polygon_area(square) == pytest.approx(900)
    assert polygon_area(square[::-1]) == pytest.approx(900)


def test_mask_box_is_tight():
    np.testing.assert_array_equal(mask_box(rect_mask(3, 4, 5, 6)), [3, 4, 5, 6])
    np.testing.assert_array_equal(mask_box(np.zeros((5, 5))), [0, 0, 0, 0])


def test_a_polygon_overlaps_itself_exactly():
    """Found on a fresh venv (torch 2.14.1): identical rotated rectangles scored 0.99999998
    through OpenCV's float32 intersection, failing 'identical backends agree exactly'."""
    from masktrt.benchmarks.metrics import polygon_iou

    rng = np.random.default_rng(3)
    for _ in range(200):
        c, (w, h), angle = rng.uniform(50, 600, 2), rng.uniform(5, 300, 2), rng.uniform(0, 180)
        poly = cv2.boxPoints(((float(c[0]), float(c[1])), (float(w), float(h)), float(angle)))
        assert polygon_iou(poly, poly.copy()) == 1.0
