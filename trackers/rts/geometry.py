"""RTS's crops and paste-back: pytracking's `sample_patch` and `convert_seg_scores_crop_to_image`
in NumPy/OpenCV, with the release's integer arithmetic (spec arn-rts.md §B3 "Crop geometry").

Positions are (y, x) and sizes (h, w), as in pytracking. A crop is decided once
(`sample_geometry`: the 'inside_major' shrink and shift, the integer pre-subsampling stride df)
and then applied to the frame (replicate borders, bilinear) or to a mask (zero borders,
nearest), so the image crop and the next frame's memory mask crop always share one geometry,
as they do in the release (same position, scale and image size).

Resizes follow PyTorch's `F.interpolate` (align_corners=False): crops through cv2.resize on
float32 (the same half-pixel formula), masks with PyTorch's float32 nearest index, and the
paste-back's scale-factor resize in NumPy because PyTorch maps it with 1/scale_factor rather
than in/out (cv2 cannot express that, and warpAffine's 1/32-pixel weights move the >0 contour).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from masktrt.trackers.rts.spec import MIN_CROP_PIXELS, SUBSAMPLE_MARGIN

Pair = tuple[float, float]
IntPair = tuple[int, int]


@dataclass(frozen=True)
class CropGeometry:
    """Where a crop comes from: stride df, subsampling offset, [tl, br) in subsampled pixels."""

    df: int
    offset: IntPair
    tl: IntPair
    br: IntPair
    out_hw: IntPair

    @property
    def coords(self) -> np.ndarray:
        """The release's `patch_coord` (tl, br times df; the offset is not added: its quirk)."""
        return self.df * np.array([*self.tl, *self.br], dtype=np.float64)

    @property
    def sample_pos(self) -> np.ndarray:
        """(y, x) centre of the crop in image pixels: 0.5 (tl + br - 1) of `coords`."""
        c = self.coords
        return 0.5 * (c[:2] + c[2:] - 1)

    @property
    def sample_scale(self) -> float:
        """Image pixels per crop pixel: sqrt of the product of (br - tl) / crop size."""
        c = self.coords
        return float(np.sqrt(np.prod((c[2:] - c[:2]) / np.asarray(self.out_hw, np.float64))))


def shrink_to_image(sample_sz: np.ndarray, image_hw: IntPair, mode: str) -> np.ndarray:
    """'inside' / 'inside_major': divide the size by max / min overflow ratio (at least 1)."""
    ratios = sample_sz / np.asarray(image_hw, np.float64)
    shrink = max(float(ratios.max() if mode == "inside" else ratios.min()), 1.0)
    return np.trunc(sample_sz / shrink)


def subsample_stride(sample_sz: np.ndarray, out_hw: IntPair) -> int:
    """df = max(int(min(sample / out) - 0.1), 1): integer pre-subsampling for large crops."""
    factor = float(np.min(sample_sz / np.asarray(out_hw, np.float64)))
    return max(int(factor - SUBSAMPLE_MARGIN), 1)


def shift_inside(tl: np.ndarray, br: np.ndarray, hw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Move the window inside the (subsampled) image; if it still overflows, centre the overflow."""
    shift = np.maximum(-tl, 0) - np.maximum(br - hw, 0)
    tl, br = tl + shift, br + shift
    outside = (np.maximum(-tl, 0) + np.maximum(br - hw, 0)) // 2
    shift = (-tl - outside) * (outside > 0)
    return tl + shift, br + shift


def sample_geometry(image_hw: IntPair, pos: Pair, sample_sz: Pair, out_hw: IntPair,
                    mode: str = "replicate") -> CropGeometry:
    """pytracking `sample_patch`'s window: position truncated to int, size shrunk for inside
    modes, stride df, size rounded half-to-even (>= 2), tl = p - (s-1)//2, br = p + s//2 + 1."""
    posl = np.trunc(np.asarray(pos, np.float64)).astype(np.int64)
    size = np.asarray(sample_sz, np.float64)
    if mode in ("inside", "inside_major"):
        size = shrink_to_image(size, image_hw, mode)
    df = subsample_stride(size, out_hw)
    offset = posl % df if df > 1 else np.zeros(2, np.int64)
    posl = (posl - offset) // df
    szl = np.maximum(np.round(size / df), MIN_CROP_PIXELS).astype(np.int64)
    tl, br = posl - (szl - 1) // 2, posl + szl // 2 + 1
    if mode in ("inside", "inside_major"):
        tl, br = shift_inside(tl, br, subsampled_hw(image_hw, offset, df))
    return CropGeometry(df, _pair(offset), _pair(tl), _pair(br), (int(out_hw[0]), int(out_hw[1])))


def _pair(values: np.ndarray) -> IntPair:
    return int(values[0]), int(values[1])


def subsampled_hw(image_hw: IntPair, offset: np.ndarray, df: int) -> np.ndarray:
    """Size of image[offset::df] per axis."""
    return np.array([(n - o + df - 1) // df for n, o in zip(image_hw, offset)], np.int64)


def source_indices(geo: CropGeometry, image_hw: IntPair, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """(image indices clipped to the frame, inside flags) of the crop's pixels along `axis`."""
    n = subsampled_hw(image_hw, np.asarray(geo.offset), geo.df)[axis]
    sub = np.arange(geo.tl[axis], geo.br[axis])
    inside = (sub >= 0) & (sub < n)
    return geo.offset[axis] + np.clip(sub, 0, n - 1) * geo.df, inside


def crop_image(frame: np.ndarray, geo: CropGeometry) -> np.ndarray:
    """1x3xHxW float32 BGR 0..255: replicate borders, then bilinear to the crop size."""
    rows, _ = source_indices(geo, frame.shape[:2], 0)
    cols, _ = source_indices(geo, frame.shape[:2], 1)
    patch = frame[rows][:, cols].astype(np.float32)
    if patch.shape[:2] != geo.out_hw:
        patch = cv2.resize(patch, (geo.out_hw[1], geo.out_hw[0]), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(patch.transpose(2, 0, 1)[None])


def crop_mask(mask: np.ndarray, geo: CropGeometry) -> np.ndarray:
    """1x1xHxW float32 of an HxW map: zero outside the frame, PyTorch 'nearest' resize."""
    rows, row_in = source_indices(geo, mask.shape, 0)
    cols, col_in = source_indices(geo, mask.shape, 1)
    patch = np.asarray(mask, np.float32)[rows][:, cols] * (row_in[:, None] & col_in[None, :])
    patch = patch[nearest_index(patch.shape[0], geo.out_hw[0])]
    patch = patch[:, nearest_index(patch.shape[1], geo.out_hw[1])]
    return np.ascontiguousarray(patch[None, None], dtype=np.float32)


def nearest_index(n_in: int, n_out: int) -> np.ndarray:
    """PyTorch's nearest source index: min(floor(i * (in / out)), in - 1) in float32."""
    if n_in == n_out:
        return np.arange(n_out)
    scale = np.float32(n_in) / np.float32(n_out)
    idx = np.floor(np.arange(n_out, dtype=np.float32) * scale).astype(np.int64)
    return np.minimum(idx, n_in - 1)


def shift_crop(patch: np.ndarray, out_hw: IntPair, shift: IntPair) -> np.ndarray:
    """augmentation.Transform.crop_to_output: the centred out_hw window of an NCHW patch, moved
    by -shift, replicate padding where it leaves the patch (pad = floor((out - in)/2) + shift)."""
    index = []
    for axis, (n_out, s) in enumerate(zip(out_hw, shift)):
        n_in = patch.shape[2 + axis]
        start = -(math.floor((n_out - n_in) / 2) + s)
        index.append(np.clip(np.arange(start, start + n_out), 0, n_in - 1))
    return np.ascontiguousarray(patch[:, :, index[0]][:, :, :, index[1]])


# ---------------------------------------------------------------- paste-back (§B3 6)
def interp_weights(n_in: int, factor: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(i0, i1, lambda1, n_out) of PyTorch's bilinear resize by `factor` along one axis:
    n_out = floor(n_in factor), source = max((i + 0.5) / factor - 0.5, 0) in float32."""
    n_out = math.floor(n_in * factor)
    scale = np.float32(1.0 / factor)
    src = np.maximum(scale * (np.arange(n_out, dtype=np.float32) + np.float32(0.5)) - np.float32(0.5),
                     np.float32(0))
    i0 = src.astype(np.int64)
    return i0, np.minimum(i0 + 1, n_in - 1), (src - i0).astype(np.float32), n_out


def resize_by_factor(image: np.ndarray, factor: float) -> np.ndarray:
    """HxW float32 bilinearly resized by `factor` exactly as F.interpolate(scale_factor=...)."""
    r0, r1, ly, _ = interp_weights(image.shape[0], factor)
    c0, c1, lx, _ = interp_weights(image.shape[1], factor)
    rows = image[r0] * (1 - ly)[:, None] + image[r1] * ly[:, None]
    return (rows[:, c0] * (1 - lx) + rows[:, c1] * lx).astype(np.float32)


def paste_logits(logits: np.ndarray, geo: CropGeometry, frame_hw: IntPair,
                 background: float) -> np.ndarray:
    """HxW float32 image-size logits: the crop's logits resized by its sample scale and copied
    at r1 = int(pos_y - rows/2), c1 = int(pos_x - cols/2) (truncation) into a `background`
    canvas, clipped to the frame."""
    scores = resize_by_factor(np.asarray(logits, np.float32).reshape(logits.shape[-2:]),
                              geo.sample_scale)
    canvas = np.full(frame_hw, background, np.float32)
    pos = geo.sample_pos
    r1, c1 = int(pos[0] - 0.5 * scores.shape[0]), int(pos[1] - 0.5 * scores.shape[1])
    r2, c2 = r1 + scores.shape[0], c1 + scores.shape[1]
    top, left = max(0, -r1), max(0, -c1)
    bottom, right = max(r2 - frame_hw[0], 0), max(c2 - frame_hw[1], 0)
    if r2 - bottom > r1 + top and c2 - right > c1 + left:
        canvas[r1 + top:r2 - bottom, c1 + left:c2 - right] = \
            scores[top:scores.shape[0] - bottom, left:scores.shape[1] - right]
    return canvas
