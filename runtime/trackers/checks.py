"""Input checks every tracker shares: frames, initial boxes and masks, frame size within a sequence.

Bad input ends in one MasktrtError line naming the problem and the fix, before any network runs.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from masktrt.errors import MasktrtError


def check_frame(frame: np.ndarray) -> None:
    """Frames must be HxWx3 uint8 BGR, as cv2.imread returns them."""
    if not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.shape[2] != 3 \
            or frame.dtype != np.uint8 or frame.shape[0] == 0 or frame.shape[1] == 0:
        got = f"{frame.shape} {frame.dtype}" if isinstance(frame, np.ndarray) else type(frame).__name__
        raise MasktrtError(f"frame must be an HxWx3 uint8 BGR image, got {got}",
                           "pass frames as read by cv2.imread (colour, 8-bit)")


def check_box(box_xywh: tuple[float, float, float, float], frame_hw: tuple[int, int]) -> None:
    """The initial box must be 4 numbers, have a positive size, overlap the frame and be no
    larger than it: the trackers clip the target to the frame's size after every frame (spec
    §3.7.14), and a larger first box would make the first crop's padded canvas grow with it
    (a box of 1e9 pixels asks OpenCV for exabytes)."""
    try:
        values = np.asarray(box_xywh, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        values = np.zeros(0)
    if values.size != 4 or not np.all(np.isfinite(values)):
        raise MasktrtError(f"box must be 4 finite numbers x,y,w,h, got {str(box_xywh)[:60]!r}",
                           "give the target's top-left corner, width and height in pixels")
    x, y, w, h = values
    if w <= 0 or h <= 0:
        raise MasktrtError(f"box {x:g},{y:g},{w:g},{h:g} has zero or negative size",
                           "width and height must be positive")
    height, width = frame_hw
    if x >= width or y >= height or x + w <= 0 or y + h <= 0:
        raise MasktrtError(f"box {x:g},{y:g},{w:g},{h:g} lies outside the {width}x{height} frame",
                           "give a box that overlaps the first frame (x,y = top-left corner)")
    if w > width or h > height:
        raise MasktrtError(f"box {x:g},{y:g},{w:g},{h:g} is larger than the {width}x{height} frame",
                           "give the target's own box, at most the frame's size")


def check_same_size(frame: np.ndarray, state: Any) -> None:
    if tuple(frame.shape[:2]) != tuple(state.frame_hw):
        h, w = state.frame_hw
        raise MasktrtError(
            f"frame size changed from {w}x{h} to {frame.shape[1]}x{frame.shape[0]} mid-sequence",
            "resize all frames of a sequence to one size, or re-initialise the tracker")


def check_mask(mask: Any, frame_hw: tuple[int, int]) -> np.ndarray:
    """A first-frame mask: HxW like the frame, some target pixels; uint8 {0, 1} back (the
    annotation loaders' type: the exemplar crop is resized as uint8, then `> 0.5`)."""
    if not isinstance(mask, np.ndarray) or mask.shape != tuple(frame_hw):
        got = mask.shape if isinstance(mask, np.ndarray) else type(mask).__name__
        raise MasktrtError(f"first-frame mask must be an HxW array of the frame's size "
                           f"{frame_hw[0]}x{frame_hw[1]}, got {got}",
                           "pass one 2-D mask per target (nonzero = target), as annotated")
    binary = (mask != 0).astype(np.uint8)
    if not binary.any():
        raise MasktrtError("first-frame mask has no target pixels",
                           "pass the target's mask (nonzero = target), or only its box")
    return binary
