"""The tracker's anchor table (spec §3.3): one (cx, cy, w, h) row per score-map candidate.

Row i = anchor * 625 + row * 25 + column, the same flattening the tracker applies to the cls/loc
maps (spec §2.3), so decoding is a plain element-wise operation over 3125 rows. Centres are
offsets in 255-crop pixels from the crop centre; the truncating `int()` casts reproduce the
official anchor sizes (104x32 ... 32x96), which are not the exact ratios.
"""
from __future__ import annotations

import math

import numpy as np

from masktrt.trackers.siammask.spec import ANCHOR_RATIOS, ANCHOR_SCALES, SCORE_SIZE, TOTAL_STRIDE


def anchor_sizes(ratios: tuple[float, ...] = ANCHOR_RATIOS,
                 scales: tuple[int, ...] = ANCHOR_SCALES,
                 stride: int = TOTAL_STRIDE) -> np.ndarray:
    """Kx2 (w, h) per anchor, ratio-major then scale, with the official truncations."""
    base_area = stride * stride
    sizes = []
    for ratio in ratios:
        ws = int(math.sqrt(base_area / ratio))
        hs = int(ws * ratio)
        for scale in scales:
            sizes.append((ws * scale, hs * scale))
    return np.array(sizes, dtype=np.float32)


def generate_anchors(score_size: int = SCORE_SIZE, stride: int = TOTAL_STRIDE) -> np.ndarray:
    """(K*score_size^2)x4 float32 (cx, cy, w, h); 3125x4 for the SiamMask configuration."""
    sizes = anchor_sizes(stride=stride)
    origin = -(score_size // 2) * stride  # -96: cell 12 is the crop centre
    offsets = origin + stride * np.arange(score_size, dtype=np.float32)
    cy, cx = np.meshgrid(offsets, offsets, indexing="ij")  # [row, column]
    per_anchor = score_size * score_size
    table = np.empty((len(sizes) * per_anchor, 4), dtype=np.float32)
    for a, (w, h) in enumerate(sizes):
        rows = slice(a * per_anchor, (a + 1) * per_anchor)
        table[rows, 0] = cx.ravel()
        table[rows, 1] = cy.ravel()
        table[rows, 2] = w
        table[rows, 3] = h
    return table
