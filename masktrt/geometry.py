"""The Siamese pixel geometry: where a crop starts and how a mask maps back onto the frame.

The host ops (runtime.crop, runtime.mask) and the CUDA kernels' NumPy models (kernels/*_reference)
both need these exact numbers, and kernels must not import the runtime, so they live here, in
the core, with NumPy only. Rounding and factors are the official SiamMask code's, kept for parity;
the constants below are that geometry's, and SiamMask's spec re-exports them (the shared layers
never import a tracker, so the source of truth is here).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

EXEMPLAR_SIZE = 127  # template crop side (pixels)
INSTANCE_SIZE = 255  # search crop side (pixels)
TOTAL_STRIDE = 8  # network stride
BASE_SIZE = 8  # score-map cells beyond the valid correlation (the official code's base_size)
MASK_OUT_SIZE = 127  # the refined mask's side ("sharp" model)
MIN_CONTOUR_AREA = 100.0  # px^2: below this the polygon falls back to the box (spec §3.8.7)
CONTEXT_AMOUNT = 0.5  # context padding, a fraction of w + h (SiamMask and OceanPlus alike)


def context_size(size: Sequence[float], amount: float = CONTEXT_AMOUNT) -> float:
    """sqrt((w + p)(h + p)), p = amount (w + h): the exemplar's source side, unrounded. Every
    Siamese crop (template, search, training pairs, calibration crops) scales from it."""
    w, h = float(size[0]), float(size[1])
    pad = amount * (w + h)
    return math.sqrt((w + pad) * (h + pad))


@dataclass(frozen=True)
class CropWindow:
    """Inclusive source window [xmin, xmax] x [ymin, ymax] in frame pixels (may leave the frame)."""

    xmin: int
    ymin: int
    size: int

    @property
    def xmax(self) -> int:
        return self.xmin + self.size - 1

    @property
    def ymax(self) -> int:
        return self.ymin + self.size - 1

    def pads(self, frame_hw: tuple[int, int]) -> tuple[int, int, int, int]:
        """(left, top, right, bottom) padding the official code adds around the frame."""
        h, w = frame_hw
        return (max(0, -self.xmin), max(0, -self.ymin),
                max(0, self.xmax - w + 1), max(0, self.ymax - h + 1))


def crop_window(center: tuple[float, float], source_size: int) -> CropWindow:
    """Where the crop of side `source_size` centred on `center` starts (half-to-even rounding)."""
    c = (source_size + 1) / 2
    return CropWindow(round(float(center[0]) - c), round(float(center[1]) - c), int(source_size))


def pad_colour(avg_chans: np.ndarray) -> np.ndarray:
    """The first-frame mean as the official code writes it into a uint8 canvas: truncated."""
    return np.asarray(avg_chans, dtype=np.float64).astype(np.uint8)


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """float32 logistic function; exp overflow for very negative logits correctly gives 0."""
    x = np.asarray(logits, dtype=np.float32)
    with np.errstate(over="ignore"):
        return (1.0 / (1.0 + np.exp(-x))).astype(np.float32)


def mask_subwindow(crop_box: tuple[float, float, float, float],
                   pos: tuple[int, int]) -> tuple[float, float, float]:
    """(sub_x, sub_y, sub_side): the image region the 127x127 mask of cell pos covers (§3.8.2).

    The mask of cell (row, col) spans crop pixels 8*(col-4) ... +127 (cell 12 -> the centred
    127 window of the 255 crop); s converts crop pixels to image pixels with the rounded crop side.
    """
    row, col = pos
    s = crop_box[2] / INSTANCE_SIZE
    sub_x = crop_box[0] + (col - BASE_SIZE / 2) * TOTAL_STRIDE * s
    sub_y = crop_box[1] + (row - BASE_SIZE / 2) * TOTAL_STRIDE * s
    return sub_x, sub_y, EXEMPLAR_SIZE * s


def paste_back_matrix(crop_box: tuple[float, float, float, float], pos: tuple[int, int],
                      frame_hw: tuple[int, int], out_size: int = MASK_OUT_SIZE) -> np.ndarray:
    """The 2x3 float64 forward affine (mask pixel -> image pixel) of the official code (§3.8.3-4).

    Built from back_box = (-sub_x k, -sub_y k, W k, H k) with k = out_size / sub_side; its
    (W-1)/W and (H-1)/H factors are the official code's, kept for parity.
    """
    height, width = frame_hw
    sub_x, sub_y, sub_side = mask_subwindow(crop_box, pos)
    k = out_size / sub_side
    bx, by, bw, bh = -sub_x * k, -sub_y * k, width * k, height * k
    a = (width - 1) / bw
    b = (height - 1) / bh
    return np.array([[a, 0.0, -a * bx], [0.0, b, -b * by]], dtype=np.float64)
