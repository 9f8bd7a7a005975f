"""The official SiamMask crop (`get_subwindow_tracking`, spec §3.5), exactly.

Rounding is Python's round-half-to-even on float64, the padding colour is the first-frame mean
truncated to uint8, and resizing is OpenCV's default bilinear. The patch is filled directly
instead of padding the whole frame first: same pixels, without copying a 4K frame per crop.
"""
from __future__ import annotations

import cv2
import numpy as np

from masktrt.geometry import CropWindow, crop_window, pad_colour


def crop_patch(frame: np.ndarray, win: CropWindow, avg_chans: np.ndarray) -> np.ndarray:
    """The size x size x 3 uint8 source patch, padded with the truncated mean where it leaves the frame."""
    h, w = frame.shape[:2]
    if win.xmin >= 0 and win.ymin >= 0 and win.xmax < w and win.ymax < h:
        return frame[win.ymin:win.ymax + 1, win.xmin:win.xmax + 1]
    colour = pad_colour(avg_chans)
    x0, y0 = max(win.xmin, 0), max(win.ymin, 0)
    x1, y1 = min(win.xmax + 1, w), min(win.ymax + 1, h)
    if x1 <= x0 or y1 <= y0:  # the window misses the frame entirely
        return np.tile(colour, (win.size, win.size, 1))
    # copyMakeBorder fills in C: a 1400 px search window costs ~1 ms instead of ~14 ms of NumPy
    # broadcasting, with the same pixels.
    return cv2.copyMakeBorder(frame[y0:y1, x0:x1], y0 - win.ymin, win.ymax + 1 - y1,
                              x0 - win.xmin, win.xmax + 1 - x1, cv2.BORDER_CONSTANT,
                              value=[int(c) for c in colour])


def crop_subwindow(frame: np.ndarray, center: tuple[float, float], model_size: int,
                   source_size: int, avg_chans: np.ndarray) -> np.ndarray:
    """The network input: 1x3xMxM float32, BGR 0..255, no normalisation (spec §3.5, §4)."""
    patch = crop_patch(frame, crop_window(center, source_size), avg_chans)
    if source_size != model_size:
        patch = cv2.resize(patch, (model_size, model_size))
    return np.ascontiguousarray(patch.transpose(2, 0, 1)[None], dtype=np.float32)
