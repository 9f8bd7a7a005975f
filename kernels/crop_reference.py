"""NumPy model of the crop+resize kernel (kernels/crop_resize.cu): OpenCV's uint8 bilinear, exactly.

The definition of the result is masktrt.runtime.crop.crop_subwindow (cv2.resize, INTER_LINEAR).
For 8-bit images OpenCV does not interpolate in floating point: it quantises the weights to
11 bits (INTER_RESIZE_COEF_BITS) and, in its SIMD vertical pass (used on the whole row by the
x86/NEON builds), keeps 16-bit products: out = (((h0 >> 4) * b0 >> 16) + ((h1 >> 4) * b1 >> 16) + 2) >> 2,
where h are horizontal sums of pixel * 11-bit weight. Column weights are clamped at the image
border (fx = 0), row weights are not (the row index is clamped instead), which is visible in the
first and last output rows when upscaling. A float implementation would differ by one level on
~5 % of the values; this model (and the kernel, which does the same integer arithmetic) matches
cv2.resize bit for bit on every size tested (tests/kernels/test_crop_reference.py).
A 2x downscale is INTER_AREA inside OpenCV; the same formula gives the identical result.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from masktrt.geometry import crop_window, pad_colour

COEF_BITS = 11
COEF_SCALE = 1 << COEF_BITS


@dataclass(frozen=True)
class CropParams:
    """Everything the kernel needs, computed on the host with the official rounding."""

    xmin: int
    ymin: int
    source_size: int
    model_size: int
    pad: tuple[int, int, int]  # B, G, R, truncated first-frame mean


def crop_params(center: tuple[float, float], model_size: int, source_size: int,
                avg_chans: np.ndarray) -> CropParams:
    win = crop_window(center, source_size)
    pad = tuple(int(v) for v in pad_colour(avg_chans))
    return CropParams(win.xmin, win.ymin, int(source_size), int(model_size), pad)  # type: ignore[arg-type]


def resize_coefficients(src: int, dst: int, clamp: bool) -> tuple[np.ndarray, ...]:
    """(index0, index1, weight0, weight1) per output position, as OpenCV computes them."""
    scale = 1.0 / (dst / src)
    f = ((np.arange(dst) + 0.5) * scale - 0.5).astype(np.float32)
    i0 = np.floor(f).astype(np.int64)
    f = (f - i0.astype(np.float32)).astype(np.float32)
    if clamp:
        low, high = i0 < 0, i0 >= src - 1
        f[low | high] = 0
        i0[low], i0[high] = 0, src - 1
    w1 = np.rint(f * np.float32(COEF_SCALE)).astype(np.int64)
    w0 = np.rint((np.float32(1) - f) * np.float32(COEF_SCALE)).astype(np.int64)
    return np.clip(i0, 0, src - 1), np.clip(i0 + 1, 0, src - 1), w0, w1


def resize_u8(patch: np.ndarray, dst: int) -> np.ndarray:
    """Square HxWx3 uint8 patch -> dst x dst x 3 uint8 with OpenCV's fixed-point bilinear."""
    src = patch.shape[0]
    x0, x1, a0, a1 = resize_coefficients(src, dst, clamp=True)
    y0, y1, b0, b1 = resize_coefficients(src, dst, clamp=False)
    img = patch.astype(np.int64)
    rows = img[:, x0] * a0[None, :, None] + img[:, x1] * a1[None, :, None]
    out = (((rows[y0] >> 4) * b0[:, None, None]) >> 16) + (((rows[y1] >> 4) * b1[:, None, None]) >> 16)
    return np.clip((out + 2) >> 2, 0, 255).astype(np.uint8)


def sample_patch(frame: np.ndarray, p: CropParams) -> np.ndarray:
    """The source_size^2 x 3 patch the kernel reads: frame pixels, pad colour outside."""
    h, w = frame.shape[:2]
    ys = np.arange(p.source_size) + p.ymin
    xs = np.arange(p.source_size) + p.xmin
    inside = ((ys >= 0) & (ys < h))[:, None] & ((xs >= 0) & (xs < w))[None, :]
    patch = frame[np.clip(ys, 0, h - 1)][:, np.clip(xs, 0, w - 1)]
    return np.where(inside[..., None], patch, np.array(p.pad, np.uint8)).astype(np.uint8)


def crop_resize_reference(frame: np.ndarray, p: CropParams, dtype: type = np.float32) -> np.ndarray:
    """1x3xMxM engine input in `dtype` (float32 or float16), BGR 0..255, as the kernel writes it."""
    out = resize_u8(sample_patch(frame, p), p.model_size)
    return np.ascontiguousarray(out.transpose(2, 0, 1)[None]).astype(dtype)
