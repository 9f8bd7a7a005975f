"""The interface every network backend implements (torch reference, ONNX Runtime, TensorRT).

The tracker calls the network in three steps that match the exported subgraphs, so a backend is
a thin adapter. State is explicit: `template()` returns the kernels and the tracker keeps them
in `TargetState.kernels`; `search()` returns the score/box maps on the host plus whatever the
backend needs for `refine()` (kept on the device where it can be).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np


@dataclass
class SearchOutput:
    """cls 1x(2A)x25x25 and loc 1x(4A)x25x25 as float32 host arrays; `features` is opaque."""

    cls: np.ndarray
    loc: np.ndarray
    features: Any


class Backend(Protocol):
    name: str

    def template(self, z: np.ndarray) -> Any:
        """z: 1x3x127x127 float32 BGR 0..255 -> backend-owned kernels (cls, loc, mask)."""

    def search(self, x: np.ndarray, kernels: Any) -> SearchOutput:
        """x: 1x3x255x255 float32 BGR 0..255 -> score/box maps + features for refine."""

    def refine(self, features: Any, pos: tuple[int, int]) -> np.ndarray:
        """Mask logits (127x127 float32) at score-map cell pos = (row, column)."""
