"""Initial boxes that cannot be tracked end in one line before any crop (issue 29.4): a box far
larger than the frame (its padded crop would ask OpenCV for gigabytes), one given as a string,
and non-finite values; a box the frame's own size still tracks."""
from __future__ import annotations

import numpy as np
import pytest

from masktrt.errors import MasktrtError
from masktrt.runtime.trackers.checks import check_box

HW = (240, 320)


@pytest.mark.parametrize("box, words", [
    ((-100000, -100000, 300000, 300000), "larger than the 320x240 frame"),
    ((10, 10, 1e9, 1e9), "larger than the 320x240 frame"),
    ((-10, -10, 330, 250), "larger than the 320x240 frame"),
    ("10,10,20,20", "4 finite numbers"),
    ((10, 10, float("inf"), 20), "4 finite numbers"),
    (tuple(range(10_000)), "4 finite numbers"),
])
def test_untrackable_boxes_are_one_line(box, words) -> None:
    with pytest.raises(MasktrtError, match=words) as info:
        check_box(box, HW)
    assert "\n" not in str(info.value) and len(str(info.value)) < 300


def test_the_frames_own_size_is_accepted() -> None:
    check_box((0, 0, 320, 240), HW)
    check_box((-5, -5, 100, 100), HW)  # partly outside, but no larger than the frame


def test_the_api_refuses_a_huge_box_before_cropping(tmp_path) -> None:
    import masktrt
    from masktrt.soak import small_export, synthetic_frames

    frame = next(iter(synthetic_frames(1)))
    folder = small_export(tmp_path / "onnx")
    with masktrt.open_tracker(str(folder), backend="onnxruntime") as tracker:
        with pytest.raises(MasktrtError, match="larger than"):
            tracker.init(frame, (-100000, -100000, 300000, 300000))
    assert np.asarray(frame).shape[:2] == HW
