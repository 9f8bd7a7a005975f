"""Masks for the MBR tests (random and degenerate) and the comparison with the official pipeline.

Comparison rule (documented in the report): the chosen component must have exactly the official
contour area and the same found/fallback decision; rectangles are compared as sets of corners
(OpenCV's corner order and angle convention differ from ours): area within 0.5 % and every
official corner within 0.5 px of a distinct corner of ours.
"""
from __future__ import annotations

import cv2
import numpy as np

from masktrt.trackers.siammask.spec import MIN_CONTOUR_AREA
from masktrt.runtime.mask import largest_contour

AREA_TOL = 0.005
CORNER_TOL = 0.5


def official(mask: np.ndarray) -> tuple[bool, float, np.ndarray | None]:
    contour, area = largest_contour(mask)
    if contour is None or not area > MIN_CONTOUR_AREA:
        return False, area, None
    return True, area, cv2.boxPoints(cv2.minAreaRect(contour))


def polygon_area(corners: np.ndarray) -> float:
    x, y = corners[:, 0].astype(np.float64), corners[:, 1].astype(np.float64)
    return 0.5 * abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1)))


def same_rectangle(ref: np.ndarray, got: np.ndarray) -> tuple[bool, str]:
    ra, ga = polygon_area(ref), polygon_area(got)
    if abs(ra - ga) > AREA_TOL * max(ra, 1e-9):
        return False, f"area {ga} vs official {ra}"
    d = np.linalg.norm(ref[:, None, :].astype(np.float64) - got[None, :, :], axis=-1)
    match = d.argmin(axis=1)
    if len(set(match.tolist())) != 4 or d.min(axis=1).max() > CORNER_TOL:
        return False, f"corners {got.tolist()} vs official {ref.tolist()}"
    return True, ""


def random_masks(seed: int, count: int, sizes) -> list[np.ndarray]:
    """Blurred-noise blobs of varied density and smoothness: many components, holes, borders."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        h, w = sizes[i % len(sizes)]
        noise = (rng.random((h, w)) < rng.uniform(0.15, 0.85)).astype(np.float32) * 255
        sigma = float(rng.uniform(0.6, 6.0))
        out.append((cv2.GaussianBlur(noise, (0, 0), sigma) > rng.uniform(90, 160)).astype(np.uint8))
    return out


def degenerate_masks(h: int, w: int) -> dict[str, np.ndarray]:
    z = lambda: np.zeros((h, w), np.uint8)  # noqa: E731
    cases = {"empty": z(), "full": np.ones((h, w), np.uint8)}
    m = z(); m[h // 2, w // 2] = 1; cases["one_pixel"] = m
    m = z(); m[h // 2, :] = 1; cases["h_line"] = m
    m = z(); m[:, w // 2] = 1; cases["v_line"] = m
    m = z(); k = min(h, w); m[np.arange(k), np.arange(k)] = 1; cases["diagonal_line"] = m
    m = z(); m[h // 3:h // 3 + 3, :] = 1; cases["thick_line_across"] = m
    m = z(); m[h // 2, ::2] = 1; cases["collinear_dots"] = m
    m = z(); m[h // 2, :] = 1; m[:, w // 2] = 1; m[h // 2 - 2:h // 2 + 3, :] = 1; cases["cross_touching_borders"] = m
    m = np.ones((h, w), np.uint8); m[2:-2, 2:-2] = 0; cases["frame_border_ring"] = m
    m = z(); cy, cx, r = h // 2, w // 2, min(h, w) // 3
    yy, xx = np.mgrid[:h, :w]
    d2 = (yy - cy) ** 2 + (xx - cx) ** 2
    m[(d2 <= r * r) & (d2 >= (r - 3) ** 2)] = 1; cases["ring"] = m
    m = z(); s = max(min(h, w) // 5, 11)
    for i, (y, x) in enumerate([(1, 1), (1, w - s - 1), (h - s - 1, 1), (h - s - 1, w - s - 1)]):
        m[y:y + s, x:x + s] = 1  # four equal squares: the tie goes to the last in raster order
    cases["equal_squares"] = m
    m = z(); m[1:13, 1:13] = 1  # 144 px, contour area 121
    m[h // 2:h // 2 + 20, w // 2:w // 2 + 20] = 1; m[h // 2 + 1:h // 2 + 19, w // 2 + 1:w // 2 + 19] = 0  # 76 px, area 361
    cases["thin_ring_beats_more_pixels"] = m
    m = z(); m[1:11, 1:12] = 1; m[h - 12:h - 1, w - 11:w - 1] = 1  # areas 90 and 90: both under 100
    cases["small_components"] = m
    m = z(); m[3:9, 3:30] = 1; m[4:8, 2] = 1; cases["notch"] = m
    return cases
