"""RTS's host arithmetic (spec arn-rts.md §B2-§B4, §B6 "must stay in the runtime"): PrRoIPool for
the classifier's initial filter, the 5 init augmentations, Gaussian labels, memories with the
release's DCF sample weights, the 'var' box, the mask's tight box, localisation and the lost
search-area rescaling. NumPy only; positions (y, x), sizes (h, w) as in pytracking.

Memories are immutable: `Memory.insert` returns a new memory that shares every untouched slot
with the old one (a tuple of per-slot arrays), so a tracker state can be replayed without
copying 100 MB per frame, and `Memory.stacked` pads to the graph's fixed slot count with zero
weights (exact, §B6).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from masktrt.trackers.rts.spec import (
    CLF_INIT_BLUR_EXTENT,
    CLF_INIT_BLURS,
    LOST_SEG_BOX,
    NORMAL,
    NOT_FOUND,
    RESCALE_MIN_SCALES,
)


# ---------------------------------------------------------------- PrRoIPool (exact closed form)
def hat_integral(t: np.ndarray) -> np.ndarray:
    """Antiderivative of max(0, 1 - |t|), 0 at -inf and 1 at +inf."""
    left = np.maximum(t + 1, 0) ** 2 / 2
    right = 1 - np.maximum(1 - t, 0) ** 2 / 2
    return np.where(t < 0, left, right)


def bin_weights(start: float, length: float, bins: int, size: int) -> np.ndarray:
    """(bins, size): each pixel's hat integrated over each bin along one axis."""
    edges = start + length * np.arange(bins + 1, dtype=np.float64) / bins
    cdf = hat_integral(edges[:, None] - np.arange(size, dtype=np.float64)[None, :])
    return cdf[1:] - cdf[:-1]


def prroi_pool(feat: np.ndarray, boxes: np.ndarray, bins: int, scale: float) -> np.ndarray:
    """feat BxCxHxW, boxes Bx4 (x, y, w, h crop px) -> BxCxbinsxbins float32: the exact
    average of the bilinear interpolant over each bin (zero outside the map, empty bin 0)."""
    out = []
    for sample, box in zip(np.asarray(feat, np.float64), np.asarray(boxes, np.float64) * scale):
        wy = bin_weights(box[1], box[3], bins, sample.shape[-2])
        wx = bin_weights(box[0], box[2], bins, sample.shape[-1])
        area = (box[2] / bins) * (box[3] / bins)
        pooled = np.einsum("py,cyx,qx->cpq", wy, sample, wx)
        out.append(pooled / area if area > 0 else np.zeros_like(pooled))
    return np.stack(out).astype(np.float32)


# ---------------------------------------------------------------- init augmentations (§B3 init 4)
def gaussian_taps(sigma: float) -> np.ndarray:
    """Normalised taps exp(-x^2 / 2 sigma^2) for x in [-ceil(2 sigma), ceil(2 sigma)]."""
    half = math.ceil(CLF_INIT_BLUR_EXTENT * sigma)
    x = np.arange(-half, half + 1, dtype=np.float32)
    taps = np.exp(-(x ** 2) / np.float32(2 * sigma ** 2))
    return taps / taps.sum()


def blur(im: np.ndarray, sigma_yx: tuple[float, float]) -> np.ndarray:
    """augmentation.Blur: separable Gaussian (rows then columns) with ZERO padding, as the
    release's F.conv2d(padding=...) (the spec's 'replicate' is only crop_to_output's, a no-op)."""
    out = np.asarray(im, np.float32)
    for axis, sigma in ((2, sigma_yx[0]), (3, sigma_yx[1])):
        out = convolve_axis(out, gaussian_taps(sigma), axis)
    return out


def convolve_axis(im: np.ndarray, taps: np.ndarray, axis: int) -> np.ndarray:
    """Same-size correlation with symmetric `taps` along `axis`, zeros beyond the border."""
    half = len(taps) // 2
    pad = [(0, 0)] * im.ndim
    pad[axis] = (half, half)
    padded = np.pad(im, pad)
    n = im.shape[axis]
    out = np.zeros_like(im)
    for k, tap in enumerate(taps):
        out += tap * np.take(padded, np.arange(k, k + n), axis=axis)
    return out


def augmented5(im: np.ndarray) -> np.ndarray:
    """5x3xHxW: identity, fliplr, blurs (3,1), (1,3), (2,2) (sigmas y, x), the release's order."""
    flip = np.ascontiguousarray(im[..., ::-1])
    return np.concatenate([im, flip] + [blur(im, s) for s in CLF_INIT_BLURS]).astype(np.float32)


# ---------------------------------------------------------------- labels and boxes (§B3 init 4)
def gauss_1d(n: int, sigma: float, center: float, end_pad: int) -> np.ndarray:
    """dcf.gauss_spatial: k = -(n-1)/2 ... (n+1)/2 + end_pad (origin mid-map)."""
    k = np.arange(-(n - 1) / 2, (n + 1) / 2 + end_pad, 1, dtype=np.float32)
    return np.exp(-1.0 / (2 * sigma ** 2) * (k - np.float32(center)) ** 2).astype(np.float32)


def clf_label(feature_hw: tuple[int, int], sigma: float, center: np.ndarray,
              end_pad: int = 1) -> np.ndarray:
    """1x1x(H+1)x(W+1) float32 Gaussian (dcf.label_function_spatial; the 4x4 kernel is even)."""
    gy = gauss_1d(feature_hw[0], sigma, float(center[0]), end_pad)
    gx = gauss_1d(feature_hw[1], sigma, float(center[1]), end_pad)
    return (gy[:, None] * gx[None, :])[None, None].astype(np.float32)


def label_center(pos: np.ndarray, sample_pos: np.ndarray, sample_scale: float,
                 feature_hw: tuple[int, int], crop_hw: tuple[int, int]) -> np.ndarray:
    """The label's centre in cells from mid-map: feature_sz (pos - sample_pos) / (scale crop) + 0.5."""
    norm = (np.asarray(pos) - sample_pos) / (sample_scale * np.asarray(crop_hw, np.float64))
    return np.asarray(feature_hw, np.float64) * norm + 0.5


def crop_box(pos: np.ndarray, size: np.ndarray, sample_pos: np.ndarray, sample_scale: float,
             crop_hw: tuple[int, int]) -> np.ndarray:
    """`get_iounet_box`: (x, y, w, h) of the target in crop pixels."""
    center = (np.asarray(pos) - sample_pos) / sample_scale + (np.asarray(crop_hw) - 1) / 2
    sz = np.asarray(size) / sample_scale
    tl = center - (sz - 1) / 2
    return np.array([tl[1], tl[0], sz[1], sz[0]], np.float32)


# ---------------------------------------------------------------- memories (§B2)
@dataclass(frozen=True)
class Memory:
    """A learner's sample memory: per-slot tuples of arrays (None = empty), the release's DCF
    weights (float32), the stored count, the previous replaced slot and the init samples."""

    slots: tuple
    weights: np.ndarray
    count: int
    previous: int | None
    num_init: int
    min_init_weight: float | None

    @classmethod
    def start(cls, samples: list[tuple], capacity: int, min_init_weight: float | None) -> Memory:
        """The init samples in slots 0..k-1 with weight 1/k each (`init_memory`)."""
        weights = np.zeros(capacity, np.float32)
        weights[:len(samples)] = np.float32(1.0 / len(samples))
        slots = tuple(samples) + (None,) * (capacity - len(samples))
        return cls(slots, weights, len(samples), None, len(samples), min_init_weight or None)

    def insert(self, sample: tuple, rate: float) -> tuple[Memory, int]:
        """(new memory, slot): `update_sample_weights` then the sample written at that slot."""
        weights, slot = updated_weights(self, rate)
        slots = self.slots[:slot] + (sample,) + self.slots[slot + 1:]
        count = min(self.count + 1, len(self.slots))
        return replace(self, slots=slots, weights=weights, count=count, previous=slot), slot

    def stacked(self, part: int, slots: int) -> np.ndarray:
        """Part `part` of every slot stacked to `slots` rows (zeros where empty)."""
        like = next(s[part] for s in self.slots if s is not None)
        out = np.zeros((slots, *like.shape[1:]), np.float32)
        for i, sample in enumerate(self.slots):
            if sample is not None:
                out[i] = sample[part][0]
        return out

    def padded_weights(self, slots: int) -> np.ndarray:
        out = np.zeros(slots, np.float32)
        out[:len(self.weights)] = self.weights
        return out


def replace_index(memory: Memory) -> int:
    """The next free slot, else the lowest weight (after the init samples if they are kept)."""
    if memory.count < len(memory.slots):
        return memory.count
    start = 0 if memory.min_init_weight is None else memory.num_init
    return start + int(np.argmin(memory.weights[start:]))


def updated_weights(memory: Memory, rate: float) -> tuple[np.ndarray, int]:
    """The release's `update_sample_weights` (float32): new weight rate (first insert) or the
    previous slot's / (1 - rate), normalised, init samples kept at >= min_init_weight."""
    w = memory.weights.copy()
    slot = replace_index(memory)
    if memory.previous is None:
        w /= np.float32(1 - rate)
        w[slot] = np.float32(rate)
    else:
        w[slot] = w[memory.previous] / np.float32(1 - rate)
    w /= w.sum()
    k, floor = memory.num_init, memory.min_init_weight
    if floor is not None and w[:k].sum() < floor:
        w /= np.float32(floor) + w[k:].sum()
        w[:k] = np.float32(floor / k)
    return w, slot


# ---------------------------------------------------------------- boxes from masks (§B4)
def var_box(prob: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """'var' (§B3 per frame 2): ((y, x) centre of mass, (h, w) = 4 sqrt(variance)) of the
    probability map clamped at 0 (size factor applied by the caller); None when degenerate."""
    p = np.maximum(np.asarray(prob, np.float64), 0)
    total = p.sum()
    if not total > 0:
        return None
    rows, cols = p.sum(axis=1), p.sum(axis=0)
    ys, xs = np.arange(p.shape[0]), np.arange(p.shape[1])
    ey, ex = (rows * ys).sum() / total, (cols * xs).sum() / total
    vy, vx = (rows * (ys - ey) ** 2).sum() / total, (cols * (xs - ex) ** 2).sum() / total
    if not (vy > 0 and vx > 0):
        return None
    return np.array([ey, ex]), np.sqrt(np.array([vy, vx]))


def outside_box(scores: np.ndarray, box: tuple[float, float, float, float],
                value: float) -> np.ndarray:
    """STA's image scores with `value` outside the box truncated to int (x, y, w, h) (a start
    left of / above the frame clips at 0, where the release's negative slice would wrap)."""
    x, y, w, h = (int(v) for v in box)
    x0, y0 = max(x, 0), max(y, 0)
    out = np.full_like(scores, value)
    out[y0:max(y + h, 0), x0:max(x + w, 0)] = scores[y0:max(y + h, 0), x0:max(x + w, 0)]
    return out


def mask_box(mask: np.ndarray) -> tuple[float, float, float, float]:
    """`masks_to_bboxes(fmt='t')`: (x, y, w, h) of the non-zero columns/rows, (0, 0, 1, 1) if none."""
    cols, rows = np.flatnonzero(mask.any(axis=0)), np.flatnonzero(mask.any(axis=1))
    if cols.size == 0 or rows.size == 0:
        return LOST_SEG_BOX
    return (float(cols[0]), float(rows[0]), float(cols[-1] - cols[0] + 1),
            float(rows[-1] - rows[0] + 1))


# ---------------------------------------------------------------- localisation (§B3 per frame 7)
def max2d(scores: np.ndarray) -> tuple[float, int, int]:
    """dcf.max2d: max over rows first, then the first column holding the maximum."""
    s = np.asarray(scores).reshape(scores.shape[-2:])
    col = int(np.argmax(s.max(axis=0)))
    row = int(np.argmax(s[:, col]))
    return float(s[row, col]), row, col


def localize(scores: np.ndarray, threshold: float) -> tuple[float, np.ndarray, str]:
    """(peak, (row, col) displacement from the map centre in cells, flag). With the released
    distractor / hard-negative thresholds (10000) only 'not_found' (peak < threshold) and
    'normal' can occur (§B3), so the second-peak search is not run."""
    peak, row, col = max2d(scores)
    center = (np.asarray(scores.shape[-2:], np.float64) - 1) / 2
    disp = np.array([row, col], np.float64) - center
    return peak, disp, NOT_FOUND if peak < threshold else NORMAL


# ---------------------------------------------------------------- lost rescaling (§B3 per frame 2)
def rescaled(scales: tuple[float, ...], counter: int, history: int, most: int) -> float:
    """`search_area_rescaling`: the mean of the last max(2, min(30, counter)) scales of the last
    60 that are >= the latest one (`counter` already counts this lost frame)."""
    recent = np.asarray(scales[-history:], np.float64)
    bigger = recent[recent >= recent[-1]]
    return float(bigger[-max(RESCALE_MIN_SCALES, min(most, counter)):].mean())


def clip_scale(new: float, old: float, limits: tuple[float, float]) -> float:
    """`clip_scale_change`: the per-frame scale change limited to [0.8, 1.2]."""
    change = new / old
    if change < limits[0]:
        return old * limits[0]
    return old * limits[1] if change > limits[1] else new
