"""Types shared by the reference tracker, the runtimes and the tools.

Boxes are (cx, cy, w, h) in image pixels unless the name says `xywh` (top-left corner form).
Polygons are 4x2 float32 corner arrays. Frames are HxWx3 uint8 BGR (OpenCV's order).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class TargetState:
    """Everything the tracker carries from one frame to the next, passed explicitly.

    `kernels` is backend-owned (torch tensors, NumPy arrays or device buffers): the template
    branch's three correlation kernels, computed once per target and never updated.
    """

    center: np.ndarray  # (cx, cy) float64
    size: np.ndarray  # (w, h) float64
    avg_chans: np.ndarray  # first-frame BGR mean, float64[3]
    frame_hw: tuple[int, int]
    kernels: Any = None
    score: float = 1.0


@dataclass
class FrameResult:
    """The tracker's output for one frame."""

    center: np.ndarray  # (cx, cy) after clipping
    size: np.ndarray  # (w, h) after clipping
    polygon: np.ndarray  # 4x2 float32: the rotated box from the mask, or the box fallback
    score: float  # the selected candidate's foreground probability (confidence)
    lost: bool  # score below the preset's lost threshold
    mask: np.ndarray | None = None  # HxW uint8 {0,1}
    prob: np.ndarray | None = None  # HxW float32 pasted-back probability (-1 outside the window)
    best: tuple[int, int, int] = (0, 0, 0)  # (anchor, row, column) of the chosen candidate
    extra: dict = field(default_factory=dict)
    # why this frame has no valid output: "nonfinite <outputs>" (the network's outputs held NaN
    # or Inf) or "overflow <values>" (a box or polygon decoded from finite outputs did, e.g.
    # exp of a large regression); the box is the last good frame's, the score 0 and the frame
    # lost; None: valid
    invalid: str | None = None

    @property
    def box(self) -> np.ndarray:
        """(x, y, w, h): top-left corner, width and height in pixels (the API's name)."""
        return self.xywh

    @property
    def xywh(self) -> np.ndarray:
        cx, cy = self.center
        w, h = self.size
        return np.array([cx - w / 2, cy - h / 2, w, h], dtype=np.float64)
