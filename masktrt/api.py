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

from masktrt.errors import MasktrtError
from masktrt.runtime.session import Tracker, open_tracker as open_session

FOLDER_OPTION = {"onnxruntime": "onnx_dir", "tensorrt": "engine_dir"}


def open_tracker(source: str | Path, backend: str | None = None, *, preset: str | None = None,
                 checkpoint: str | Path | None = None, **backend_options: Any) -> Tracker:
    """A tracker over deployed graphs (`source` = an export or engine folder, backend
    `onnxruntime` (the default) or `tensorrt`; a `masktrt deploy` folder runs the configuration
    it recommends) or over the PyTorch reference (`source` = a tracker name such as "siammask",
    backend `torch`, with `checkpoint`; needs the export extras). The folder's contract names
    the tracker and its preset (`preset` overrides the preset)."""
    if backend != "torch":
        source, backend = recommended(source, backend)
    if backend == "torch":
        return open_session("torch", tracker=str(source), preset=preset, checkpoint=checkpoint,
                            **backend_options)
    if backend in FOLDER_OPTION:
        return open_session(backend, preset=preset, **{FOLDER_OPTION[backend]: source},
                            **backend_options)
    raise MasktrtError(f"unknown backend '{backend}'", "choose onnxruntime, tensorrt or torch")


def recommended(source: str | Path, backend: str | None) -> tuple[Path, str]:
    """(folder, backend) to open: a deployment folder's recommendation, else `source` itself
    with `backend` (default onnxruntime)."""
    from masktrt.benchmarks.recommendation import read

    choice = read(Path(source)) if Path(source).is_dir() else None
    if choice is None:
        return Path(source), backend or "onnxruntime"
    if backend not in (None, choice.backend):
        raise MasktrtError(f"'{source}' recommends {choice.backend} {choice.precision}, not {backend}",
                           f"open its {backend} folder directly, e.g. {Path(source) / 'onnx-fp32'}")
    return Path(source) / choice.folder, choice.backend


__all__ = ["Tracker", "open_tracker"]
