"""RTS training samples: one jittered crop per frame of the real training sequences, with its
mask, its box and the frozen network's features, computed once.

Why precompute: the demo recipe (trackers/rts/training/train.py) trains only the classifier's features
and initializer and the decoder's last level; the backbone (the ImageNet Lite0 trunk and its
adapters) and the segmentation features stay frozen. Their outputs for a crop never change, so
each frame's crop goes through the backbone once (689 frames: ~100 s on 2 cores at 384x672)
instead of once per episode, and an episode costs only the trained parts. Stored in FP16: the
Lite0 taps (adapted per episode, 10x smaller than the adapted maps) and the seg features,
~2.5 MB a frame at 384x672 (~1.7 GB in all); a backbone without adapters (the seeded ResNet-50)
stores its four maps. The frozen features only feed learned layers and closed-form learners,
which see FP32. One crop per frame means one jitter per frame for the whole run; episodes still
differ in which frames train and which is tested.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from masktrt.trackers.rts.export.crops import crop_with_mask
from masktrt.runtime.sequences import Sequence
from masktrt.training.real import visible

BATCH = 4  # crops per backbone forward while precomputing


@dataclass(frozen=True)
class FrameSample:
    """One frame's crop as training sees it: frozen features (FP16) and the target."""

    layers: tuple[torch.Tensor, ...]  # the backbone's maps before `adapt` (Lite0: its taps)
    seg_x: torch.Tensor  # 1x512xh16xw16
    mask: torch.Tensor  # 1x1xHxW float32 {0, 1}
    box: np.ndarray  # (x, y, w, h) crop px: the mask's bounding box


def centre_box(mask: np.ndarray) -> tuple[float, float, float, float]:
    """(cx, cy, w, h) of a mask's bounding box, in its pixels."""
    ys, xs = np.nonzero(mask)
    x0, y0, x1, y1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
    return (x0 + x1) / 2, (y0 + y1) / 2, float(x1 - x0), float(y1 - y0)


def corner_box(mask: np.ndarray) -> np.ndarray | None:
    """(x, y, w, h) of a mask's bounding box, None when it is empty."""
    if not mask.any():
        return None
    cx, cy, w, h = centre_box(mask)
    return np.array([cx - w / 2, cy - h / 2, w, h], dtype=np.float32)


def frame_crops(seq: Sequence, rng: np.random.Generator, crop_hw: tuple[int, int]
                ) -> list[tuple[np.ndarray, np.ndarray]]:
    """(crop, crop mask) of each frame whose target is visible, in and after the crop."""
    crops = []
    for t in range(len(seq)):
        mask = seq.mask(t)
        if visible(mask):
            im, cut = crop_with_mask(seq.frame(t), mask, centre_box(mask), rng, crop_hw)
            if visible(cut):
                crops.append((im, cut))
    return crops


def featurise(model, crops: list[tuple[np.ndarray, np.ndarray]]) -> list[FrameSample]:
    """The frozen features of `crops`, BATCH at a time."""
    out: list[FrameSample] = []
    for start in range(0, len(crops), BATCH):
        part = crops[start:start + BATCH]
        im = torch.from_numpy(np.concatenate([c for c, _ in part]))
        with torch.no_grad():
            feats = model.features(im)
            taps = model.feature_extractor.taps(im) if has_taps(model) else feats[:4]
        for i, (_, cut) in enumerate(part):
            layers = tuple(f[i:i + 1].half() for f in taps)
            mask = torch.from_numpy(cut[None, None].astype(np.float32))
            out.append(FrameSample(layers, feats[4][i:i + 1].half(), mask, corner_box(cut)))
    return out


def has_taps(model) -> bool:
    """A backbone with frozen 1x1 adapters after its taps (Lite0): the taps are stored, 10x
    smaller than the adapted maps, and adapted per episode."""
    return hasattr(model.feature_extractor, "adapt")


def backbone_map(model, sample: FrameSample, level: int) -> torch.Tensor:
    """l1..l4 (`level` 0..3) in FP32 from a sample's stored map (no autograd: all frozen)."""
    stored = sample.layers[level].float()
    if not has_taps(model):
        return stored
    with torch.no_grad():
        return model.feature_extractor.adapters[level](stored)


def backbone_maps(model, sample: FrameSample) -> tuple[torch.Tensor, ...]:
    """(l1, l2, l3, l4) in FP32."""
    return tuple(backbone_map(model, sample, level) for level in range(len(sample.layers)))


def precompute(model, sequences: list[Sequence], seed: int, crop_hw: tuple[int, int],
               report: Callable[[str], None] = print) -> list[list[FrameSample]]:
    """Every sequence's samples (sequences with fewer than 4 usable frames are dropped)."""
    rng = np.random.default_rng(seed)
    samples = []
    for seq in sequences:
        frames = featurise(model, frame_crops(seq, rng, crop_hw))
        report(f"{seq.name}: {len(frames)} frames")
        if len(frames) >= 4:
            samples.append(frames)
    return samples


def draw_episode(samples: list[list[FrameSample]], rng: np.random.Generator, train: int,
                 window: int) -> tuple[list[FrameSample], FrameSample]:
    """`train` frames before a test frame, all within `window` frames of one sequence."""
    frames = samples[int(rng.integers(len(samples)))]
    test = int(rng.integers(train, len(frames)))
    earlier = np.arange(max(0, test - window), test)
    picks = np.sort(rng.choice(earlier, size=train, replace=False))
    return [frames[int(i)] for i in picks], frames[test]
