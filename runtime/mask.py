"""Mask post-processing of the official tracker (spec §3.8), one step per function.

These are the reference definitions for the GPU kernels (paste-back + binarisation, minimum-area
rectangle): each takes and returns plain arrays, has no state, and its signature is stable.

Coordinates: a crop box is (x, y, w, h) in image pixels, the square region the 255x255 search
crop was cut from (w = h = round(s_x)); pos = (row, col) is the chosen 25x25 score-map cell.
"""
from __future__ import annotations

import cv2
import numpy as np

from masktrt.geometry import MASK_OUT_SIZE, MIN_CONTOUR_AREA
from masktrt.geometry import mask_subwindow, paste_back_matrix, sigmoid  # noqa: F401 (host pipeline API)

OUTSIDE_VALUE = -1.0  # paste-back border value: "no prediction" stays below any seg_thr


def paste_back(prob: np.ndarray, crop_box: tuple[float, float, float, float],
               pos: tuple[int, int], frame_hw: tuple[int, int],
               out_size: int = MASK_OUT_SIZE) -> np.ndarray:
    """HxW float32 probability in image coordinates; -1 outside the mask's sub-window.

    `prob` is the out_size x out_size float32 sigmoid output of Refine at cell pos. Bilinear
    cv2.warpAffine with a constant -1 border, exactly as the official tracker.
    """
    prob = np.asarray(prob, dtype=np.float32)
    if prob.shape != (out_size, out_size):
        raise ValueError(f"prob must be {out_size}x{out_size}, got {prob.shape}")
    height, width = frame_hw
    matrix = paste_back_matrix(crop_box, pos, frame_hw, out_size)
    return cv2.warpAffine(prob, matrix, (width, height), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=OUTSIDE_VALUE)


def binarize(prob: np.ndarray, seg_thr: float) -> np.ndarray:
    """uint8 {0, 1} mask: strictly greater than the preset's seg_thr (§3.8.5)."""
    return (np.asarray(prob) > seg_thr).astype(np.uint8)


def box_polygon(box_cxcywh: tuple[float, float, float, float]) -> np.ndarray:
    """4x2 float32 corners of an axis-aligned box, clockwise from the top-left (§3.8.8)."""
    cx, cy, w, h = (float(v) for v in box_cxcywh)
    x, y = cx - w / 2, cy - h / 2
    return np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], dtype=np.float32)


def largest_contour(mask: np.ndarray) -> tuple[np.ndarray | None, float]:
    """The external contour (Nx2 int32) of largest cv2.contourArea, and that area; (None, 0) if none."""
    found = cv2.findContours(np.ascontiguousarray(mask, dtype=np.uint8),
                             cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    contours = found[-2]  # OpenCV 3 returned (image, contours, hierarchy); 4 and 5 return 2
    if not contours:
        return None, 0.0
    areas = [cv2.contourArea(c) for c in contours]
    best = int(np.argmax(areas))
    return contours[best].reshape(-1, 2), float(areas[best])


def mask_polygon(mask: np.ndarray,
                 fallback_box_cxcywh: tuple[float, float, float, float]) -> tuple[np.ndarray, bool]:
    """(4x2 float32 polygon, from_mask) per §3.8.6-8.

    The rotated minimum-area rectangle of the largest external contour when its area exceeds
    MIN_CONTOUR_AREA; otherwise the fallback box (the updated, not yet clipped target) so that a
    tiny or empty mask still yields a sensible region.
    """
    contour, area = largest_contour(mask)
    if contour is not None and area > MIN_CONTOUR_AREA:
        return cv2.boxPoints(cv2.minAreaRect(contour)).astype(np.float32), True
    return box_polygon(fallback_box_cxcywh), False


def mask_bounding_box(mask: np.ndarray) -> tuple[float, float, float, float]:
    """(x, y, w, h): the mask's bounding rectangle, for a mask given without a box."""
    x, y, w, h = cv2.boundingRect(mask)
    return float(x), float(y), float(w), float(h)
