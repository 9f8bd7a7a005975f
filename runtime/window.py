"""The cosine window that favours candidates near the previous position (spec §3.4).

An S-point Hann window (NumPy's definition: zero at both ends, 1 at the centre; S = 25 for
SiamMask), its outer product flattened row-major and tiled once per anchor, so index i matches
the candidate order a*S*S + y*S + x. float64, as in the official code: the blended score is
computed in float64.
"""
from __future__ import annotations

import numpy as np


def cosine_window(score_size: int, anchor_num: int) -> np.ndarray:
    """(anchor_num * score_size^2,) float64 window weights."""
    hann = np.hanning(score_size)
    return np.tile(np.outer(hann, hann).ravel(), anchor_num)
