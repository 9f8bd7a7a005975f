"""VOT region text (rectangles, polygons, RLE masks) and the conversions of the TraX server,
checked against the toolkit's own reader where it is installed."""
from __future__ import annotations

import numpy as np
import pytest

from masktrt.runtime.vot_regions import (frame_mask, mask_bounds, mask_rle, mask_text,
                                         polygon_box, polygon_text, rectangle_text)


def decode(text: str, frame_hw: tuple[int, int]) -> np.ndarray:
    """Our reading of `m<x>,<y>,<w>,<h>,<rle>`: runs alternate zeros and ones, row-major."""
    x, y, w, h, *runs = (int(v) for v in text[1:].split(","))
    flat = np.zeros(w * h, np.uint8)
    starts = np.cumsum([0, *runs[:-1]])
    for start, run in list(zip(starts, runs))[1::2]:
        flat[start:start + run] = 1
    return frame_mask(flat.reshape(h, w), (x, y), frame_hw)


def blob(frame_hw=(40, 50)) -> np.ndarray:
    mask = np.zeros(frame_hw, np.uint8)
    mask[5:20, 10:30] = 1
    mask[12:30, 25:45] = 1
    mask[8, 12] = 0
    return mask


def test_rle_counts_zeros_first_and_covers_every_pixel() -> None:
    assert mask_rle(np.array([[0, 0, 1], [1, 1, 0]])) == [2, 3, 1]
    assert mask_rle(np.array([[1, 1, 0]])) == [0, 2, 1]
    assert mask_rle(np.ones((2, 2))) == [0, 4]
    assert sum(mask_rle(blob())) == blob().size


def test_mask_text_is_cropped_to_the_tight_box_and_round_trips() -> None:
    mask = blob()
    text = mask_text(mask)
    assert text.startswith("m10,5,35,25,")
    np.testing.assert_array_equal(decode(text, mask.shape), mask)


def test_an_empty_mask_is_the_toolkits_empty_mask() -> None:
    assert mask_text(np.zeros((4, 4), np.uint8)) == "m0,0,0,0,0"
    assert mask_bounds(np.zeros((4, 4), np.uint8)) is None


def test_the_toolkit_reads_our_regions_as_we_meant_them() -> None:
    io = pytest.importorskip("vot.region.io")
    mask = blob()
    region = io.parse_region(mask_text(mask))
    np.testing.assert_array_equal(region.rasterize((0, 0, 49, 39)), mask)
    crop = np.ascontiguousarray(mask[5:30, 10:45])  # numba reshapes contiguous arrays only
    assert list(io.mask_to_rle(crop)) == mask_rle(crop)
    rect = io.parse_region(rectangle_text((1.5, 2, 30, 40.25)))
    assert (rect.x, rect.y, rect.width, rect.height) == (1.5, 2, 30, 40.25)
    poly = io.parse_region(polygon_text(np.array([[0, 0], [10, 0], [10, 5], [0, 5]])))
    assert poly.size == 4 and poly[2] == (10, 5)


def test_polygon_box_encloses_the_corners() -> None:
    corners = [(334.02, 128.36), (438.19, 188.78), (396.39, 260.83), (292.23, 200.41)]
    assert polygon_box(corners) == pytest.approx((292.23, 128.36, 145.96, 132.47))


def test_frame_mask_places_an_offset_patch_and_clips_it_to_the_frame() -> None:
    patch = np.ones((4, 6), np.uint8)
    inside = frame_mask(patch, (2, 3), (10, 10))
    assert inside.sum() == 24 and inside[3, 2] == 1 and inside[7, 8] == 0
    clipped = frame_mask(patch, (-2, 8), (10, 10))
    assert clipped.sum() == 4 * 2 and clipped[9, 0] == 1
    assert frame_mask(patch, (20, 20), (10, 10)).sum() == 0
