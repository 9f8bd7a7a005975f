"""The calibration set: exactly what the FP32 tracker feeds each subgraph, recorded while it tracks.

Quantisation ranges are only as good as the data they are measured on. Noise crops or resized
whole frames would give activation ranges the tracker never sees (no mean-colour padding at the
border, no target-centred context). So the FP32 tracker runs over real sequences and a recording
wrapper around its backend keeps every input it passes on:

- search: the 255 crop *paired with the kernels of its own target* (the correlation's two inputs
  must come from the same target, or the cls/loc ranges are those of a mismatch);
- refine: p0, p1, p2, corr and the position the tracker chose on that frame;
- template: the init crop, plus an exemplar crop cut with the tracker's own crop logic at the
  target state of every recorded frame (what `init` would cut there). One init per sequence would
  give the template graph two samples; these give it one per frame, with the same padding cases.

Arrays are copied to the host (NumPy) as they pass, so the set is independent of the backend.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from masktrt.errors import MasktrtError
from masktrt.runtime.backends.base import Backend, SearchOutput
from masktrt.specs.siammask import EXEMPLAR_SIZE
from masktrt.runtime.crop import crop_subwindow
from masktrt.runtime.contract import Contract, GraphSpec
from masktrt.runtime.sequences import Sequence, load_sequence
from masktrt.runtime.trackers.siammask import SiamMaskTracker, context_size
from masktrt.types import TargetState

Feeds = dict[str, np.ndarray]


def host(value: Any) -> np.ndarray:
    """A NumPy copy of an array, OrtValue or torch tensor (whatever the backend keeps)."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if hasattr(value, "numpy"):  # OrtValue, torch tensor on CPU
        return np.array(value.numpy(), copy=True)
    return np.array(value, copy=True)


@dataclass
class CalibrationSet:
    """Feeds per graph (input name -> array), in recording order, and where they came from."""

    feeds: dict[str, list[Feeds]] = field(
        default_factory=lambda: {"template": [], "search": [], "refine": []})
    frames: list[tuple[str, int]] = field(default_factory=list)  # (sequence, frame index)

    def count(self, graph: str) -> int:
        return len(self.feeds[graph])


class RecordingBackend:
    """Passes calls through to `inner` and records their inputs into `data` (host copies)."""

    def __init__(self, inner: Backend, data: CalibrationSet) -> None:
        self.inner = inner
        self.data = data
        self.name = f"recording({inner.name})"
        self._last_kernels: Feeds = {}

    def template(self, z: np.ndarray) -> Any:
        self.data.feeds["template"].append({"z": host(z)})
        return self.inner.template(z)

    def search(self, x: np.ndarray, kernels: Any) -> SearchOutput:
        paired = {name: host(value) for name, value in kernels.items()}
        self.data.feeds["search"].append({"x": host(x), **paired})
        return self.inner.search(x, kernels)

    def refine(self, features: Any, pos: tuple[int, int]) -> np.ndarray:
        feeds = {name: host(value) for name, value in features.items()}
        feeds["pos"] = np.asarray(pos, dtype=np.int64)
        self.data.feeds["refine"].append(feeds)
        return self.inner.refine(features, pos)


def exemplar_crop(frame: np.ndarray, state: TargetState) -> np.ndarray:
    """The 127 crop `SiamMaskTracker.init` would cut for the target in `state` (same rounding)."""
    s_z = round(context_size(state.size))
    return crop_subwindow(frame, state.center, EXEMPLAR_SIZE, s_z, state.avg_chans)


def record_sequence(tracker: SiamMaskTracker, data: CalibrationSet, seq: Sequence, frames: int) -> None:
    """Track frames 0..frames-1 of `seq`; every input of every call lands in `data`."""
    state = tracker.init(seq.frame(0), tuple(seq.init_box()))
    for index in range(1, min(frames, len(seq))):
        frame = seq.frame(index)
        data.feeds["template"].append({"z": exemplar_crop(frame, state)})
        state, _ = tracker.track(frame, state)
        data.frames.append((seq.name, index))


def record(backend: Backend, config, sequences: list[Path], frames_per_sequence: int) -> CalibrationSet:
    """Run the tracker on `backend` over each sequence's first frames and record its inputs.

    `frames_per_sequence` counts tracked frames plus the init frame, as `--max-frames` does.
    """
    if frames_per_sequence < 2:
        raise MasktrtError(f"--frames-per-sequence {frames_per_sequence} gives no tracked frame "
                           "to calibrate on", "pass 2 or more (frame 0 initialises the tracker)")
    data = CalibrationSet()
    recorder = RecordingBackend(backend, data)
    tracker = SiamMaskTracker(recorder, config)
    for path in sequences:
        record_sequence(tracker, data, load_sequence(path), frames_per_sequence)
    if not data.frames:
        raise MasktrtError(f"no frames to calibrate on in {[str(p) for p in sequences]} "
                           "(each sequence needs 2+ frames)",
                           "pass sequences with several frames and ground truth for frame 0")
    return data


def check_feeds(data: CalibrationSet, deploy: Contract) -> None:
    """Every recorded feed must match the graph's inputs in deploy.json (name, shape, dtype).

    A crop of another size (a graph exported for another geometry, a hand-made set) would be
    calibrated without complaint by ONNX Runtime up to the first reshape; fail here instead.
    """
    for graph, feeds in data.feeds.items():
        if not feeds:
            raise MasktrtError(f"the calibration set has no {graph} inputs",
                               "calibrate on sequences with at least 2 frames each")
        spec = deploy.graph(graph)
        for number, sample in enumerate(feeds):
            _check_sample(spec, sample, number)


def _check_sample(spec: GraphSpec, sample: Feeds, number: int) -> None:
    want = {t.name for t in spec.inputs}
    if set(sample) != want:
        raise MasktrtError(f"{spec.name} calibration sample {number} has inputs {sorted(sample)}",
                           f"{spec.name}.onnx takes {sorted(want)}")
    for tensor in spec.inputs:
        value = sample[tensor.name]
        if tuple(value.shape) != tensor.shape or str(value.dtype) != tensor.dtype:
            raise MasktrtError(
                f"{spec.name} calibration sample {number}: '{tensor.name}' is "
                f"{value.dtype}{list(value.shape)}, the graph takes {tensor.dtype}{list(tensor.shape)}",
                "record crops with this masktrt's tracker (crops of the exported geometry)")
