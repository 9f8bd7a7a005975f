"""`masktrt vot`'s TraX session: initial regions in, replies out, errors as a quit reason and a
one-line exit 2. A scripted server stands in for libtrax's pipe; regions are real trax ones."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from masktrt.cli import main
from masktrt.errors import MasktrtError
from masktrt.runtime.trax_server import ANNOUNCED, Session, serve, target_of
from masktrt.types import FrameResult

trax = pytest.importorskip("trax")
from trax.server import Request


class FakeCore:
    """A tracker that records its init and returns a fixed box, polygon and mask."""

    def __init__(self) -> None:
        self.inits: list[tuple] = []

    def init(self, frame, box, mask=None):
        self.inits.append((frame.shape, box, mask))
        return 0

    def track(self, frame, state):
        mask = np.zeros(frame.shape[:2], np.uint8)
        mask[10:22, 20:36] = 1
        polygon = np.array([[20, 10], [36, 10], [36, 22], [20, 22]], np.float32)
        return state + 1, FrameResult(np.array([28.0, 16.0]), np.array([16.0, 12.0]), polygon,
                                      0.75, False, mask=mask)


class ScriptedServer:
    """Hands out requests in order; records replies and how the session ended."""

    def __init__(self, requests: list[Request]) -> None:
        self.requests, self.replies, self.quit_reason = list(requests), [], "open"

    def wait(self) -> Request:
        return self.requests.pop(0)

    def status(self, objects) -> None:
        self.replies.append(objects)

    def quit(self, reason=None) -> None:
        self.quit_reason = reason


def frame_path(davis_sequence: Path, index: int = 0) -> str:
    return str(davis_sequence / "frames" / f"{index:05d}.png")


def init(path: str, region) -> Request:
    return Request("initialize", {"color": trax.FileImage.create(path)}, [(region, {})], {})


def frame(path: str) -> Request:
    return Request("frame", {"color": trax.FileImage.create(path)}, None, {})


QUIT = Request("quit", None, None, {})


def run_session(requests, output="mask", core=None):
    server, core = ScriptedServer(requests), core or FakeCore()
    frames = serve(Session(core, output), server)
    return frames, server, core


def test_rectangle_init_then_mask_replies_with_confidence(davis_sequence):
    path = frame_path(davis_sequence)
    frames, server, core = run_session([init(path, trax.Rectangle.create(8, 10, 16, 12)),
                                        frame(frame_path(davis_sequence, 1)), QUIT])
    assert frames == 2 and server.quit_reason is None
    assert core.inits[0][1] == (8.0, 10.0, 16.0, 12.0) and core.inits[0][2] is None
    region, properties = server.replies[1][0]
    assert region.type == "mask" and region.offset() == (20, 10) and region.size() == (16, 12)
    assert float(properties["confidence"]) == 0.75


def test_polygon_init_gives_its_enclosing_box():
    polygon = trax.Polygon.create([(10.0, 5.0), (30.0, 9.0), (26.0, 25.0), (6.0, 21.0)])
    assert target_of(polygon, (48, 64)).box == (6.0, 5.0, 24.0, 20.0)


def test_mask_init_passes_the_full_frame_mask_and_its_box():
    patch = np.ones((6, 5), np.uint8)
    target = target_of(trax.Mask.create(patch, 60, 2), (48, 64))  # hangs over the right edge
    assert target.box == (60.0, 2.0, 4.0, 6.0)
    assert target.mask.shape == (48, 64) and target.mask.sum() == 24


@pytest.mark.parametrize("output, kind", [("polygon", "polygon"), ("rectangle", "rectangle")])
def test_replies_follow_region(davis_sequence, output, kind):
    box = trax.Rectangle.create(8, 10, 16, 12)
    _, server, _ = run_session([init(frame_path(davis_sequence), box),
                                frame(frame_path(davis_sequence, 1)), QUIT], output=output)
    region = server.replies[1][0][0]
    assert region.type == kind
    if kind == "rectangle":
        assert region.bounds() == (20.0, 10.0, 16.0, 12.0)
    else:
        assert list(region) == [(20.0, 10.0), (36.0, 10.0), (36.0, 22.0), (20.0, 22.0)]


def test_announced_formats_let_libtrax_convert_what_we_cannot_take():
    assert ANNOUNCED["rectangle"] == ["rectangle"] and "mask" in ANNOUNCED["mask"]


def test_an_unreadable_frame_quits_with_the_reason(davis_sequence, tmp_path):
    missing = str(tmp_path / "gone.jpg")
    server = ScriptedServer([init(frame_path(davis_sequence), trax.Rectangle.create(8, 10, 16, 12)),
                             frame(missing)])
    with pytest.raises(MasktrtError, match="cannot read frame"):
        serve(Session(FakeCore(), "mask"), server)
    assert "gone.jpg" in server.quit_reason


def test_an_empty_initial_mask_is_refused(davis_sequence):
    empty = trax.Mask.create(np.zeros((3, 3), np.uint8))
    server = ScriptedServer([init(frame_path(davis_sequence), empty)])
    with pytest.raises(MasktrtError, match="initial mask is empty"):
        serve(Session(FakeCore(), "mask"), server)


def test_a_frame_before_initialize_is_refused(davis_sequence):
    with pytest.raises(MasktrtError, match="before initializing"):
        run_session([frame(frame_path(davis_sequence))])


def test_the_command_ends_a_bad_session_with_one_line_and_exit_2(monkeypatch, capsys, tmp_path,
                                                                 davis_sequence):
    from masktrt.commands import vot
    from masktrt.runtime import trax_server

    class Handle:
        core, closed = FakeCore(), False

        def close(self):
            Handle.closed = True

    box = trax.Rectangle.create(1, 1, 5, 5)
    server = ScriptedServer([init(str(tmp_path / "nothing.png"), box)])
    monkeypatch.setattr(vot, "open_core", lambda args: Handle())
    monkeypatch.setattr(trax_server, "open_server", lambda output, name: server)
    monkeypatch.setattr(trax_server, "check_started_by_client", lambda: None)
    assert main(["vot"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot read frame") and err.count("\n") == 1
    assert Handle.closed and "nothing.png" in server.quit_reason


def test_typed_into_a_terminal_it_says_who_starts_it(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.delenv("TRAX_SOCKET", raising=False)
    assert main(["vot"]) == 2
    assert "the VOT toolkit starts it" in capsys.readouterr().err
