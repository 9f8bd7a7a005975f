"""The embeddable Python API: open a deployed tracker, init on a box, track frame by frame.

    import masktrt
    with masktrt.open_tracker("out/onnx", backend="onnxruntime") as tracker:
        tracker.init(first_frame, (x, y, w, h))
        result = tracker.track(frame)        # .box .polygon .mask .score .lost

`open_tracker` reads the contract (deploy.json) to learn which tracker the graphs belong to and
its preset, so the same call serves every registered tracker. The handle keeps the state of one
target for convenience; the explicit-state form stays available as `tracker.core`
(`state = core.init(frame, box)`, `state, result = core.track(frame, state)`) for replay and
many targets on one runner. Importing this module pulls in neither torch nor onnx.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from masktrt.errors import MasktrtError
from masktrt.runtime.backends import get_backend
from masktrt.runtime.trackers import make_tracker
from masktrt.types import FrameResult

FOLDER_OPTION = {"onnxruntime": "onnx_dir", "tensorrt": "engine_dir"}


class Tracker:
    """One target tracked through a sequence; owns its runner and closes it."""

    def __init__(self, runner: Any, core: Any) -> None:
        self.runner = runner
        self.core = core
        self.state: Any = None

    def init(self, frame: np.ndarray, box_xywh: tuple[float, float, float, float],
             mask: np.ndarray | None = None) -> FrameResult:
        """Start on `box_xywh` (top-left x, y, width, height in pixels) of `frame` (HxWx3 BGR);
        `mask` (HxW, nonzero = target) for trackers that start from one (OceanPlus)."""
        from masktrt.runtime.loop import init_call, initial_result

        self.state = init_call(self.core, frame, box_xywh, mask)()
        return initial_result(self.core, self.state, mask)

    def track(self, frame: np.ndarray) -> FrameResult:
        """The target in the next frame."""
        if self.state is None:
            raise MasktrtError("track() was called before init()",
                               "call tracker.init(first_frame, (x, y, w, h)) first")
        self.state, result = self.core.track(frame, self.state)
        return result

    def close(self) -> None:
        """Close the tracker's pixel ops, then the runner (this handle owns both)."""
        close = getattr(self.core, "close", None)
        if callable(close):
            close()
        self.runner.close()

    def __enter__(self) -> "Tracker":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_tracker(source: str | Path, backend: str = "onnxruntime", *, preset: str | None = None,
                 checkpoint: str | Path | None = None, **backend_options: Any) -> Tracker:
    """A tracker over deployed graphs (`source` = an export or engine folder, backend
    `onnxruntime` or `tensorrt`) or over the PyTorch reference (`source` = a tracker name such
    as "siammask", backend `torch`, with `checkpoint`; needs the export extras)."""
    if backend == "torch":
        runner = get_backend("torch", checkpoint=checkpoint, tracker=str(source), **backend_options)
        name = str(source)
    elif backend in FOLDER_OPTION:  # the runner read the tracker and preset its folder records
        runner = get_backend(backend, **{FOLDER_OPTION[backend]: source}, **backend_options)
        name, preset = runner.tracker, preset or runner.preset
    else:
        raise MasktrtError(f"unknown backend '{backend}'", "choose onnxruntime, tensorrt or torch")
    return Tracker(runner, make_tracker(name, runner, preset))
