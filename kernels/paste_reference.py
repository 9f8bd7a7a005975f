"""NumPy model of the paste-back + binarisation kernel (kernels/paste_mask.cu).

The definition of the result is masktrt.runtime.mask: binarize(paste_back(sigmoid(logits))).
OpenCV >= 4.11 (5.0 here) no longer quantises warpAffine coordinates to 1/32 pixel
(INTER_TAB_SIZE): its vectorised path casts the inverse matrix to float32 and computes, per
pixel, x_src = fma(m0, x, m2) and y_src = y * m4 + m5 in float32, then blends with
v = fma(a, p01 - p00, p00) row by row and fma(b, v1 - v0, v0) between rows, -1 for neighbours
outside the map and -1 outright when all four are outside. This model (and the kernel, which
uses the same float32 operations with explicit fma) matches cv2.warpAffine bit for bit except
in the last <= 2 * SIMD-width columns of a frame, where OpenCV finishes each row with scalar
code of different rounding (~1e-5 in probability).

Budget, stated: binary masks equal the reference except pixels whose reference probability is
within PROB_TIE of seg_thr (OpenCV's scalar row tail; exp rounding of the sigmoid, which NumPy
and CUDA compute with different last-ulp accuracy).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from masktrt.geometry import MASK_OUT_SIZE, paste_back_matrix, sigmoid

PROB_TIE = 1e-4
MARGIN = 2  # pixels added around the analytic cover of the map (float rounding of the bounds)


@dataclass(frozen=True)
class PasteParams:
    """The float32 inverse affine as OpenCV uses it, and the frame region the map can reach."""

    m0: float  # x_src = m0 * x + m2
    m2: float
    m4: float  # y_src = m4 * y + m5
    m5: float
    region: tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive); empty when x1 <= x0
    frame_hw: tuple[int, int]
    size: int


def invert_diagonal_affine(matrix: np.ndarray) -> tuple[float, float, float, float]:
    """OpenCV's invertAffineTransform in float64 for [[a, 0, c], [0, b, d]]: (1/a, -c/a, 1/b, -d/b)."""
    a, c, b, d = matrix[0, 0], matrix[0, 2], matrix[1, 1], matrix[1, 2]
    det = a * b
    det = 1.0 / det if det != 0 else 0.0
    i00, i11 = b * det, a * det
    return float(i00), float(-i00 * c), float(i11), float(-i11 * d)


def _cover(m: float, c: float, size: int, limit: int) -> tuple[int, int]:
    """Destination indices whose source coordinate m * x + c lies in [-1, size) (plus margin)."""
    if m <= 0:
        return 0, 0
    lo = int(np.floor((-1.0 - c) / m)) - MARGIN
    hi = int(np.ceil((size - c) / m)) + MARGIN
    return max(lo, 0), min(max(hi, 0), limit)


def paste_params(crop_box: tuple[float, float, float, float], pos: tuple[int, int],
                 frame_hw: tuple[int, int], out_size: int = MASK_OUT_SIZE) -> PasteParams:
    i00, i02, i11, i12 = invert_diagonal_affine(paste_back_matrix(crop_box, pos, frame_hw, out_size))
    f = [float(np.float32(v)) for v in (i00, i02, i11, i12)]
    x0, x1 = _cover(f[0], f[1], out_size, frame_hw[1])
    y0, y1 = _cover(f[2], f[3], out_size, frame_hw[0])
    return PasteParams(f[0], f[1], f[2], f[3], (x0, y0, x1, y1), tuple(frame_hw), out_size)  # type: ignore[arg-type]


def _fma32(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """float32 fused multiply-add via float64 (exact product; a double rounding is rare)."""
    return (np.asarray(a, np.float64) * np.asarray(b, np.float64) + np.asarray(c, np.float64)).astype(np.float32)


def warp_probability(prob: np.ndarray, p: PasteParams) -> np.ndarray:
    """The region's warped float32 probability (-1 where the map does not reach)."""
    f32 = np.float32
    x0, y0, x1, y1 = p.region
    xs = np.arange(x0, x1, dtype=np.float32)
    ys = np.arange(y0, y1, dtype=np.float32)
    sx = _fma32(f32(p.m0), xs[None, :], np.full((len(ys), 1), f32(p.m2)))
    sy = np.broadcast_to(((ys * f32(p.m4)).astype(f32) + f32(p.m5))[:, None], sx.shape)
    ix, iy = np.floor(sx).astype(np.int64), np.floor(sy).astype(np.int64)
    ax, ay = (sx - ix.astype(f32)).astype(f32), (sy - iy.astype(f32)).astype(f32)
    n = p.size

    def at(r: np.ndarray, c: np.ndarray) -> np.ndarray:
        ok = (r >= 0) & (r < n) & (c >= 0) & (c < n)
        return np.where(ok, prob[np.clip(r, 0, n - 1), np.clip(c, 0, n - 1)], f32(-1)).astype(f32)

    p00, p01, p10, p11 = at(iy, ix), at(iy, ix + 1), at(iy + 1, ix), at(iy + 1, ix + 1)
    v0 = _fma32(ax, p01 - p00, p00)
    v1 = _fma32(ax, p11 - p10, p10)
    v = _fma32(ay, v1 - v0, v0)
    outside = (ix + 1 < 0) | (ix >= n) | (iy + 1 < 0) | (iy >= n)
    return np.where(outside, f32(-1), v).astype(f32)


def paste_mask_reference(logits: np.ndarray, p: PasteParams, seg_thr: float) -> np.ndarray:
    """HxW uint8 {0, 1} mask: what the kernel writes (zeros outside p.region)."""
    mask = np.zeros(p.frame_hw, np.uint8)
    x0, y0, x1, y1 = p.region
    if x1 > x0 and y1 > y0:
        warped = warp_probability(sigmoid(logits), p)
        mask[y0:y1, x0:x1] = warped > np.float32(seg_thr)
    return mask
