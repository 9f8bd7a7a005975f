"""Crops at RTS's geometry from real frames: the target centred, crop side 6 x the target's.

Used to fit the random model's BatchNorm statistics (with jitter) and for tensor parity on real
sequences (without). The runtime tracker's crop (inside_major shift, integer pre-subsampling,
§B3) is not needed for either: they need real image statistics around a target, not the exact
tracker's window.
"""
from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

from masktrt.errors import MasktrtError
from masktrt.export.parity_tensor import CropSet
from masktrt.trackers.rts.spec import CROP_HW, TrackerConfig

CENTER_JITTER, SCALE_JITTER = 0.25, 0.15  # fraction of the target size; log-uniform size factor

Box = tuple[float, float, float, float]  # cx, cy, w, h


def crop_warp(box: Box, rng: np.random.Generator | None = None, crop_hw: tuple[int, int] = CROP_HW,
              area_scale: float | None = None) -> np.ndarray:
    """2x3 affine frame -> crop: `box` centred (jittered when `rng` is given), the crop side
    `area_scale` (default: the search area's 6, STA's is 4) x the target's."""
    cx, cy, w, h = box
    area_scale = area_scale or TrackerConfig().search_area_scale
    scale = math.sqrt(crop_hw[0] * crop_hw[1]) / (area_scale * math.sqrt(w * h))
    if rng is not None:
        cx, cy = np.array([cx, cy]) + rng.uniform(-CENTER_JITTER, CENTER_JITTER, 2) * (w, h)
        scale *= math.exp(rng.uniform(-SCALE_JITTER, SCALE_JITTER))
    return np.array([[scale, 0, crop_hw[1] / 2 - scale * cx], [0, scale, crop_hw[0] / 2 - scale * cy]])


def warp(image: np.ndarray, matrix: np.ndarray, crop_hw: tuple[int, int], flags: int) -> np.ndarray:
    return cv2.warpAffine(image, matrix, (crop_hw[1], crop_hw[0]), flags=flags,
                          borderMode=cv2.BORDER_REPLICATE)


def rts_crop(frame: np.ndarray, box: Box, rng: np.random.Generator | None = None,
             crop_hw: tuple[int, int] = CROP_HW, area_scale: float | None = None) -> np.ndarray:
    """1x3xHxW float32 BGR 0..255 of `frame` around `box` (`crop_warp`)."""
    crop = warp(frame, crop_warp(box, rng, crop_hw, area_scale), crop_hw, cv2.INTER_LINEAR)
    return crop.transpose(2, 0, 1)[None].astype(np.float32)


def crop_with_mask(frame: np.ndarray, mask: np.ndarray, box: Box, rng: np.random.Generator | None,
                   crop_hw: tuple[int, int] = CROP_HW) -> tuple[np.ndarray, np.ndarray]:
    """(1x3xHxW crop, HxW uint8 {0,1} mask) cut by the same warp: a training sample."""
    matrix = crop_warp(box, rng, crop_hw)
    image = warp(frame, matrix, crop_hw, cv2.INTER_LINEAR).transpose(2, 0, 1)[None]
    cut = warp((mask > 0).astype(np.uint8), matrix, crop_hw, cv2.INTER_NEAREST)
    return image.astype(np.float32), cut


def sequence_crops(path: str | Path, frames: int = 2, crop_hw: tuple[int, int] = CROP_HW) -> CropSet:
    """Crops of `frames` frames spread over a sequence, on its ground truth (xs; z = xs[0])."""
    from masktrt.export.random_weights import sequence_boxes
    from masktrt.runtime.sequences import load_sequence

    seq = load_sequence(path)
    boxes = sequence_boxes(seq) if seq.has_groundtruth else []
    picks = [i for i in np.linspace(0, len(seq) - 1, frames).round().astype(int)
             if i < len(boxes) and boxes[i] is not None]
    if not picks:
        raise MasktrtError(f"sequence '{path}' has no ground-truth box on the frames picked",
                           "pass a sequence folder with groundtruth.txt")
    xs = tuple(rts_crop(seq.frame(int(i)), boxes[int(i)], None, crop_hw) for i in picks)
    return CropSet(seq.name, xs[0], xs)


def fitted(crop: np.ndarray, crop_hw: tuple[int, int]) -> np.ndarray:
    """A crop of another tracker's geometry (e.g. SiamMask's 255x255) resized to `crop_hw`."""
    if tuple(crop.shape[-2:]) == tuple(crop_hw):
        return np.ascontiguousarray(crop, dtype=np.float32)
    image = np.ascontiguousarray(crop[0].transpose(1, 2, 0), dtype=np.float32)
    resized = cv2.resize(image, (crop_hw[1], crop_hw[0]), interpolation=cv2.INTER_LINEAR)
    return resized.transpose(2, 0, 1)[None].astype(np.float32)
