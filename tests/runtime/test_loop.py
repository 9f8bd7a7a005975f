"""The one sequence loop with a tiny fake tracker: order of calls, skip-and-align, counts."""
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pytest

from masktrt.errors import MasktrtError
from masktrt.runtime import loop


@dataclass
class Result:
    score: float
    lost: bool = False


class CountingTracker:
    """State = number of frames seen; scores and lost flags scripted per track call."""

    def __init__(self, scores=None, lost=()):
        self.calls = []
        self.scores = scores or {}
        self.lost = set(lost)

    def init(self, frame, box):
        self.calls.append(("init", int(frame[0, 0, 0]), tuple(box)))
        return 0

    def track(self, frame, state):
        value = int(frame[0, 0, 0])
        self.calls.append(("track", value, state))
        return state + 1, Result(self.scores.get(value, 0.5), value in self.lost)

    def initial_result(self, state):
        return Result(1.0)


def frame(value):
    return np.full((4, 4, 3), value, np.uint8)


BOX = (1.0, 2.0, 3.0, 4.0)


def test_frames_are_initialised_then_tracked_in_order_with_one_step_each():
    tracker = CountingTracker()
    steps = list(loop.steps(tracker, [frame(v) for v in range(4)], BOX))
    assert tracker.calls == [("init", 0, BOX), ("track", 1, 0), ("track", 2, 1), ("track", 3, 2)]
    assert [s.number for s in steps] == [0, 1, 2, 3] and [s.index for s in steps] == [0, 1, 2, 3]
    assert steps[0].result == Result(1.0) and steps[3].state == 3
    assert all(s.seconds >= 0 and not s.skipped for s in steps)


def test_undecodable_frames_repeat_the_previous_result_marked_skipped():
    tracker = CountingTracker(scores={1: 0.9, 4: 0.7}, lost={4})
    pairs = [(0, frame(0)), (1, frame(1)), (2, None), (3, None), (4, frame(4))]
    seen = []
    summary = loop.run(tracker, pairs, BOX, on_step=lambda step, s: seen.append((step, s.frames)))
    steps = [step for step, _ in seen]
    assert [s.skipped for s in steps] == [False, False, True, True, False]
    assert steps[2].result is steps[1].result and steps[3].result is steps[1].result
    assert steps[2].frame is steps[1].frame and steps[2].seconds == 0.0
    assert [frames for _, frames in seen] == [1, 2, 3, 4, 5]  # the summary counts a step first
    assert tracker.calls == [("init", 0, BOX), ("track", 1, 0), ("track", 4, 1)]
    assert (summary.frames, summary.skipped, summary.lost, summary.calls) == (5, 2, 1, 3)
    assert summary.scores == [0.9, 0.7] and summary.mean_score == pytest.approx(0.8)
    assert summary.wall_s >= summary.tracker_s >= 0


def test_max_frames_counts_the_init_frame_and_reads_no_further():
    read = []

    def frames():
        for v in range(10):
            read.append(v)
            yield v, frame(v)

    ticks = []
    summary = loop.run(CountingTracker(), frames(), BOX, max_frames=3, progress=ticks.append)
    assert summary.frames == 3 and read == [0, 1, 2] and ticks == [1, 1, 1]


def test_replay_from_a_state_tracks_every_frame():
    tracker = CountingTracker()
    out = list(loop.steps(tracker, [frame(5), frame(6)], state=10, result=Result(0.3)))
    assert tracker.calls == [("track", 5, 10), ("track", 6, 11)]
    assert [s.number for s in out] == [0, 1]


def test_a_skipped_frame_before_any_tracked_one_repeats_the_init_result():
    tracker = CountingTracker()
    out = loop.results(tracker, [(0, frame(0)), (1, None), (2, frame(2))], BOX)
    assert out[0] == Result(1.0) and out[1] is out[0] and out[2] == Result(0.5)


def test_an_unreadable_first_frame_is_a_one_line_error():
    with pytest.raises(MasktrtError, match="cannot read the first frame"):
        loop.run(CountingTracker(), [(0, None), (1, frame(1))], BOX)


def test_around_wraps_every_call_and_duck_typed_trackers_need_no_initial_result():
    entered = []

    class Around:
        def __init__(self, number):
            self.number = number

        def __enter__(self):
            entered.append(self.number)

        def __exit__(self, *exc):
            return False

    bare = SimpleNamespace(init=lambda f, b: "s", track=lambda f, s: (s, Result(0.4)))
    out = []
    loop.run(bare, [frame(0), frame(1), frame(2)], BOX, around=Around,
             on_step=lambda step, _: out.append(step.result))
    assert entered == [0, 1, 2] and out[0] is None and out[1] == Result(0.4)


@dataclass
class MaskedResult:
    score: float
    mask: object = None


class MaskStartTracker(CountingTracker):
    def init(self, frame, box, mask=None):
        return super().init(frame, box)

    def initial_result(self, state):
        return MaskedResult(1.0)


def test_a_mask_start_reports_the_given_mask_as_frame_0s():
    """Frame 0 of a run started from a mask is that mask (0/1), not the filled box (issue 29)."""
    given = np.zeros((4, 4), np.uint8)
    given[1:3, 0:2] = 255
    first = next(loop.steps(MaskStartTracker(), [frame(0), frame(1)], BOX, mask=given))
    assert first.result.mask.dtype == np.uint8
    np.testing.assert_array_equal(first.result.mask, (given > 0).astype(np.uint8))
    boxed = next(loop.steps(MaskStartTracker(), [frame(0)], BOX))
    assert boxed.result.mask is None  # no mask given: the writer fills the box, as before
