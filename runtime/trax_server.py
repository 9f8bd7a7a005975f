"""A masktrt tracker behind TraX, the protocol the VOT toolkit drives trackers with.

The toolkit starts the tracker process, reads the server's hello (which region formats it takes,
images by path, one colour channel, one object) and then sends `initialize` (frame path plus the
target's region) and `frame` (frame path) requests until `quit`. TraX has the server announce its
formats and the client convert: libtrax turns an initial region of another type into one the
server announced before sending it. So `--region mask` announces rectangle, polygon and mask
(any initial region arrives as given), `polygon` announces rectangle and polygon, `rectangle`
only rectangle; every reply is in the `--region` format, with the frame's score as the
`confidence` property (the toolkit stores it per frame beside the trajectory).

Initial regions: a rectangle is the box; a polygon gives its enclosing box; a mask gives its
tight box and is passed to the tracker's `init(frame, box, mask=...)` (SiamMask ignores it,
OceanPlus uses it). A frame that cannot be read or an unusable region ends the session: the
server sends `quit` with the one-line reason (the toolkit shows it) and raises MasktrtError.
The `trax` module (package vot-trax, extra `vot`) is imported only when a session starts.
"""
from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from masktrt.errors import MasktrtError, require
from masktrt.runtime.frames import read_frame
from masktrt.runtime.loop import initial_result
from masktrt.runtime.outputs import box_mask
from masktrt.runtime.vot_regions import Box, frame_mask, mask_bounds, polygon_box
from masktrt.types import FrameResult

OUTPUTS = ("mask", "polygon", "rectangle")
ANNOUNCED = {"mask": ["rectangle", "polygon", "mask"], "polygon": ["rectangle", "polygon"],
             "rectangle": ["rectangle"]}


@dataclass(frozen=True, eq=False)
class Target:
    """What an initial region gives the tracker: a box, and a full-frame mask if it was one."""

    box: Box
    mask: np.ndarray | None = None


def check_started_by_client() -> None:
    """A TraX server talks on stdin/stdout: typed into a terminal it would just wait."""
    if sys.stdin.isatty() and "TRAX_SOCKET" not in os.environ:
        raise MasktrtError("'masktrt vot' is a TraX server: the VOT toolkit starts it and talks to "
                           "it on stdin/stdout", "write a workspace with 'masktrt vot-workspace' "
                           "and run 'vot evaluate' there")


def open_server(output: str, name: str) -> Any:
    """The TraX server, its hello sent: `output`'s formats, images by path, one object."""
    trax = require("trax", "vot")
    return trax.Server(ANNOUNCED[output], [trax.Image.PATH], ["color"], tracker_name=name,
                       tracker_family="masktrt")


def target_of(region: Any, frame_hw: tuple[int, int]) -> Target:
    """The target an initial TraX region describes (see the module docstring)."""
    kind = getattr(region, "type", None)
    if kind == "rectangle":
        return Target(tuple(float(v) for v in region.bounds()))  # type: ignore[arg-type]
    if kind == "polygon":
        return Target(polygon_box(list(region)))
    if kind == "mask":
        return _mask_target(frame_mask(region.array(), region.offset(), frame_hw))
    raise MasktrtError(f"the initial region is a TraX '{kind}' region",
                       "initialise with a rectangle, a polygon or a mask")


def _mask_target(mask: np.ndarray) -> Target:
    bounds = mask_bounds(mask)
    if bounds is None:
        raise MasktrtError("the initial mask is empty inside the frame",
                           "initialise with a mask that covers the target")
    return Target(tuple(float(v) for v in bounds), mask)  # type: ignore[arg-type]


def reply_region(result: Any, output: str, frame_hw: tuple[int, int]) -> Any:
    """The tracker's result as a TraX region of the `output` format."""
    trax = require("trax", "vot")
    if output == "rectangle":
        return trax.Rectangle.create(*(float(v) for v in result.xywh))
    if output == "polygon":
        return trax.Polygon.create([(float(x), float(y)) for x, y in result.polygon])
    mask = result.mask if result.mask is not None else box_mask(frame_hw, result)
    return _mask_region(trax, mask)


def _mask_region(trax: Any, mask: np.ndarray) -> Any:
    """The mask cropped to its tight box (TraX masks carry an offset); 1x1 empty if empty."""
    bounds = mask_bounds(mask)
    if bounds is None:
        return trax.Mask.create(np.zeros((1, 1), np.uint8))
    x, y, w, h = bounds
    patch = np.ascontiguousarray(mask[y:y + h, x:x + w] > 0, dtype=np.uint8)
    return trax.Mask.create(patch, x, y)


def frame_of(request: Any) -> np.ndarray:
    """The request's colour frame, read from the path TraX gives."""
    image = (request.image or {}).get("color")
    if not callable(getattr(image, "path", None)):  # trax.FileImage; we announce paths only
        raise MasktrtError("the client sent no colour frame by path",
                           "run the tracker from the VOT toolkit (images by path)")
    return read_frame(image.path())


class Session:
    """One target through the frames a client sends; the state lives between requests."""

    def __init__(self, core: Any, output: str) -> None:
        if output not in OUTPUTS:
            raise MasktrtError(f"--region {output} is not one of {', '.join(OUTPUTS)}",
                               "pass --region mask, polygon or rectangle")
        self.core, self.output, self.state, self.frames = core, output, None, 0

    def answer(self, request: Any) -> tuple[Any, dict[str, str]] | None:
        """The reply (region, properties) to an initialize or frame request; None on quit."""
        if request.type == "quit":
            return None
        frame = frame_of(request)
        result = self._initialize(frame, request) if request.type == "initialize" \
            else self._track(frame)
        self.frames += 1
        return reply_region(result, self.output, frame.shape[:2]), \
            {"confidence": f"{float(result.score):.6f}"}

    def _initialize(self, frame: np.ndarray, request: Any) -> Any:
        if not request.objects:
            raise MasktrtError("the initialize request carries no region",
                               "initialise with a rectangle, a polygon or a mask")
        target = target_of(request.objects[0][0], frame.shape[:2])
        self.state = self.core.init(frame, target.box, mask=target.mask)
        return _init_result(self.core, self.state, target)

    def _track(self, frame: np.ndarray) -> Any:
        if self.state is None:
            raise MasktrtError("the client sent a frame before initializing",
                               "send an initialize request with the target's region first")
        self.state, result = self.core.track(frame, self.state)
        return result


def _init_result(core: Any, state: Any, target: Target) -> Any:
    """The first frame's reply: the tracker's initial result (its given box; the box itself
    for a tracker without one) with the given mask if there was one. The toolkit records
    frame 0 as 'initialization' whatever comes back."""
    result = initial_result(core, state) or _box_result(target.box)
    return replace(result, mask=target.mask) if target.mask is not None else result


def _box_result(box: Box) -> FrameResult:
    x, y, w, h = box
    corners = np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], np.float32)
    return FrameResult(np.array([x + w / 2, y + h / 2]), np.array([w, h]), corners, 1.0, False)


def serve(session: Session, server: Any) -> int:
    """Answer `server`'s requests until the client quits; the number of frames answered. A
    MasktrtError quits the session with its message as the reason, then propagates."""
    try:
        while (reply := session.answer(server.wait())) is not None:
            server.status([reply])
    except MasktrtError as exc:
        _quit(server, str(exc))
        raise
    _quit(server, None)
    return session.frames


def _quit(server: Any, reason: str | None) -> None:
    """Close the session; a client that already hung up is not an error worth a traceback."""
    with contextlib.suppress(Exception):  # trax.TraxException once the client is gone
        server.quit(reason=reason)
