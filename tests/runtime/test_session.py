"""runtime.session: the one place a tracker is bound to a runner, and both are closed.

What it owns: a handle that opened its runner closes it (after the tracker's own resources),
a handle lent a runner leaves it open, and a runner whose tracker cannot be made is closed
before the error leaves (the API used to leak it).
"""
from __future__ import annotations

import numpy as np
import pytest

from masktrt import registry
from masktrt.errors import MasktrtError
from masktrt.runtime import session
from tests.helpers.fake_numpy_runners import OracleRunner


class Recorded(OracleRunner):
    """A runner that records its close, and (optionally) the tracker its contract names."""

    def __init__(self, tracker: str | None = None, preset: str | None = None) -> None:
        super().__init__()
        if tracker is not None:
            self.tracker = tracker
        if preset is not None:
            self.preset = preset


def test_an_owned_runner_is_closed_after_the_trackers_own_resources() -> None:
    order: list[str] = []
    runner = Recorded()
    with session.bind(runner, "siammask") as tracker:
        tracker.core.close = lambda: order.append("tracker")
        runner.close = lambda: order.append("runner")
    assert order == ["tracker", "runner"]


def test_a_lent_runner_stays_open() -> None:
    runner = Recorded()
    with session.bind(runner, "siammask", owns_runner=False):
        pass
    assert not runner.closed


def test_a_runner_whose_tracker_cannot_be_made_is_closed_before_the_error_leaves() -> None:
    runner = Recorded()
    with pytest.raises(MasktrtError, match="preset"):
        session.bind(runner, "siammask", "no-such-preset")
    assert runner.closed


def test_a_lent_runner_stays_open_when_the_tracker_cannot_be_made() -> None:
    runner = Recorded()
    with pytest.raises(MasktrtError):
        session.bind(runner, "siammask", "no-such-preset", owns_runner=False)
    assert not runner.closed


def test_the_runners_recorded_tracker_and_preset_win_unless_asked_for() -> None:
    spec = registry.spec("siammask")
    other = next(name for name in spec.presets if name != spec.default_preset)
    with session.bind(Recorded("siammask", other), None) as tracker:
        assert (tracker.name, tracker.preset.name) == ("siammask", other)
    with session.bind(Recorded("siammask", other), None, spec.default_preset) as tracker:
        assert tracker.preset.name == spec.default_preset


def test_an_explicit_tracker_that_contradicts_the_runner_is_refused_and_the_runner_closed() -> None:
    runner = Recorded("siammask")
    with pytest.raises(MasktrtError, match="--tracker oceanplus but the backend holds siammask"):
        session.bind(runner, "oceanplus", explicit=True)
    assert runner.closed


def test_without_a_record_or_a_name_the_registrys_default_tracker_runs() -> None:
    with session.bind(Recorded(), None) as tracker:
        assert tracker.name == registry.DEFAULT_TRACKER


def test_the_handle_tracks_one_target_and_refuses_track_before_init() -> None:
    frame = np.zeros((120, 160, 3), np.uint8)
    frame[40:70, 50:90] = 255
    with session.bind(Recorded(), "siammask") as tracker:
        with pytest.raises(MasktrtError, match="before init"):
            tracker.track(frame)
        tracker.init(frame, (50, 40, 40, 30))
        result = tracker.track(frame)
    assert abs(result.xywh[0] - 50) < 4 and abs(result.xywh[2] - 40) < 6



def test_the_api_closes_the_runner_it_opened_when_the_preset_is_wrong(monkeypatch) -> None:
    from masktrt import api

    opened: list[Recorded] = []
    monkeypatch.setattr(session, "open_runner",
                        lambda backend, **options: opened.append(Recorded("siammask")) or opened[-1])
    with pytest.raises(MasktrtError, match="preset"):
        api.open_tracker("graphs", "onnxruntime", preset="no-such-preset")
    assert [r.closed for r in opened] == [True]


def test_a_torch_runner_is_built_for_the_tracker_asked_for(monkeypatch) -> None:
    """The torch backend reads no contract: the tracker's name must reach its runner (the
    held-out evaluation of OceanPlus once ran SiamMask's graphs on OceanPlus's model)."""
    seen: dict = {}

    def fake_open(backend, **options):
        seen.update(backend=backend, **options)
        return Recorded(options.get("tracker"))

    monkeypatch.setattr(session, "open_runner", fake_open)
    with session.open_tracker("torch", tracker="oceanplus", model="m") as tracker:
        assert tracker.name == "oceanplus"
    assert (seen["backend"], seen["tracker"], seen["model"]) == ("torch", "oceanplus", "m")
