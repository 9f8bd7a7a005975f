"""What every tracker shares around its per-frame results: the stage timer default, the
non-finite check on network outputs, and the results of frames without a usable network step.

The helpers read only `center`, `size` and `frame_hw` of a state, so any tracker's state
dataclass (SiamMask's TargetState, OceanPlusState, ...) works with them.
"""
from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import numpy as np

from masktrt.runtime.mask import box_polygon
from masktrt.types import FrameResult

StageTimer = Callable[[str], AbstractContextManager]


def untimed(stage: str) -> AbstractContextManager:
    """The default stage timer: does nothing (each tracker documents its stage names)."""
    return nullcontext()


def nonfinite(outputs: dict, names: tuple[str, ...]) -> str | None:
    """'nonfinite <names>' for those of `outputs` (host arrays) holding NaN or Inf, else None.

    FP16 overflow, a corrupt engine or a broken driver show up as NaN/Inf here; tracking on
    them moves the box to nowhere for good (NaN centre) while the score reads 1.0. Device
    buffers are not checked (copying them would cost what the GPU path saves): a NaN there
    reaches the polygon, which is checked.
    """
    bad = [n for n in names if isinstance(outputs.get(n), np.ndarray)
           and not np.isfinite(outputs[n]).all()]
    return f"nonfinite {','.join(bad)}" if bad else None


def overflowed(decoded: dict, names: tuple[str, ...]) -> str | None:
    """'overflow <names>' for values decoded from finite network outputs (a box, a polygon)
    that came out NaN or Inf, else None.

    This is the tracker's arithmetic, not the network: e.g. SiamMask's exp(dw) of a large finite
    regression overflows to Inf, and the learning-rate update 0 * Inf gives a NaN size. The
    official tracker clips that NaN to the frame (Python's min(w, nan) returns w) and tracks on
    from a frame-sized box; masktrt keeps the last good box and marks the frame lost and invalid
    (README "Deviations from the official trackers").
    """
    bad = nonfinite(decoded, names)
    return bad.replace("nonfinite", "overflow", 1) if bad else None


def _box_of(state: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    center, size = np.array(state.center, dtype=np.float64), np.array(state.size, dtype=np.float64)
    return center, size, box_polygon((center[0], center[1], size[0], size[1]))


def invalid_result(state: Any, reason: str) -> FrameResult:
    """A frame with no usable network output: the last good box, score 0, lost, an empty mask,
    and why. The caller keeps `state` as it was, so the next good frame tracks from there."""
    center, size, polygon = _box_of(state)
    return FrameResult(center=center, size=size, polygon=polygon, score=0.0, lost=True,
                       mask=np.zeros(state.frame_hw, np.uint8), invalid=reason)


def initial_result(state: Any) -> FrameResult:
    """The first frame's output: the given box itself (no network output exists for it)."""
    center, size, polygon = _box_of(state)
    return FrameResult(center=center, size=size, polygon=polygon, score=1.0, lost=False)
