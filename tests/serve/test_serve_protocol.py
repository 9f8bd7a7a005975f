"""Request/response packing: what the client sends is what the service reads, row by row."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from masktrt.errors import MasktrtError
from masktrt.runtime.serve import protocol as p


def png(image: np.ndarray) -> bytes:
    return cv2.imencode(".png", image)[1].tobytes()


def test_requests_survive_the_batch_round_trip() -> None:
    requests = [p.Request("cam-1", p.INIT, 0, b"\xff\xd8jpeg\x00\x00", (1.0, 2.0, 3.0, 4.0), b"m\x00"),
                p.Request("cam-2", p.TRACK, 7, b"frame"),
                p.Request("cam-1", p.CLOSE, 8)]
    back = p.requests_from_batch(p.batch_of_requests(requests))
    assert [r.stream for r in back] == ["cam-1", "cam-2", "cam-1"]
    assert back[0].frame == b"\xff\xd8jpeg\x00\x00" and back[0].mask == b"m\x00"  # zeros kept
    assert back[0].box == (1.0, 2.0, 3.0, 4.0) and np.isnan(back[1].box).all()
    assert [(r.command, r.seq) for r in back] == [(p.INIT, 0), (p.TRACK, 7), (p.CLOSE, 8)]


def test_arrays_match_the_declared_tensors() -> None:
    """Every input/output has the dtype and per-row shape Triton is told about, batch first."""
    inputs = p.request_arrays(p.Request("a", p.TRACK, 1, b"x"))
    outputs = p.batch_of_responses([p.Response("a", 1), p.Response("b", 2, "bad")])
    for arrays, spec, rows in ((inputs, p.INPUTS, 1), (outputs, p.OUTPUTS, 2)):
        assert set(arrays) == set(spec)
        for name, (dtype, shape) in spec.items():
            assert arrays[name].shape == (rows, *shape), name
            assert arrays[name].dtype == (object if dtype is bytes else dtype), name


def test_responses_survive_the_round_trip_with_full_precision() -> None:
    mask = np.zeros((6, 9), np.uint8)
    mask[2:4, 3:7] = 1
    sent = p.Response("s", 3, "", np.array([0.1, 1 / 3, 2.5, 7.0]), np.arange(8, dtype=np.float32),
                      0.123456789012345, True, p.encode_mask(mask), 4)
    got = p.response_from_arrays(p.batch_of_responses([p.Response("x", 0, "err"), sent]), row=1)
    assert got.ok and (got.stream, got.seq, got.lost, got.batch) == ("s", 3, True, 4)
    assert np.array_equal(got.box, sent.box) and got.score == sent.score
    assert np.array_equal(got.polygon, sent.polygon)
    assert np.array_equal(p.decode_mask(got.mask), mask)


def test_an_error_response_carries_its_message_only() -> None:
    got = p.response_from_arrays(p.batch_of_responses([p.Response("x", 5, "frame: bad")]))
    assert not got.ok and got.error == "frame: bad" and np.isnan(got.box).all()


def test_frames_decode_as_imread_reads_them(tmp_path) -> None:
    image = np.random.default_rng(0).integers(0, 255, (20, 30, 3), dtype=np.uint8)
    path = tmp_path / "f.png"
    cv2.imwrite(str(path), image)
    assert np.array_equal(p.decode_image(path.read_bytes(), "frame"), cv2.imread(str(path)))


@pytest.mark.parametrize("data", [b"", b"not an image", b"\xff\xd8\xff\xe0 truncated"])
def test_undecodable_bytes_are_a_one_line_error(data: bytes) -> None:
    with pytest.raises(MasktrtError, match="not a decodable image"):
        p.decode_image(data, "frame")


def test_masks_read_nonzero_as_target() -> None:
    mask = np.array([[0, 255, 7]], np.uint8)
    assert p.decode_mask(png(mask)).tolist() == [[0, 1, 1]] and p.decode_mask(b"") is None


def bomb_png(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height (grayscale) with one tiny IDAT: a few dozen bytes
    that a decoder would turn into width*height bytes."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + chunk(b"IEND", b""))


@pytest.mark.parametrize("width,height", [(100_000, 100_000), (7000, 6000), (1 << 30, 1 << 30)])
def test_a_decompression_bomb_is_refused_from_its_header(width: int, height: int) -> None:
    """Issue 29 item 7: the size is read before decoding, so nothing of that size is allocated."""
    data = bomb_png(width, height)
    assert len(data) < 200
    for decode in (lambda: p.decode_image(data, "frame"), lambda: p.decode_mask(data)):
        with pytest.raises(MasktrtError, match="over the server.s limit of 36,000,000 pixels") as info:
            decode()
        assert "--max-pixels" in info.value.fix


def test_the_pixel_limit_is_inclusive_and_configurable() -> None:
    data = png(np.zeros((2, 3), np.uint8))
    assert p.decode_image(data, "frame", max_pixels=6).shape == (2, 3, 3)
    with pytest.raises(MasktrtError, match="claims 3x2 pixels"):
        p.decode_image(data, "frame", max_pixels=5)
    with pytest.raises(MasktrtError, match="limit of 5"):
        p.decode_mask(data, max_pixels=5)
