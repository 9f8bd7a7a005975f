"""Regions as the VOT toolkit writes them, and the conversions a TraX tracker needs.

The toolkit's text format (vot/region/io.py, one region a line): a rectangle is `x,y,w,h`, a
polygon `x1,y1,x2,y2,...`, a mask `m<x>,<y>,<w>,<h>,<rle...>`: the mask cropped to the box
(x, y, w, h), run-length encoded row by row, starting with a run of zeros (0 when the first pixel
is set). All coordinates are 0-based pixels, masktrt's own convention, so nothing is shifted.
NumPy and OpenCV only: the workspace writer and the TraX server share these without the toolkit.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import cv2
import numpy as np

Box = tuple[float, float, float, float]


def _number(value: float) -> str:
    """Short, exact enough text for a coordinate (what the toolkit's own files look like)."""
    return f"{float(value):.6g}"


def rectangle_text(box_xywh: Iterable[float]) -> str:
    return ",".join(_number(v) for v in box_xywh)


def polygon_text(points: np.ndarray) -> str:
    """Corners (N,2) -> `x1,y1,...`; the toolkit needs at least three points."""
    return ",".join(_number(v) for v in np.asarray(points, dtype=np.float64).reshape(-1))


def mask_rle(mask: np.ndarray) -> list[int]:
    """Row-major run lengths of a binary mask, the first run counting zeros (VOT's encoding)."""
    flat = np.asarray(mask).reshape(-1) > 0
    if flat.size == 0:
        return [0]
    edges = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    runs = np.diff(np.concatenate(([0], edges, [flat.size]))).tolist()
    return [0, *runs] if flat[0] else runs


def mask_bounds(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """Tight (x, y, w, h) of the nonzero pixels; None for an empty mask."""
    x, y, w, h = cv2.boundingRect((np.asarray(mask) > 0).astype(np.uint8))
    return None if w == 0 or h == 0 else (x, y, w, h)


def mask_text(mask: np.ndarray) -> str:
    """`m<x>,<y>,<w>,<h>,<rle>` of the mask cropped to its tight box (`m0,0,0,0,0` if empty)."""
    bounds = mask_bounds(mask)
    if bounds is None:
        return "m0,0,0,0,0"
    x, y, w, h = bounds
    runs = mask_rle(np.asarray(mask)[y:y + h, x:x + w])
    return "m" + ",".join(str(v) for v in (x, y, w, h, *runs))


def polygon_box(points: Sequence[tuple[float, float]] | np.ndarray) -> Box:
    """The enclosing x,y,w,h of a polygon: how a polygon initialises a box tracker."""
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    (x0, y0), (x1, y1) = p.min(axis=0), p.max(axis=0)
    return float(x0), float(y0), float(x1 - x0), float(y1 - y0)


def frame_mask(patch: np.ndarray, offset: tuple[int, int], frame_hw: tuple[int, int]) -> np.ndarray:
    """A mask given as a patch at (x, y) placed on an HxW canvas, clipped to the frame: TraX
    masks carry an offset and need not fit the image."""
    canvas = np.zeros(frame_hw, dtype=np.uint8)
    x, y = offset
    h, w = patch.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, frame_hw[1]), min(y + h, frame_hw[0])
    if x1 > x0 and y1 > y0:
        canvas[y0:y1, x0:x1] = patch[y0 - y:y1 - y, x0 - x:x1 - x] > 0
    return canvas
