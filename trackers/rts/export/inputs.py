"""Tracker-like inputs for RTS's graphs: the target box, its soft mask, the 5 init augmentations,
Gaussian classifier labels, temporal sample weights and zero-padded memories.

Tracing needs inputs of the right shapes and parity needs inputs of the right *kind* (a learner
checked on random memories would never see a converging filter). The runtime tracker is not
written yet, so these follow spec §B2-§B3 closely enough to give each graph what it sees when
tracking: a target centred in the crop at the search-area scale, a soft mask, augmentations
(flip, three separable blurs with replicate borders), Gaussians of σ = 0.25·√(target area) in
feature cells, DCF-style weights. The runtime's own versions will replace them.
"""
from __future__ import annotations

import cv2
import numpy as np

from masktrt.trackers.rts.spec import (CLF_INIT_BLURS, CLF_STRIDE, FULL_SIZES, GraphSizes, TrackerConfig,
                               clf_score_hw)

MASK_EDGE = 0.05  # soft-mask edge width, fraction of the target size (sigmoid slope)


def target_box(crop_hw: tuple[int, int], scale: float | None = None) -> np.ndarray:
    """(x, y, w, h) crop px of a centred target: crop side = `scale` (default the search area's
    6; STA's is 4) x target side."""
    h, w = crop_hw
    scale = scale or TrackerConfig().search_area_scale
    return np.array([w / 2 - w / scale / 2, h / 2 - h / scale / 2, w / scale, h / scale],
                    dtype=np.float32)


def soft_mask(crop_hw: tuple[int, int], box: np.ndarray) -> np.ndarray:
    """1x1xHxW probabilities: an ellipse filling `box`, with a soft edge (the memory stores soft
    masks, §B6 quirk 5)."""
    x, y, w, h = (float(v) for v in box)
    rows, cols = np.mgrid[0:crop_hw[0], 0:crop_hw[1]].astype(np.float32) + 0.5
    radius = np.hypot((cols - x - w / 2) / (w / 2), (rows - y - h / 2) / (h / 2))
    return sigmoid((1 - radius) / MASK_EDGE)[None, None]


def sigmoid(t: np.ndarray) -> np.ndarray:
    """Logistic function in float32, without overflow for large |t| (tanh form)."""
    return (0.5 * (1 + np.tanh(0.5 * np.asarray(t, dtype=np.float64)))).astype(np.float32)


def blurred(im: np.ndarray, sigma_yx: tuple[float, float]) -> np.ndarray:
    """Separable Gaussian blur with kernel half-width ceil(2 sigma), replicate borders (§B3)."""
    sy, sx = sigma_yx
    ky, kx = (2 * int(np.ceil(2 * s)) + 1 for s in (sy, sx))
    planes = [cv2.GaussianBlur(p, (kx, ky), sigmaX=sx, sigmaY=sy, borderType=cv2.BORDER_REPLICATE)
              for p in im[0]]
    return np.stack(planes)[None]


def augmented5(im: np.ndarray) -> np.ndarray:
    """The 5 classifier init samples 5x3xHxW: original, fliplr, three blurs."""
    flip = np.ascontiguousarray(im[..., ::-1])
    return np.concatenate([im, flip] + [blurred(im, s) for s in CLF_INIT_BLURS]).astype(np.float32)


def augmented_boxes(box: np.ndarray, crop_hw: tuple[int, int]) -> np.ndarray:
    """5x4 boxes of the augmented samples (the flip mirrors x)."""
    flipped = box.copy()
    flipped[0] = crop_hw[1] - box[0] - box[2]
    return np.stack([box, flipped, box, box, box]).astype(np.float32)


def clf_label(box: np.ndarray, crop_hw: tuple[int, int]) -> np.ndarray:
    """1x1x(h+1)x(w+1) Gaussian at the target centre, in feature cells (+0.5: even kernel)."""
    sigma = TrackerConfig().output_sigma_factor * np.sqrt(box[2] * box[3]) / CLF_STRIDE
    cy, cx = ((box[1] + box[3] / 2) / CLF_STRIDE + 0.5, (box[0] + box[2] / 2) / CLF_STRIDE + 0.5)
    rows, cols = np.mgrid[0:clf_score_hw(crop_hw)[0], 0:clf_score_hw(crop_hw)[1]]
    label = np.exp(-((rows - cy) ** 2 + (cols - cx) ** 2) / (2 * sigma ** 2))
    return label[None, None].astype(np.float32)


def temporal_weights(count: int, rate: float) -> np.ndarray:
    """DCF-style sample weights after `count` inserts at learning rate `rate`, summing to 1."""
    weights = np.ones(1)
    for _ in range(count - 1):
        weights = np.append(weights * (1 - rate), rate)
    return (weights / weights.sum()).astype(np.float32)


def padded(samples: np.ndarray, slots: int) -> np.ndarray:
    """`samples` (k x ...) followed by zero slots up to `slots` (zero weight: exact, §B6)."""
    if len(samples) > slots:
        raise ValueError(f"{len(samples)} samples do not fit {slots} memory slots")
    pad = np.zeros((slots - len(samples), *samples.shape[1:]), dtype=samples.dtype)
    return np.concatenate([samples, pad])


def seg_memory(xs: list[np.ndarray], labels: list[np.ndarray], weights: list[np.ndarray],
               sizes: GraphSizes = FULL_SIZES) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(seg_mem_x, seg_mem_y, seg_mem_w) of the samples in insertion order, padded; the residual
    weight is the label encoder's spatial weight x the temporal sample weight."""
    temporal = temporal_weights(len(xs), TrackerConfig().seg_learning_rate).reshape(-1, 1, 1, 1)
    w = (np.concatenate(weights) * temporal).astype(np.float32)
    return (padded(np.concatenate(xs), sizes.seg_memory),
            padded(np.concatenate(labels), sizes.seg_memory), padded(w, sizes.seg_memory))


def clf_memory(xs: np.ndarray, labels: np.ndarray, sizes: GraphSizes = FULL_SIZES,
               init_samples: int = 5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(clf_mem_x, clf_mem_y, clf_mem_w): the init samples share weight, later ones DCF-style."""
    rate = TrackerConfig().clf_learning_rate
    later = len(xs) - init_samples + 1
    temporal = temporal_weights(later, rate)
    w = np.concatenate([np.full(init_samples, temporal[0] / init_samples), temporal[1:]])
    return (padded(xs, sizes.clf_memory), padded(labels, sizes.clf_memory),
            padded(w.astype(np.float32), sizes.clf_memory))

