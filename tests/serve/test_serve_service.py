"""The service answers each row of a batch on its own: a bad frame never disturbs another stream.

Every behaviour holds on both paths: a batch-1 core (rows one by one) and a core whose contract
records batch=dynamic (track rows of different streams in one `track_many` call, falling back to
rows one by one when that call raises).
"""
from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest

from masktrt.runtime.serve import protocol as p
from masktrt.runtime.serve.service import TrackingService
from tests.helpers.fake_core import FakeBatchedCore, FakeCore

BOX = (10.0, 12.0, 8.0, 6.0)


def frame(value: int = 100, hw: tuple[int, int] = (40, 60)) -> bytes:
    return cv2.imencode(".png", np.full((*hw, 3), value, np.uint8))[1].tobytes()


def batch(service: TrackingService, *requests: p.Request) -> list[p.Response]:
    """Through the tensors, as Triton's batcher hands them over."""
    outputs = service.infer(**p.batch_of_requests(list(requests)))
    return [p.response_from_arrays(outputs, row) for row in range(len(requests))]


CORES = {"per-row": FakeCore, "batched": FakeBatchedCore}


@pytest.fixture(params=sorted(CORES))
def core(request):
    """A fresh core of each kind; the tests run once per path."""
    return CORES[request.param]()


def opened(*streams: str, core=None) -> TrackingService:
    service = TrackingService(core if core is not None else FakeCore())
    batch(service, *(p.Request(s, p.INIT, 0, frame(), BOX) for s in streams))
    return service


def sequential(frames: int) -> list[p.Response]:
    """Stream 'ref' alone, one request per batch: what every stream must get."""
    service = opened("ref")
    return [batch(service, p.Request("ref", p.TRACK, k, frame()))[0] for k in range(1, frames + 1)]


def same(a: p.Response, b: p.Response) -> bool:
    return np.array_equal(a.box, b.box) and a.score == b.score and a.mask == b.mask and a.lost == b.lost


def test_init_answers_the_initial_result_and_batches_report_their_size() -> None:
    service = TrackingService(FakeCore())
    got = batch(service, p.Request("a", p.INIT, 0, frame(), BOX), p.Request("b", p.INIT, 0, frame(), BOX))
    assert all(r.ok and r.batch == 2 for r in got)
    assert np.allclose(got[0].box, BOX) and len(service.table) == 2
    assert service.stats.sizes == {2: 1}


def test_streams_in_one_batch_match_each_stream_alone(core) -> None:
    service, expected = opened("a", "b", "c", core=core), sequential(3)
    for k in range(1, 4):
        got = batch(service, *(p.Request(s, p.TRACK, k, frame()) for s in "abc"))
        assert [r.stream for r in got] == list("abc") and all(r.seq == k for r in got)
        assert all(same(r, expected[k - 1]) for r in got)


def test_a_bad_frame_is_an_error_for_its_row_only_and_leaves_its_stream_as_it_was(core) -> None:
    service, expected = opened("a", "b", core=core), sequential(4)
    bad_rows = [b"garbage", frame(hw=(20, 20)), frame(13)]  # undecodable, resized, tracker crash
    for k, bad in enumerate(bad_rows, start=1):
        got = batch(service, p.Request("a", p.TRACK, 1, bad), p.Request("b", p.TRACK, k, frame()))
        assert not got[0].ok and got[1].ok and same(got[1], expected[k - 1])
    assert "not a decodable image" in batch(service, p.Request("a", p.TRACK, 1, b"x"))[0].error
    got = batch(service, p.Request("a", p.TRACK, 1, frame()), p.Request("b", p.TRACK, 4, frame()))
    assert same(got[0], expected[0])  # a resumes as if the bad frames never came
    assert same(got[1], expected[3]) and service.stats.errors == 4


def test_errors_name_the_problem_and_the_fix(core) -> None:
    service = opened("a", core=core)
    got = batch(service, p.Request("nobody", p.TRACK, 1, frame()), p.Request("a", p.INIT, 0, frame()),
                p.Request("a", 9, 1, frame()), p.Request("a", p.TRACK, 0, frame()))
    assert "'nobody' is not open" in got[0].error and "without a box" in got[1].error
    assert "unknown command 9" in got[2].error and "arrived after frame 0" in got[3].error
    assert all(";" not in r.error and "\n" not in r.error for r in got)


def test_close_ends_a_stream_and_frees_its_slot(core) -> None:
    service = opened("a", "b", core=core)
    got = batch(service, p.Request("a", p.CLOSE, 1), p.Request("a", p.TRACK, 2, frame()),
                p.Request("b", p.TRACK, 1, frame()))
    assert got[0].ok and "not open" in got[1].error and got[2].ok and len(service.table) == 1


def test_a_batched_core_tracks_the_streams_of_a_batch_in_one_call() -> None:
    core = FakeBatchedCore()
    service, expected = opened("a", "b", "c", core=core), sequential(2)
    for k in (1, 2):
        got = batch(service, *(p.Request(s, p.TRACK, k, frame()) for s in "abc"))
        assert all(r.ok and r.batch == 3 and same(r, expected[k - 1]) for r in got)
    assert core.calls == [3, 3] and service.stats.batched_calls == 2
    assert service.stats.fallbacks == 0


def test_a_core_without_batch_dynamic_runs_rows_one_by_one() -> None:
    core = FakeBatchedCore(batch=None)
    service, expected = opened("a", "b", core=core), sequential(1)
    got = batch(service, *(p.Request(s, p.TRACK, 1, frame()) for s in "ab"))
    assert all(same(r, expected[0]) for r in got) and core.calls == []


def test_bad_rows_are_left_out_of_the_batched_call_and_a_failing_call_falls_back() -> None:
    """Undecodable, resized and unknown-stream rows never reach `track_many`; a row that makes
    it raise (the fake's all-13 frame) is found by retrying the rows one by one."""
    core = FakeBatchedCore()
    service, expected = opened("a", "b", "c", "d", core=core), sequential(2)
    got = batch(service, p.Request("a", p.TRACK, 1, b"garbage"), p.Request("b", p.TRACK, 1, frame()),
                p.Request("c", p.TRACK, 1, frame(hw=(20, 20))), p.Request("x", p.TRACK, 1, frame()),
                p.Request("d", p.TRACK, 1, frame()))
    assert [r.ok for r in got] == [False, True, False, False, True] and core.calls == [2]
    got = batch(service, p.Request("a", p.TRACK, 1, frame()), p.Request("b", p.TRACK, 2, frame(13)),
                p.Request("d", p.TRACK, 2, frame()))
    assert [r.ok for r in got] == [True, False, True] and "RuntimeError: boom" in got[1].error
    assert same(got[0], expected[0]) and same(got[2], expected[1])
    assert core.calls == [2, 3] and service.stats.fallbacks == 1
    got = batch(service, p.Request("b", p.TRACK, 2, frame()), p.Request("c", p.TRACK, 1, frame()))
    assert same(got[0], expected[1]) and same(got[1], expected[0])  # as if nothing had failed


def test_a_streams_second_row_in_a_batch_runs_after_its_first() -> None:
    """Rows of one stream depend on each other: they stay out of the batched call, in order."""
    core = FakeBatchedCore()
    service, expected = opened("a", "b", core=core), sequential(2)
    got = batch(service, p.Request("a", p.TRACK, 1, frame()), p.Request("b", p.TRACK, 1, frame()),
                p.Request("a", p.TRACK, 2, frame()), p.Request("c", p.INIT, 0, frame(), BOX),
                p.Request("c", p.TRACK, 1, frame()))
    assert all(r.ok for r in got) and core.calls == [1]
    assert same(got[0], expected[0]) and same(got[1], expected[0]) and same(got[2], expected[1])
    assert same(got[4], expected[0])


def test_an_init_mask_reaches_the_tracker() -> None:
    mask = cv2.imencode(".png", np.pad(np.full((1, 2), 255, np.uint8), ((0, 39), (0, 58))))[1].tobytes()
    got = batch(TrackingService(FakeCore()), p.Request("m", p.INIT, 0, frame(), BOX, mask))[0]
    assert np.allclose(got.box, np.add(BOX, 2))  # the fake adds the mask's pixel count


def test_the_serving_modules_import_without_torch() -> None:
    code = ("import sys; sys.modules['torch'] = None; sys.modules['onnx'] = None\n"
            "import masktrt.runtime.serve.service, masktrt.runtime.serve.loadtest\n"
            "import masktrt.runtime.serve.client, masktrt.runtime.serve.triton_server\n"
            "import masktrt.commands.serve, masktrt.commands.loadtest\n"
            "assert 'torch' not in {m.split('.')[0] for m, v in sys.modules.items() if v}")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_an_oversized_frame_or_mask_fails_its_row_only_with_its_reason() -> None:
    """Issue 29 item 7: over --max-pixels, the request fails alone; the other stream goes on."""
    from tests.serve.test_serve_protocol import bomb_png

    service = TrackingService(FakeCore(), max_pixels=40 * 60)
    batch(service, p.Request("b", p.INIT, 0, frame(), BOX))
    got = batch(service, p.Request("a", p.INIT, 0, frame(hw=(41, 60)), BOX),
                p.Request("b", p.TRACK, 1, frame()),
                p.Request("c", p.INIT, 0, frame(), BOX, bomb_png(100_000, 100_000)))
    assert "claims 60x41 pixels, over the server's limit of 2,400" in got[0].error
    assert got[1].ok and "the mask claims over" in got[2].error
    assert "a" not in service.table and "c" not in service.table


def test_the_table_reports_the_largest_stream_state() -> None:
    from masktrt.runtime.serve.streams import state_bytes

    service = opened("a")
    assert service.table.largest_state == state_bytes(service.table.current("a", 1)) > 0
