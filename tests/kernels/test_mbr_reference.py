"""The GPU MBR algorithm's NumPy twin picks the same component and rectangle as OpenCV's pipeline."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from masktrt.kernels.mbr_reference import (convex_hull, doubled_outer_areas, largest_component_mbr,
                                           min_area_rect, row_extremes)
from masktrt.runtime.mask import largest_contour

from tests.helpers.mbr_cases import degenerate_masks, official, random_masks, same_rectangle

SIZES = [(24, 31), (64, 64), (120, 90), (240, 320)]


def _check(mask: np.ndarray, label: str) -> None:
    found, area, ref = official(mask)
    got = largest_component_mbr(mask)
    assert got.found == found, f"{label}: found {got.found} vs official {found}"
    assert got.contour_area == pytest.approx(area, abs=0), f"{label}: area {got.contour_area} vs {area}"
    if found:
        ok, why = same_rectangle(ref, got.corners)
        assert ok, f"{label}: {why}"


@pytest.mark.parametrize("seed", range(4))
def test_random_masks_match_official_pipeline(seed):
    for i, mask in enumerate(random_masks(seed, 60, SIZES)):
        _check(mask, f"seed {seed} mask {i} {mask.shape}")


def test_every_outer_contour_area_is_computed_exactly():
    for i, mask in enumerate(random_masks(99, 60, SIZES)):
        contours = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)[-2]
        official_areas = sorted(cv2.contourArea(c) for c in contours)
        _, area2, _ = doubled_outer_areas(mask)
        mine = list(area2 / 2)
        for a in official_areas:  # nested components have no external contour; all others match
            assert a in mine, (i, a)
            mine.remove(a)


@pytest.mark.parametrize("hw", [(7, 9), (40, 40), (101, 67), (300, 400)])
def test_degenerate_masks(hw):
    for name, mask in degenerate_masks(*hw).items():
        _check(mask, f"{name} {hw}")


def test_largest_by_contour_area_not_by_pixel_count():
    mask = degenerate_masks(120, 160)["thin_ring_beats_more_pixels"]
    got = largest_component_mbr(mask)
    assert got.found and got.contour_area == 361.0  # the 76-pixel ring, not the 144-pixel square
    assert largest_contour(mask)[1] == 361.0


def test_ties_go_to_the_component_opencv_lists_first():
    mask = degenerate_masks(100, 100)["equal_squares"]
    contour, _ = largest_contour(mask)
    got = largest_component_mbr(mask)
    assert got.root == 79 * 100 + 79  # last square in raster order = first in OpenCV's list
    assert contour.min(axis=0).tolist() == [79, 79]


def test_full_frame_rectangle_is_the_pixel_centre_frame():
    got = largest_component_mbr(np.ones((30, 40), np.uint8))
    assert got.contour_area == 29 * 39
    assert sorted(map(tuple, np.round(got.corners).astype(int).tolist())) == [(0, 0), (0, 29), (39, 0), (39, 29)]


def test_hull_of_row_extremes_and_calipers_on_a_rotated_square():
    mask = np.zeros((80, 80), np.uint8)
    cv2.fillPoly(mask, [np.array([[40, 5], [75, 40], [40, 75], [5, 40]], np.int32)], 1)
    hull = convex_hull(row_extremes(cv2.connectedComponents(mask)[1], 1))
    assert {tuple(p) for p in hull} >= {(40, 5), (75, 40), (40, 75), (5, 40)}
    _, area = min_area_rect(hull)
    assert area == pytest.approx(2 * 35 * 35, rel=1e-9)
