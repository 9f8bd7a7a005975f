"""The training data every Siamese tracker draws from: a sliding window of synthetic scenes, the
share of real / negative / synthetic pairs, and the augmentation.

Scenes are expensive (~0.1 s) and frames cheap (~3 ms), so a step draws its pairs from a
sliding window of scenes keyed by the step number: scene seeds change every
`steps_per_scene` steps, everything is a pure function of (seed, step), and a resumed run
sees the same pairs as an uninterrupted one. Each tracker's `training/pairs.py` cuts its own
crops and targets from these frames.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import cv2
import numpy as np

from masktrt.errors import MasktrtError
from masktrt.training.synthetic import Scene, build_scene, mask_box

HELD_OUT_FROM = 10_000  # scene seeds >= this are evaluation only
SCENE_FRAMES = 40
WINDOW = 8              # scenes a step draws from


@dataclass(frozen=True)
class Augment:
    """Jitter in crop pixels / relative scale; official sharp-stage values where they exist."""

    template_shift: float = 4.0
    template_scale: float = 0.05
    search_shift: float = 48.0
    search_scale: float = 0.18
    gray: float = 0.25


@dataclass(frozen=True)
class Mix:
    """Share of each kind of pair (the rest are synthetic). Real pairs teach real appearance;
    negative pairs teach the score to fall off target; synthetic ones add exact masks,
    look-alikes and occluders the ten real sequences lack."""

    real: float = 0.6
    negative: float = 0.15


def scene_seed(seed: int, block: int) -> int:
    """Training scene seeds stay below HELD_OUT_FROM (block wraps, seed offsets the range)."""
    return (seed * 7919 + block) % HELD_OUT_FROM


def train_scene(scene_id: int) -> Scene:
    """A training scene; size, object count, look-alikes and occluders vary with the seed."""
    rng = np.random.default_rng([scene_id, 1])
    size = [(480, 640), (360, 640), (480, 480), (540, 720)][int(rng.integers(0, 4))]
    return build_scene(scene_id, SCENE_FRAMES, size, num_objects=int(rng.integers(1, 4)),
                       distractors=int(rng.integers(0, 3)), occluders=int(rng.integers(0, 2)))


class SceneWindow:
    """The scenes of the current window, built lazily and dropped when they slide out."""

    def __init__(self, seed: int, steps_per_scene: int) -> None:
        self.seed, self.steps_per_scene = seed, steps_per_scene
        self.cache: dict[int, Scene] = {}

    def scenes(self, step: int) -> list[Scene]:
        first = step // self.steps_per_scene
        ids = [scene_seed(self.seed, first + k) for k in range(WINDOW)]
        self.cache = {i: self.cache[i] if i in self.cache else train_scene(i) for i in ids}
        return [self.cache[i] for i in ids]


def box_cxcywh(mask: np.ndarray) -> np.ndarray:
    """The mask's tight box as (cx, cy, w, h), float64: the crops centre on it."""
    x, y, w, h = mask_box(mask)
    return np.array([x + w / 2, y + h / 2, w, h], dtype=np.float64)


def gray_crop(crop: np.ndarray) -> np.ndarray:
    """3x HxW BGR -> the same gray in all three channels (OpenCV's luma weights)."""
    image = np.ascontiguousarray(crop.transpose(1, 2, 0)).astype(np.uint8)
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32)
    return np.repeat(gray[None], 3, axis=0)


def scene_frames(scene: Scene, rng: np.random.Generator) -> tuple | None:
    """Two frames of a synthetic scene and their masks, (f0, m0, f1, m1); None when either hides
    the target (fewer visible pixels than training.real's MIN_MASK_PIXELS: the caller redraws)."""
    from masktrt.training.real import MIN_MASK_PIXELS
    from masktrt.training.synthetic import render_frame

    t0, t1 = (int(v) for v in rng.integers(0, scene.num_frames, 2))
    f0, m0 = render_frame(scene, t0)
    f1, m1 = render_frame(scene, t1)
    if min(np.count_nonzero(m0), np.count_nonzero(m1)) < MIN_MASK_PIXELS:
        return None
    return f0, m0, f1, m1


@dataclass(frozen=True)
class PairKinds:
    """How one tracker turns frames into a training pair, by kind: from a synthetic scene, from
    two frames of one real sequence, or a negative (template and search of unrelated frames).
    `stream` seeds this tracker's own random stream, so each tracker's pairs stay as they were."""

    name: str
    synthetic: Callable[..., Any]  # (scene, rng, aug) -> pair or None (target hidden)
    positive: Callable[..., Any]  # (f0, m0, f1, m1, rng, aug) -> pair
    negative: Callable[..., Any]  # (f0, m0, other frame, rng, aug) -> pair
    stream: int


def draw_pair(kinds: PairKinds, scene: Scene, real: list, rng: np.random.Generator,
              aug: Augment, mix: Mix) -> Any:
    """One pair of a kind drawn by `mix` (synthetic only without real sequences), or None."""
    from masktrt.training.real import draw_frames, draw_other_frame

    kind = rng.uniform() if real else 1.0
    if kind >= mix.negative + mix.real:
        return kinds.synthetic(scene, rng, aug)
    drawn = draw_frames(real, rng)
    if drawn is None:
        return None
    index, (f0, m0, f1, m1) = drawn
    if kind < mix.negative:
        return kinds.negative(f0, m0, draw_other_frame(real, rng, index), rng, aug)
    return kinds.positive(f0, m0, f1, m1, rng, aug)


def batch_pairs(kinds: PairKinds, window: SceneWindow, seed: int, step: int, batch: int,
                aug: Augment, real: list | None, mix: Mix) -> list:
    """`batch` pairs for `step`, a pure function of (seed, step) and the real sequences."""
    rng = np.random.default_rng([seed, step, kinds.stream])
    scenes = window.scenes(step)
    pairs: list = []
    for attempt in range(batch * 20):
        pair = draw_pair(kinds, scenes[attempt % len(scenes)], real or [], rng, aug, mix)
        if pair is not None:
            pairs.append(pair)
            if len(pairs) == batch:
                return pairs
    raise MasktrtError(f"could not draw {batch} {kinds.name} training pairs at step {step}",
                       "check the training data (targets hidden in every frame drawn?)")
