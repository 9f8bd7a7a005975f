"""The toy tracker's NumPy side: init/track over any graph runner, state passed in and out."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from masktrt.runtime.crop import crop_subwindow
from masktrt.runtime.mask import box_polygon
from masktrt.runtime.trackers.base import TrackerBase
from masktrt.runtime.trackers.checks import check_box, check_frame
from masktrt.types import FrameResult

from .spec import HEAT_SIDE, PATCH, WINDOW, ToyPreset


@dataclass
class ToyState:
    center: np.ndarray
    size: np.ndarray
    avg_chans: np.ndarray
    code: Any


class ToyTracker(TrackerBase):
    """init/track over any GraphRunner, state passed in and out."""

    def __init__(self, runner: Any, config: ToyPreset, **_: Any) -> None:
        self.runner, self.config = runner, config

    def init(self, frame: np.ndarray, box_xywh: tuple[float, float, float, float]) -> ToyState:
        check_frame(frame)
        check_box(box_xywh, frame.shape[:2])
        x, y, w, h = (float(v) for v in box_xywh)
        center, size = np.array([x + w / 2, y + h / 2]), np.array([w, h])
        avg = frame.reshape(-1, 3).mean(axis=0, dtype=np.float64)
        patch = crop_subwindow(frame, center, PATCH, round(max(w, h)), avg)
        code = self.runner.run("embed", {"patch": patch}, keep_on_device=("code",))["code"]
        return ToyState(center, size, avg, code)

    def initial_result(self, state: ToyState) -> FrameResult:
        box = (state.center[0], state.center[1], state.size[0], state.size[1])
        return FrameResult(center=state.center.copy(), size=state.size.copy(),
                           polygon=box_polygon(box), score=1.0, lost=False)

    def track(self, frame: np.ndarray, state: ToyState) -> tuple[ToyState, FrameResult]:
        check_frame(frame)
        side = round(self.config.context * float(state.size.max()))
        window = crop_subwindow(frame, state.center, WINDOW, side, state.avg_chans)
        heat = self.runner.run("locate", {"window": window, "code": state.code})["heat"]
        offset = _bright_centroid(heat.reshape(HEAT_SIDE, HEAT_SIDE)) / HEAT_SIDE - 0.5
        center = state.center + offset * side
        score = float(np.max(heat))
        new = ToyState(center, state.size, state.avg_chans, state.code)
        cxcywh = (center[0], center[1], state.size[0], state.size[1])
        return new, FrameResult(center=center.copy(), size=state.size.copy(),
                                polygon=box_polygon(cxcywh), score=score,
                                lost=score < self.config.lost_score)


def _bright_centroid(heat: np.ndarray) -> np.ndarray:
    """(x, y) in cells of the centre of the cells above half the map's range."""
    hot = heat >= (heat.max() + heat.min()) / 2
    rows, cols = np.nonzero(hot)
    return np.array([cols.mean(), rows.mean()]) + 0.5


TRACKER = ToyTracker  # what the registry runs for this folder
