"""The load test's bookkeeping without a server: plans, the frame-by-frame check, the report."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from masktrt.commands.loadtest import stream_counts
from masktrt.errors import MasktrtError
from masktrt.runtime.serve import loadtest as lt
from masktrt.runtime.serve import protocol as p
from masktrt.runtime.serve.client import loopback_url
from masktrt.runtime.sequences import Sequence
from tests.helpers.fake_core import FakeCore, State, result

PLAN = lt.StreamPlan("s0", "seq", (Path("a.png"), Path("b.png")), (1.0, 2.0, 3.0, 4.0))


def expected_results() -> list:
    state = State(0, np.array(PLAN.box), (10, 10))
    return [result(state), FakeCore().track(np.zeros((10, 10, 3), np.uint8), state)[1]]


def answers(results: list, stream: str = "s0") -> list[p.Response]:
    return [p.response_of_result(p.Request(stream, p.TRACK, k), r, 1) for k, r in enumerate(results)]


def checked(responses: list) -> lt.Check:
    out = lt.Check()
    for seq, (response, want) in enumerate(zip(responses, expected_results())):
        out.add(PLAN, seq, response, want)
    return out


def test_identical_answers_pass() -> None:
    out = checked(answers(expected_results()))
    assert (out.frames, out.dropped, out.mismatches) == (2, 0, 0)


def test_a_changed_field_or_a_crossed_stream_is_a_mismatch() -> None:
    moved = answers(expected_results())
    moved[1].box = moved[1].box + 1e-9
    crossed = answers(expected_results(), stream="s1")
    assert checked(moved).details == ["s0 frame 1: box"]
    out = checked(crossed)
    assert out.mismatches == 2 and "answer for s1#0" in out.details[0]


def test_a_missing_or_failed_answer_is_dropped() -> None:
    failed = answers(expected_results())
    failed[1] = p.Response("s0", 1, "frame: bad")
    assert checked([None, *failed[1:]]).dropped == 2


def test_streams_share_sequences_round_robin() -> None:
    seqs = [Sequence(n, "otb", Path(n), tuple(Path(f"{n}{i}.jpg") for i in range(5)),
                     np.ones((5, 4))) for n in ("x", "y")]
    plans = lt.plan_streams(seqs, 3, 4, prefix="r0s")
    assert [(pl.stream, pl.sequence, len(pl.frames)) for pl in plans] == \
        [("r0s0", "x", 4), ("r0s1", "y", 4), ("r0s2", "x", 4)]
    with pytest.raises(MasktrtError, match="65 streams"):
        lt.plan_streams(seqs, 65, 4)


def test_the_table_has_units_and_the_row_its_numbers() -> None:
    log = lt.StreamLog(PLAN, answers(expected_results()), [0.010, 0.030])
    row = lt.summary_row(1, [log], 0.5, checked(log.responses))
    assert (row["frames_per_s"], row["p50_ms"], row["dropped"], row["mismatches"]) == (4.0, 20.0, 0, 0)
    text = lt.table([row])
    assert "throughput (frames/s)" in text and "p99 (ms)" in text and text.count("\n") == 2


def test_only_loopback_addresses_are_driven() -> None:
    assert loopback_url("127.0.0.1:8000") == "127.0.0.1:8000"
    assert loopback_url("http://localhost:9") == "localhost:9"
    for bad in ("10.0.0.5:8000", "example.com:80", "127.0.0.1"):
        with pytest.raises(MasktrtError, match="not a loopback address"):
            loopback_url(bad)


def test_stream_counts_are_bounded() -> None:
    assert stream_counts("1,4,16") == [1, 4, 16]
    for bad in ("", "0", "1,x", "65"):
        with pytest.raises(MasktrtError):
            stream_counts(bad)


def test_stagger_offsets_streams_within_one_frame_period_when_paced() -> None:
    assert lt.start_offsets(4, 0.0, 1.0) == [0.0] * 4
    assert lt.start_offsets(4, 0.25, 1.0) == [0.0, 0.25, 0.5, 0.75]
    assert lt.start_offsets(3, 0.4, 2.0) == [0.0, 0.4, 0.3]  # wrapped into 0.5 s
    assert lt.start_offsets(3, 0.5, 0.0) == [0.0, 0.5, 1.0]  # unpaced: not wrapped
    with pytest.raises(MasktrtError, match="stagger"):
        lt.start_offsets(2, 11.0, 0.0)
    with pytest.raises(MasktrtError, match="stagger"):
        lt.start_offsets(2, -0.1, 0.0)


class RecordingClient:
    """Answers every request at once and notes when it was sent."""

    def __init__(self, sent: list) -> None:
        self.sent = sent

    def send(self, request: p.Request) -> p.Response:
        import time

        self.sent.append((request.stream, request.command, time.monotonic()))
        return p.Response(request.stream, request.seq)

    def close(self) -> None:
        pass


def test_staggered_streams_start_apart_and_all_frames_go(tmp_path) -> None:
    frames = []
    for k in range(2):
        frames.append(tmp_path / f"{k}.png")
        frames[-1].write_bytes(b"x")
    plans = [lt.StreamPlan(f"s{i}", "seq", tuple(frames), PLAN.box) for i in range(3)]
    sent: list = []
    logs, _ = lt.run_streams(plans, lambda: RecordingClient(sent), 0.0, 30.0, stagger_s=0.1)
    first = {s: t for s, c, t in sorted(sent, key=lambda x: -x[2]) if c == p.INIT}
    assert first["s1"] - first["s0"] >= 0.09 and first["s2"] - first["s1"] >= 0.09
    assert all(len(log.responses) == 2 and all(log.responses) for log in logs)
