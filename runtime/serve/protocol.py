"""What a request and a response of the tracking service carry, and how they map to tensors.

Triton moves named tensors with a leading batch dimension; the dynamic batcher concatenates the
requests of different streams along it. So every field is a fixed-shape tensor (a frame is its
encoded image bytes, BYTES [1]): requests from streams with different frame sizes batch together,
and a corrupt frame is a decoding error of one row, not a malformed batch. Sentinels stand for
absent values (NaN box, empty mask bytes) because `@batch` needs the same inputs in every request.

This module is NumPy/OpenCV, plus Pillow to read an image's size from its header before
decoding it (OpenCV has no header-only read): the server, the load test and the unit tests share
it.
"""
from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field

import cv2
import numpy as np

from masktrt.errors import MasktrtError

MODEL_NAME = "masktrt_tracker"
TRACK, INIT, CLOSE = 0, 1, 2
COMMANDS = {"track": TRACK, "init": INIT, "close": CLOSE}
NO_BOX = (float("nan"),) * 4
# The most pixels a frame or mask may have (`masktrt serve --max-pixels`): 8K UHD (7680x4320,
# 33.2 MP) fits; a decompression bomb (a few KB of PNG claiming 100k x 100k) is refused from its
# header, before anything is allocated.
MAX_PIXELS = 36_000_000

# name -> (numpy dtype, shape without the batch dimension); bytes = Triton BYTES
INPUTS = {"stream": (bytes, (1,)), "command": (np.int32, (1,)), "seq": (np.int64, (1,)),
          "frame": (bytes, (1,)), "box": (np.float64, (4,)), "mask": (bytes, (1,))}
OUTPUTS = {"stream": (bytes, (1,)), "seq": (np.int64, (1,)), "error": (bytes, (1,)),
           "box": (np.float64, (4,)), "polygon": (np.float32, (8,)), "score": (np.float64, (1,)),
           "lost": (np.int32, (1,)), "mask": (bytes, (1,)), "batch": (np.int32, (1,))}


@dataclass
class Request:
    """One row of a batch: a frame of stream `stream` (number `seq`), or an init or close."""

    stream: str
    command: int
    seq: int
    frame: bytes = b""
    box: tuple[float, float, float, float] = NO_BOX
    mask: bytes = b""


@dataclass(eq=False)
class Response:
    """The answer to one request: the tracker's result, or `error` (one line) and no result."""

    stream: str
    seq: int
    error: str = ""
    box: np.ndarray = field(default_factory=lambda: np.full(4, np.nan))
    polygon: np.ndarray = field(default_factory=lambda: np.full(8, np.nan, np.float32))
    score: float = float("nan")
    lost: bool = False
    mask: bytes = b""
    batch: int = 1

    @property
    def ok(self) -> bool:
        return not self.error


def _text(value: object) -> str:
    return bytes(value).decode("utf-8", "replace") if not isinstance(value, str) else value


def _bytes_column(values: list[bytes]) -> np.ndarray:
    """A BYTES tensor [B, 1]: an object array, so binary data keeps its trailing zero bytes."""
    column = np.empty((len(values), 1), dtype=object)
    for row, value in enumerate(values):
        column[row, 0] = value
    return column


def request_arrays(request: Request) -> dict[str, np.ndarray]:
    """The client side: one request as a batch of one (what the Triton client sends)."""
    return batch_of_requests([request])


def batch_of_requests(requests: list[Request]) -> dict[str, np.ndarray]:
    """Requests stacked as the dynamic batcher hands them to the model (also for tests)."""
    return {"stream": _bytes_column([r.stream.encode() for r in requests]),
            "command": np.array([[r.command] for r in requests], np.int32),
            "seq": np.array([[r.seq] for r in requests], np.int64),
            "frame": _bytes_column([r.frame for r in requests]),
            "box": np.array([r.box for r in requests], np.float64).reshape(-1, 4),
            "mask": _bytes_column([r.mask for r in requests])}


def requests_from_batch(inputs: dict[str, np.ndarray]) -> list[Request]:
    """The server side: a batch of inputs split back into requests, in batch order."""
    rows = len(inputs["command"])
    return [Request(_text(inputs["stream"][i, 0]), int(inputs["command"][i, 0]),
                    int(inputs["seq"][i, 0]), bytes(inputs["frame"][i, 0]),
                    tuple(float(v) for v in inputs["box"][i]), bytes(inputs["mask"][i, 0]))
            for i in range(rows)]


def batch_of_responses(responses: list[Response]) -> dict[str, np.ndarray]:
    """Responses as output tensors [B, ...], in request order."""
    return {"stream": _bytes_column([r.stream.encode() for r in responses]),
            "seq": np.array([[r.seq] for r in responses], np.int64),
            "error": _bytes_column([r.error.encode() for r in responses]),
            "box": np.array([r.box for r in responses], np.float64).reshape(-1, 4),
            "polygon": np.array([np.ravel(r.polygon) for r in responses], np.float32).reshape(-1, 8),
            "score": np.array([[r.score] for r in responses], np.float64),
            "lost": np.array([[int(r.lost)] for r in responses], np.int32),
            "mask": _bytes_column([r.mask for r in responses]),
            "batch": np.array([[r.batch] for r in responses], np.int32)}


def response_from_arrays(outputs: dict[str, np.ndarray], row: int = 0) -> Response:
    """The client side: row `row` of the output tensors as a Response."""
    return Response(_text(outputs["stream"][row, 0]), int(outputs["seq"][row, 0]),
                    _text(outputs["error"][row, 0]), np.asarray(outputs["box"][row], np.float64),
                    np.asarray(outputs["polygon"][row], np.float32),
                    float(outputs["score"][row, 0]), bool(outputs["lost"][row, 0]),
                    bytes(outputs["mask"][row, 0]), int(outputs["batch"][row, 0]))


def response_of_result(request: Request, result: object, batch: int) -> Response:
    """A tracker's FrameResult (box, polygon, score, lost, mask) as the request's response."""
    mask = getattr(result, "mask", None)
    return Response(request.stream, request.seq, "", np.asarray(result.box, np.float64),
                    np.ravel(result.polygon).astype(np.float32), float(result.score),
                    bool(result.lost), encode_mask(mask) if mask is not None else b"", batch)


def error_response(request: Request, error: str, batch: int) -> Response:
    return Response(request.stream, request.seq, error, batch=batch)


def encode_mask(mask: np.ndarray) -> bytes:
    """HxW {0,1} uint8 -> PNG bytes (lossless: the client gets exactly the tracker's mask)."""
    ok, data = cv2.imencode(".png", np.ascontiguousarray(mask, np.uint8))
    if not ok:
        raise MasktrtError("cannot encode the result mask as PNG", "report this: OpenCV failed")
    return data.tobytes()


def _undecodable(data: bytes, what: str) -> MasktrtError:
    return MasktrtError(f"the {what} ({len(data)} bytes) is not a decodable image",
                        "send the file bytes of a JPEG or PNG image")


def header_size(data: bytes, what: str) -> str | tuple[int, int]:
    """(width, height) read from the image's header alone (Pillow's open parses no pixel
    data), or a description of the size where Pillow's own ceiling (~179 MP) refused it."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                return image.size
    except Image.DecompressionBombError:
        return f"over {2 * Image.MAX_IMAGE_PIXELS:,} pixels"
    except Exception as exc:  # Pillow raises several types for a damaged header
        raise _undecodable(data, what) from exc


def check_pixels(data: bytes, what: str, max_pixels: int) -> None:
    """Refuse an image over `max_pixels` before decoding it (decompression bombs)."""
    size = header_size(data, what)
    if isinstance(size, tuple) and size[0] * size[1] <= max_pixels:
        return
    claimed = f"{size[0]}x{size[1]} pixels" if isinstance(size, tuple) else size
    raise MasktrtError(f"the {what} claims {claimed}, over the server's limit of "
                       f"{max_pixels:,} pixels",
                       "send smaller images, or start the server with a higher --max-pixels")


def decode_image(data: bytes, what: str, flags: int = cv2.IMREAD_COLOR,
                 max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Encoded image bytes -> array, as cv2.imread reads the same file (same decoder), after
    its header's size is checked against `max_pixels`."""
    if not data:
        raise _undecodable(data, what)
    check_pixels(data, what, max_pixels)
    image = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    if image is None:
        raise _undecodable(data, what)
    return image


def decode_mask(data: bytes, max_pixels: int = MAX_PIXELS) -> np.ndarray | None:
    """A mask PNG's bytes -> HxW uint8 {0,1}, nonzero = target, as sequences.read_mask reads
    the file (None for no bytes)."""
    if not data:
        return None
    return (decode_image(data, "mask", cv2.IMREAD_GRAYSCALE, max_pixels) > 0).astype(np.uint8)
