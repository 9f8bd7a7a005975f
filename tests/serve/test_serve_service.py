"""The service answers each row of a batch on its own: a bad frame never disturbs another stream."""
from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np

from masktrt.runtime.serve import protocol as p
from masktrt.runtime.serve.service import TrackingService
from tests.serve.fake_core import FakeCore

BOX = (10.0, 12.0, 8.0, 6.0)


def frame(value: int = 100, hw: tuple[int, int] = (40, 60)) -> bytes:
    return cv2.imencode(".png", np.full((*hw, 3), value, np.uint8))[1].tobytes()


def batch(service: TrackingService, *requests: p.Request) -> list[p.Response]:
    """Through the tensors, as Triton's batcher hands them over."""
    outputs = service.infer(**p.batch_of_requests(list(requests)))
    return [p.response_from_arrays(outputs, row) for row in range(len(requests))]


def opened(*streams: str) -> TrackingService:
    service = TrackingService(FakeCore())
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


def test_streams_in_one_batch_match_each_stream_alone() -> None:
    service, expected = opened("a", "b", "c"), sequential(3)
    for k in range(1, 4):
        got = batch(service, *(p.Request(s, p.TRACK, k, frame()) for s in "abc"))
        assert [r.stream for r in got] == list("abc") and all(r.seq == k for r in got)
        assert all(same(r, expected[k - 1]) for r in got)


def test_a_bad_frame_is_an_error_for_its_row_only_and_leaves_its_stream_as_it_was() -> None:
    service, expected = opened("a", "b"), sequential(4)
    bad_rows = [b"garbage", frame(hw=(20, 20)), frame(13)]  # undecodable, resized, tracker crash
    for k, bad in enumerate(bad_rows, start=1):
        got = batch(service, p.Request("a", p.TRACK, 1, bad), p.Request("b", p.TRACK, k, frame()))
        assert not got[0].ok and got[1].ok and same(got[1], expected[k - 1])
    assert "not a decodable image" in batch(service, p.Request("a", p.TRACK, 1, b"x"))[0].error
    got = batch(service, p.Request("a", p.TRACK, 1, frame()), p.Request("b", p.TRACK, 4, frame()))
    assert same(got[0], expected[0])  # a resumes as if the bad frames never came
    assert same(got[1], expected[3]) and service.stats.errors == 4


def test_errors_name_the_problem_and_the_fix() -> None:
    service = opened("a")
    got = batch(service, p.Request("nobody", p.TRACK, 1, frame()), p.Request("a", p.INIT, 0, frame()),
                p.Request("a", 9, 1, frame()), p.Request("a", p.TRACK, 0, frame()))
    assert "'nobody' is not open" in got[0].error and "without a box" in got[1].error
    assert "unknown command 9" in got[2].error and "arrived after frame 0" in got[3].error
    assert all(";" not in r.error and "\n" not in r.error for r in got)


def test_close_ends_a_stream_and_frees_its_slot() -> None:
    service = opened("a", "b")
    got = batch(service, p.Request("a", p.CLOSE, 1), p.Request("a", p.TRACK, 2, frame()),
                p.Request("b", p.TRACK, 1, frame()))
    assert got[0].ok and "not open" in got[1].error and got[2].ok and len(service.table) == 1


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
