"""Model variants and demo checkpoints are declared by each tracker's spec, and the shared
command layer checks them in one line (no tracker name appears in shared code)."""
from __future__ import annotations

import pytest

from masktrt.errors import MasktrtError
from masktrt.paths import demo_weights, resolve_weights
from masktrt.runtime import loop
from masktrt.trackers.oceanplus.spec import SPEC as OCEANPLUS
from masktrt.trackers.siammask.spec import SPEC as SIAMMASK


def test_variant_defaults_to_the_first_declared() -> None:
    assert OCEANPLUS.variant(None) == "mss" and OCEANPLUS.variant("mms") == "mms"
    assert SIAMMASK.variant(None) is None


def test_unknown_variant_names_the_known_ones() -> None:
    with pytest.raises(MasktrtError, match="mss, mms"):
        OCEANPLUS.variant("big")
    with pytest.raises(MasktrtError, match="drop --variant"):
        SIAMMASK.variant("mss")


def test_resolve_weights_uses_the_trackers_demo_checkpoint() -> None:
    assert resolve_weights(None, False, "siammask") == demo_weights("siammask")
    assert resolve_weights(None, True, "siammask") is None  # --random-weights
    assert str(resolve_weights("x.pth", False, "siammask")) == "x.pth"


def test_tracker_without_demo_checkpoint_is_one_line(monkeypatch) -> None:
    """A tracker whose build ships no demo file (every tracker ships one now: simulated)."""
    import masktrt.paths

    monkeypatch.setattr(masktrt.paths, "demo_weights", lambda tracker="siammask": None)
    with pytest.raises(MasktrtError, match="no demo checkpoint for tracker 'rts'") as err:
        resolve_weights(None, False, "rts")
    assert "--random-weights" in err.value.fix


class _Recorder:
    def __init__(self) -> None:
        self.calls: list = []

    def init(self, frame, box, **kwargs):
        self.calls.append(kwargs)
        return "state"


def test_loop_passes_a_first_frame_mask_only_when_given() -> None:
    tracker = _Recorder()
    loop.init_call(tracker, "frame", (0, 0, 1, 1))()
    loop.init_call(tracker, "frame", (0, 0, 1, 1), mask="m")()
    assert tracker.calls == [{}, {"mask": "m"}]
