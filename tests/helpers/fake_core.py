"""A tracker core with the explicit-state contract and no network, for the service tests.

State = (frames tracked, box); each track moves the box by one pixel per frame tracked so far,
so a result depends on the whole history of its stream: a state mixed up between streams, or
advanced by a failed frame, shows in the numbers. A frame whose pixels are all 13 raises a
plain RuntimeError (a tracker bug, not bad input).
"""
from __future__ import annotations

import numpy as np

from masktrt.runtime.mask import box_polygon
from masktrt.runtime.trackers.checks import check_frame, check_same_size
from masktrt.types import FrameResult


class State:
    def __init__(self, count: int, box: np.ndarray, frame_hw: tuple[int, int]) -> None:
        self.count, self.box, self.frame_hw = count, box, frame_hw


class FakeCore:
    def init(self, frame: np.ndarray, box: tuple[float, ...], mask: np.ndarray | None = None) -> State:
        check_frame(frame)
        offset = float(mask.sum()) if mask is not None else 0.0
        return State(0, np.array(box, np.float64) + offset, frame.shape[:2])

    def initial_result(self, state: State) -> FrameResult:
        return result(state)

    def track(self, frame: np.ndarray, state: State) -> tuple[State, FrameResult]:
        check_frame(frame)
        check_same_size(frame, state)
        if np.all(frame == 13):
            raise RuntimeError("boom")
        moved = State(state.count + 1, state.box + state.count + 1, state.frame_hw)
        return moved, result(moved, with_mask=True)


def result(state: State, with_mask: bool = False) -> FrameResult:
    x, y, w, h = state.box
    mask = np.zeros(state.frame_hw, np.uint8)
    mask[int(y) % state.frame_hw[0], int(x) % state.frame_hw[1]] = 1
    return FrameResult(center=np.array([x + w / 2, y + h / 2]), size=np.array([w, h]),
                       polygon=box_polygon((x + w / 2, y + h / 2, w, h)), score=0.5 + state.count / 100,
                       lost=state.count % 2 == 1, mask=mask if with_mask else None)


class Contract:
    def __init__(self, options: dict) -> None:
        self.options = options


class Runner:
    def __init__(self, batch: str | None) -> None:
        self.contract = Contract({"batch": batch} if batch else {})


class FakeBatchedCore(FakeCore):
    """FakeCore whose runner records batch=dynamic (or not: `batch=None`), with a `track_many`
    that is N `track` calls (so any row's failure raises for the whole call, as a real batched
    engine call would) and records each call's size."""

    def __init__(self, batch: str | None = "dynamic") -> None:
        self.runner, self.calls = Runner(batch), []

    def track_many(self, frames: list[np.ndarray], states: list[State]
                   ) -> tuple[list[State], list[FrameResult]]:
        self.calls.append(len(states))
        pairs = [self.track(f, s) for f, s in zip(frames, states)]
        return [s for s, _ in pairs], [r for _, r in pairs]
