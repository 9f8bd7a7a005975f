"""OceanPlus training pairs: template crop + its first-frame mask, search crop at 255 with the
cls/bbox targets and the mask target, cut with the tracker's own crop and geometry.

The same data as SiamMask's demo recipe (`trackers.siammask.training.pairs`): a sliding window of synthetic
scenes keyed by the step, real positive pairs from ../shared/data/train (`training.real`, which
refuses the evaluation sequences), negative pairs (template of one real sequence, search crop
from another) and the same augmentation; every pair is a pure function of (seed, step), so a
resumed run sees the data an uninterrupted one would. What differs is what OceanPlus needs: a
127x127 template mask (the ARN's LUT value, thresholded at 0.5 like the tracker's) and dense
targets for the whole 255 crop (anchor-free cells, l,t,r,b, the full mask and its contour).
Only the 255 search side is trained; the network is fully convolutional, so 287 runs as well.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from masktrt.geometry import context_size
from masktrt.runtime.crop import crop_subwindow
from masktrt.trackers.oceanplus.spec import (EXEMPLAR_SIZE, SMALL_INSTANCE,
                                     TEMPLATE_MASK_THRESHOLD)
from masktrt.trackers.oceanplus.training.targets import CellTargets, cell_targets, negative_targets
from masktrt.training import scenes
from masktrt.training.scenes import (Augment, Mix, PairKinds, SceneWindow, box_cxcywh, gray_crop,
                                     scene_frames)
from masktrt.training.synthetic import Scene



@dataclass(frozen=True)
class OceanPair:
    """One training example, arrays ready to stack."""

    template: np.ndarray  # 3x127x127 float32 BGR 0..255
    z_mask: np.ndarray    # 1x127x127 float32 {0, 1}
    search: np.ndarray    # 3x255x255 float32
    targets: CellTargets
    mask: np.ndarray | None     # 1x255x255 float32 {0, 1}; None for a negative pair
    contour: np.ndarray | None  # 1x255x255 float32 {0, 1}


def crop_mask(mask: np.ndarray, centre: np.ndarray, out: int, side: int) -> np.ndarray:
    """The mask (0/255) cut like the image (zero outside the frame) -> out x out in [0, 1]."""
    stacked = np.repeat(mask[..., None], 3, axis=2)
    return crop_subwindow(stacked, centre, out, side, np.zeros(3))[0, 0] / 255.0


def contour(mask: np.ndarray) -> np.ndarray:
    """The target's outline (OpenCV contours, 1 px) as float32 {0, 1}: the paper's y_b."""
    binary = mask.astype(np.uint8)
    lines, _ = cv2.findContours(binary, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    canvas = np.zeros_like(binary)
    cv2.drawContours(canvas, lines, -1, 1, 1)
    return canvas.astype(np.float32)


def template(f0: np.ndarray, m0: np.ndarray, rng: np.random.Generator, aug: Augment
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(z, z_mask, box0): the jittered exemplar crop and its binarised mask crop."""
    box0 = box_cxcywh(m0)
    s_z = context_size(box0[2:]) * (1 + rng.uniform(-aug.template_scale, aug.template_scale))
    centre = box0[:2] + rng.uniform(-1, 1, 2) * aug.template_shift * s_z / EXEMPLAR_SIZE
    avg = f0.reshape(-1, 3).mean(axis=0)
    z = crop_subwindow(f0, centre, EXEMPLAR_SIZE, round(s_z), avg)[0]
    z_mask = crop_mask(m0, centre, EXEMPLAR_SIZE, round(s_z)) > TEMPLATE_MASK_THRESHOLD
    return z, z_mask[None].astype(np.float32), box0


def search_side(box: np.ndarray, rng: np.random.Generator, aug: Augment) -> int:
    """The tracker's search source side for `box` (s_z * 255 / 127), scale-jittered."""
    s_x = context_size(box[2:]) * SMALL_INSTANCE / EXEMPLAR_SIZE
    return max(round(s_x * (1 + rng.uniform(-aug.search_scale, aug.search_scale))), 16)


def maybegray_crop(z: np.ndarray, x: np.ndarray, rng: np.random.Generator, aug: Augment
               ) -> tuple[np.ndarray, np.ndarray]:
    """Both crops grey together with probability aug.gray (as trackers.siammask.training.pairs)."""
    return (gray_crop(z), gray_crop(x)) if rng.uniform() < aug.gray else (z, x)


def crop_box(box: np.ndarray, centre: np.ndarray, k: float) -> np.ndarray:
    """Image (cx, cy, w, h) -> crop (x1, y1, x2, y2), with the tracker's mapping
    crop = (image - centre) * k + S//2 (the inverse of its move_target)."""
    c = (box[:2] - centre) * k + SMALL_INSTANCE // 2
    half = box[2:] * k / 2
    return np.concatenate([c - half, c + half])


def positive_pair(f0: np.ndarray, m0: np.ndarray, f1: np.ndarray, m1: np.ndarray,
                  rng: np.random.Generator, aug: Augment = Augment()) -> OceanPair:
    """Template from frame 0 (with its mask), search crop of frame 1 around its target."""
    z, z_mask, _ = template(f0, m0, rng, aug)
    box1 = box_cxcywh(m1)
    side = search_side(box1, rng, aug)
    k = SMALL_INSTANCE / side
    centre = box1[:2] + rng.uniform(-1, 1, 2) * aug.search_shift / k
    x = crop_subwindow(f1, centre, SMALL_INSTANCE, side, f0.reshape(-1, 3).mean(axis=0))[0]
    z, x = maybegray_crop(z, x, rng, aug)
    mask = (crop_mask(m1, centre, SMALL_INSTANCE, side) > 0.5).astype(np.float32)
    return OceanPair(z, z_mask, x, cell_targets(crop_box(box1, centre, k)), mask[None],
                     contour(mask)[None])


def negative_pair(f0: np.ndarray, m0: np.ndarray, other: np.ndarray, rng: np.random.Generator,
                  aug: Augment = Augment()) -> OceanPair:
    """Template of one object, search crop (the tracking size) anywhere in another
    sequence's frame: every cell is background, the score must fall there."""
    z, z_mask, box0 = template(f0, m0, rng, aug)
    side = search_side(box0, rng, aug)
    h, w = other.shape[:2]
    centre = rng.uniform(0, 1, 2) * (w, h)
    x = crop_subwindow(other, centre, SMALL_INSTANCE, side, other.reshape(-1, 3).mean(axis=0))[0]
    z, x = maybegray_crop(z, x, rng, aug)
    return OceanPair(z, z_mask, x, negative_targets(), None, None)


def synthetic_pair(scene: Scene, rng: np.random.Generator, aug: Augment) -> OceanPair | None:
    drawn = scene_frames(scene, rng)
    return None if drawn is None else positive_pair(*drawn, rng, aug)


KINDS = PairKinds("OceanPlus", synthetic_pair, positive_pair, negative_pair, stream=3)


def batch_pairs(window: SceneWindow, seed: int, step: int, batch: int,
                aug: Augment = Augment(), real: list | None = None,
                mix: Mix = Mix()) -> list[OceanPair]:
    """`batch` OceanPlus pairs for `step` (`training.scenes.batch_pairs`)."""
    return scenes.batch_pairs(KINDS, window, seed, step, batch, aug, real, mix)
