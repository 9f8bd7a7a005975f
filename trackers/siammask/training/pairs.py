"""Template/search training pairs from synthetic scenes and real sequences, cut with the
tracker's own crop; positive pairs (same object) and negative pairs (another sequence).

Why the tracker's crop (`runtime.crop.crop_subwindow`) and geometry (context size, 127/255,
scale 255/s_x): the network then learns exactly the inputs it will see when tracking. We train
at the inference search size (255, 25x25 score map) for all three heads together, rather than
the official two-stage schedule with 143-pixel search crops for the sharp stage: one stage is
simpler, and the Refine windows are then the very windows the tracker asks for.

The scenes, the mix of pair kinds and the augmentation are shared (`training.scenes`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from masktrt.trackers.siammask.spec import EXEMPLAR_SIZE, INSTANCE_SIZE, TOTAL_STRIDE
from masktrt.runtime.crop import crop_subwindow
from masktrt.geometry import context_size
from masktrt.training import scenes
from masktrt.training.scenes import (Augment, Mix, PairKinds, SceneWindow, box_cxcywh, gray_crop,
                                     scene_frames)
from masktrt.training.synthetic import Scene
from masktrt.trackers.siammask.training.targets import (AnchorTargets, anchor_targets, negative_targets,
                                      positive_cells)

MASK_PAD = 32           # the 255 mask is unfolded with window 127, stride 8, padding 32 (spec §5)


@dataclass(frozen=True)
class Pair:
    template: np.ndarray   # 3x127x127 float32 BGR 0..255
    search: np.ndarray     # 3x255x255 float32
    targets: AnchorTargets
    mask_cell: tuple[int, int] | None  # a positive cell (row, col), None without positives
    mask_window: np.ndarray | None     # 127x127 float32 ±1 at that cell


def _crop_mask(mask: np.ndarray, center: np.ndarray, side: int) -> np.ndarray:
    """The 255x255 search-crop mask (bool), cut like the image (zero outside the frame)."""
    stacked = np.repeat(mask[..., None], 3, axis=2)
    crop = crop_subwindow(stacked, center, INSTANCE_SIZE, side, np.zeros(3))
    return crop[0, 0] >= 128


def mask_window(mask255: np.ndarray, cell: tuple[int, int]) -> np.ndarray:
    """The 127x127 ±1 window under score cell (row, col): rows 8r-32 .. 8r+94 of the crop."""
    padded = np.pad(mask255, MASK_PAD)
    r, c = cell[0] * TOTAL_STRIDE, cell[1] * TOTAL_STRIDE
    window = padded[r:r + EXEMPLAR_SIZE, c:c + EXEMPLAR_SIZE]
    return np.where(window, 1.0, -1.0).astype(np.float32)


def make_pair(scene: Scene, rng: np.random.Generator, aug: Augment = Augment()) -> Pair | None:
    """One pair, or None when the sampled frames hide the target (the caller redraws)."""
    drawn = scene_frames(scene, rng)
    return None if drawn is None else pair_from_frames(*drawn, rng, aug)


def _template(f0: np.ndarray, box0: np.ndarray, avg: np.ndarray, rng: np.random.Generator,
              aug: Augment) -> np.ndarray:
    """The exemplar crop around box0 with the template jitter."""
    s_z = context_size(box0[2:]) * (1 + rng.uniform(-aug.template_scale, aug.template_scale))
    z_centre = box0[:2] + rng.uniform(-1, 1, 2) * aug.template_shift * s_z / EXEMPLAR_SIZE
    return crop_subwindow(f0, z_centre, EXEMPLAR_SIZE, round(s_z), avg)[0]


def negative_pair(f0: np.ndarray, m0: np.ndarray, other: np.ndarray, rng: np.random.Generator,
                  aug: Augment = Augment()) -> Pair:
    """Template of one object, search crop (the size tracking would use) anywhere in a frame
    of another sequence: every anchor near the centre is background."""
    box0 = box_cxcywh(m0)
    avg = f0.reshape(-1, 3).mean(axis=0)
    z = _template(f0, box0, avg, rng, aug)
    side = max(round(context_size(box0[2:]) * INSTANCE_SIZE / EXEMPLAR_SIZE), 16)
    h, w = other.shape[:2]
    centre = rng.uniform(0, 1, 2) * (w, h)
    x = crop_subwindow(other, centre, INSTANCE_SIZE, side, other.reshape(-1, 3).mean(axis=0))[0]
    if rng.uniform() < aug.gray:
        z, x = gray_crop(z), gray_crop(x)
    return Pair(z, x, negative_targets(rng), None, None)


def pair_from_frames(f0: np.ndarray, m0: np.ndarray, f1: np.ndarray, m1: np.ndarray,
                     rng: np.random.Generator, aug: Augment = Augment()) -> Pair:
    """A positive pair from two frames (BGR) and their target masks (0/255)."""
    box0, box1 = box_cxcywh(m0), box_cxcywh(m1)
    avg = f0.reshape(-1, 3).mean(axis=0)
    z = _template(f0, box0, avg, rng, aug)
    s_x = context_size(box1[2:]) * INSTANCE_SIZE / EXEMPLAR_SIZE
    side = max(round(s_x * (1 + rng.uniform(-aug.search_scale, aug.search_scale))), 16)
    k = INSTANCE_SIZE / side
    x_centre = box1[:2] + rng.uniform(-1, 1, 2) * aug.search_shift / k
    x = crop_subwindow(f1, x_centre, INSTANCE_SIZE, side, avg)[0]
    if rng.uniform() < aug.gray:
        z, x = gray_crop(z), gray_crop(x)
    gt = np.concatenate([(box1[:2] - x_centre) * k, box1[2:] * k])
    targets = anchor_targets(gt, rng)
    cells = positive_cells(targets.labels)
    if len(cells) == 0:
        return Pair(z, x, targets, None, None)
    cell = tuple(int(v) for v in cells[rng.integers(0, len(cells))])
    return Pair(z, x, targets, cell, mask_window(_crop_mask(m1, x_centre, side), cell))


KINDS = PairKinds("SiamMask", make_pair, pair_from_frames, negative_pair, stream=2)


def batch_pairs(window: SceneWindow, seed: int, step: int, batch: int,
                aug: Augment = Augment(), real: list | None = None, mix: Mix = Mix()) -> list[Pair]:
    """`batch` SiamMask pairs for `step` (`training.scenes.batch_pairs`)."""
    return scenes.batch_pairs(KINDS, window, seed, step, batch, aug, real, mix)
