"""The per-stream state table: open, in-order frames, close, limits, idle expiry."""
from __future__ import annotations

import pytest

from masktrt.errors import MasktrtError
from masktrt.runtime.serve.streams import StreamTable


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_states_are_kept_per_stream_and_advance_in_order() -> None:
    table = StreamTable()
    table.open("a", "a0", 0)
    table.open("b", "b0", 0)
    assert table.current("a", 1) == "a0"
    table.advance("a", "a1", 1)
    assert (table.current("a", 2), table.current("b", 1)) == ("a1", "b0")


def test_a_frame_not_after_the_last_one_is_refused() -> None:
    table = StreamTable()
    table.open("a", "s", 0)
    table.advance("a", "s1", 3)
    for seq in (3, 2):
        with pytest.raises(MasktrtError, match="arrived after frame 3"):
            table.current("a", seq)
    assert table.current("a", 5) == "s1"  # a gap is fine (a client may skip frames)


def test_unknown_and_closed_streams_are_refused() -> None:
    table = StreamTable()
    with pytest.raises(MasktrtError, match="'x' is not open"):
        table.current("x", 1)
    table.open("x", "s", 0)
    assert table.close("x") and not table.close("x") and "x" not in table


def test_the_stream_limit_holds_but_reopening_is_fine() -> None:
    table = StreamTable(max_streams=2)
    table.open("a", 1, 0)
    table.open("b", 1, 0)
    table.open("a", 2, 0)  # re-init of an open stream
    with pytest.raises(MasktrtError, match="2 streams are open"):
        table.open("c", 1, 0)
    assert len(table) == 2


def test_idle_streams_expire() -> None:
    clock = Clock()
    table = StreamTable(idle_s=10, clock=clock)
    table.open("old", 1, 0)
    clock.now = 8
    table.open("new", 1, 0)
    clock.now = 12
    assert table.expire() == ["old"] and "new" in table and len(table) == 1
