"""The one sequence loop: init on the first frame, track the rest, one result per input frame.

Every tool that tracks a sequence (`masktrt track` and `demo`, parity, bench, calibration,
training evaluation) runs this loop, so they all make the same calls in the same order and
treat bad frames alike. It works with any tracker that has `init(frame, box) -> state` and
`track(frame, state) -> (state, result)`; it knows nothing of graphs, backends or files.

Frames come as (index, frame) pairs, where frame None means "could not be decoded" (what
`runtime.video` sources yield), or as plain frames (a `Sequence`, a list), numbered from 0.
An undecodable frame is not tracked: its step repeats the previous result, marked skipped,
so per-frame outputs stay aligned with the input. Each tracker call is timed (the tracker's
own per-stage `timer` is untouched); `around(number)` may wrap each call, e.g. to switch a
benchmark clock between warm-up and timed frames.
"""
from __future__ import annotations

import time
from itertools import islice
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, is_dataclass, replace
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from masktrt.errors import MasktrtError

Pair = tuple[int, Any]
Box = tuple[float, float, float, float]
CallWrapper = Callable[[int], AbstractContextManager]


@dataclass(frozen=True)
class Step:
    """One input frame's outcome. `number` counts from 0 (the init frame) in loop order;
    `index` is the source's own index (it names per-frame files). A skipped step carries the
    last decoded frame and the previous result; `seconds` is its tracker call's time (0 if
    skipped)."""

    number: int
    index: int
    frame: Any
    result: Any
    state: Any
    skipped: bool = False
    seconds: float = 0.0


@dataclass
class LoopSummary:
    """Counts and times of a run. `tracker_s` covers init and track calls only; `wall_s` the
    whole loop, including reading frames and what the step callback does (writing outputs)."""

    frames: int = 0
    skipped: int = 0
    lost: int = 0
    invalid: int = 0  # tracked frames with non-finite network outputs or decoded results (lost)
    scores: list[float] = field(default_factory=list)  # of tracked frames with a `score`
    tracker_s: float = 0.0
    wall_s: float = 0.0

    @property
    def calls(self) -> int:
        """init + track calls made."""
        return self.frames - self.skipped

    @property
    def score_sum(self) -> float:
        return sum(self.scores)

    @property
    def mean_score(self) -> float:
        return self.score_sum / len(self.scores) if self.scores else float("nan")

    def add(self, step: Step) -> None:
        self.frames += 1
        self.tracker_s += step.seconds
        if step.skipped:
            self.skipped += 1
        elif step.number > 0:
            self._count(step.result)

    def _count(self, result: Any) -> None:
        """Score and lost flag of a tracked frame, where its result has them (duck-typed)."""
        score = getattr(result, "score", None)
        if score is not None:
            self.scores.append(float(score))
        self.lost += int(bool(getattr(result, "lost", False)))
        self.invalid += int(bool(getattr(result, "invalid", None)))


def numbered(frames: Iterable[Any]) -> Iterator[Pair]:
    """(index, frame) pairs from pairs or from plain frames (numbered from 0)."""
    for position, item in enumerate(frames):
        yield item if isinstance(item, tuple) else (position, item)


def initial_result(tracker: Any, state: Any, mask: Any = None) -> Any:
    """The init frame's result: `tracker.initial_result(state)`, or None. The loop takes any
    object with init/track (a tracker, a parity pair, a recorder, a test's stand-in), so this is
    the one place that asks; trackers get the method from runtime.trackers.base. A run started
    from a first-frame `mask` reports that mask (0/1) as frame 0's, not the filled box: the
    user's own segmentation is the best frame-0 answer there is."""
    method = getattr(tracker, "initial_result", None)
    result = method(state) if callable(method) else None
    if mask is None or not is_dataclass(result):  # None, or a stand-in's own result type
        return result
    return replace(result, mask=(np.asarray(mask) > 0).astype(np.uint8))


def _timed(call: Callable[[], Any], around: CallWrapper | None, number: int) -> tuple[Any, float]:
    with around(number) if around is not None else nullcontext():
        start = time.perf_counter()
        out = call()
        seconds = time.perf_counter() - start
    return out, seconds


def _first(pairs: Iterator[Pair]) -> Pair:
    index, frame = next(pairs, (0, None))
    if frame is None:
        raise MasktrtError("cannot read the first frame of the sequence",
                           "the first frame must be a readable image: the box is drawn on it")
    return index, frame


def init_call(tracker: Any, frame: Any, box: Box | None, mask: Any = None) -> Callable[[], Any]:
    """The init call: `init(frame, box)`, plus `mask=` only when a first-frame mask is given
    (trackers that cannot use one need not accept the keyword)."""
    if mask is None:
        return lambda: tracker.init(frame, box)
    return lambda: tracker.init(frame, box, mask=mask)


def steps(tracker: Any, frames: Iterable[Any], box: Box | None = None, state: Any = None,
          result: Any = None, max_frames: int | None = None,
          around: CallWrapper | None = None, mask: Any = None) -> Iterator[Step]:
    """Steps in order. With `box` (and optionally the first frame's `mask`): init on the first
    frame (step 0). With `state` (and the `result` that goes with it) instead: track every frame
    from that state (a replay)."""
    pairs = islice(numbered(frames), max_frames)  # never reads a frame past max_frames
    number, last = 0, None
    if state is None:
        index, last = _first(pairs)
        state, seconds = _timed(init_call(tracker, last, box, mask), around, 0)
        result = initial_result(tracker, state, mask)
        yield Step(0, index, last, result, state, False, seconds)
        number = 1
    for index, frame in pairs:
        if frame is None:
            yield Step(number, index, last, result, state, True, 0.0)
        else:
            (state, result), seconds = _timed(lambda: tracker.track(frame, state), around, number)
            last = frame
            yield Step(number, index, frame, result, state, False, seconds)
        number += 1


def run(tracker: Any, frames: Iterable[Any], box: Box | None = None, *, state: Any = None,
        result: Any = None, max_frames: int | None = None,
        on_step: Callable[[Step, LoopSummary], None] | None = None,
        progress: Callable[[int], Any] | None = None,
        around: CallWrapper | None = None, mask: Any = None) -> LoopSummary:
    """Track a whole sequence; `on_step(step, summary)` sees every step once the summary
    counts it, `progress(1)` is called per step. Returns the run's summary."""
    summary = LoopSummary()
    start = time.perf_counter()
    for step in steps(tracker, frames, box, state, result, max_frames, around, mask):
        summary.add(step)
        if on_step is not None:
            on_step(step, summary)
        if progress is not None:
            progress(1)
    summary.wall_s = time.perf_counter() - start
    return summary


def results(tracker: Any, frames: Iterable[Any], box: Box | None = None,
            max_frames: int | None = None, progress: Callable[[int], Any] | None = None,
            mask: Any = None) -> list[Any]:
    """Every step's result in order (result 0: the init frame's)."""
    out: list[Any] = []
    run(tracker, frames, box, max_frames=max_frames, progress=progress, mask=mask,
        on_step=lambda step, _: out.append(step.result))
    return out
