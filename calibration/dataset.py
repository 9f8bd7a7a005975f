"""The calibration set: exactly what the FP32 tracker feeds each subgraph, recorded while it tracks.

Quantisation ranges are only as good as the data they are measured on. Noise crops or resized
whole frames would give activation ranges the tracker never sees (no mean-colour padding at the
border, no target-centred context). So the FP32 tracker runs over real sequences and a recording
wrapper around its backend keeps every input it passes on:

- search: the 255 crop *paired with the kernels of its own target* (the correlation's two inputs
  must come from the same target, or the cls/loc ranges are those of a mismatch);
- refine: p0, p1, p2, corr and the position the tracker chose on that frame;
- per-target graphs (template): the init crop, plus what the tracker's `calibration_feeds` cuts
  with its own crop logic at the target state of every recorded frame (what `init` would cut
  there). One init per sequence would give the template graph two samples; these give it one per
  frame, with the same padding cases. A tracker with alternative graphs (OceanPlus's two search
  sizes) also gives the one it did not choose a sample per frame, so both are calibrated.

Arrays are copied to the host (NumPy) as they pass, so the set is independent of the backend.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Collection, Mapping

import numpy as np

from masktrt.errors import MasktrtError
from masktrt.runtime import loop
from masktrt.runtime.backends.base import GraphRunner, RunnerBase
from masktrt.runtime.contract import Contract, GraphSpec
from masktrt.runtime.sequences import Sequence, load_sequence
from masktrt.runtime.session import bind

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

    feeds: dict[str, list[Feeds]] = field(default_factory=lambda: defaultdict(list))
    frames: list[tuple[str, int]] = field(default_factory=list)  # (sequence, frame index)

    def count(self, graph: str) -> int:
        return len(self.feeds.get(graph, ()))


class RecordingRunner(RunnerBase):
    """A GraphRunner that records every call's feeds into `data` (host copies, per graph) and
    passes the call on to `inner`. Closing it closes `inner`."""

    def __init__(self, inner: GraphRunner, data: CalibrationSet) -> None:
        self.inner = inner
        self.data = data
        self.name = f"recording({inner.name})"

    def run(self, graph: str, feeds: Mapping[str, Any],
            keep_on_device: Collection[str] = ()) -> dict[str, Any]:
        self.data.feeds[graph].append({name: host(value) for name, value in feeds.items()})
        return self.inner.run(graph, feeds, keep_on_device)

    def close(self) -> None:
        self.inner.close()
        super().close()


class ExemplarRecorder:
    """The tracker, plus: before each tracked frame, the extra samples the tracker itself cuts at
    the target's state (`tracker.calibration_feeds(frame, state)`: e.g. the exemplar crop `init`
    would cut there, or the search crop of an alternative graph) join the recorded inputs."""

    def __init__(self, tracker: Any, data: CalibrationSet) -> None:
        self.tracker, self.data = tracker, data

    def init(self, frame: np.ndarray, box: loop.Box, mask: np.ndarray | None = None) -> Any:
        return loop.init_call(self.tracker, frame, box, mask)()

    def track(self, frame: np.ndarray, state: Any) -> tuple[Any, Any]:
        for graph, feeds in self.tracker.calibration_feeds(frame, state).items():
            self.data.feeds[graph].append({name: host(value) for name, value in feeds.items()})
        return self.tracker.track(frame, state)

    def initial_result(self, state: Any) -> None:
        return None


def record_sequence(tracker: Any, data: CalibrationSet, seq: Sequence, frames: int) -> None:
    """Track frames 0..frames-1 of `seq`; every input of every call lands in `data`."""
    def tracked(step: loop.Step, _: loop.LoopSummary) -> None:
        if step.number > 0:
            data.frames.append((seq.name, step.index))

    loop.run(ExemplarRecorder(tracker, data), seq, tuple(seq.init_box()),
             max_frames=min(frames, len(seq)), on_step=tracked, mask=seq.init_mask())


def record(runner: GraphRunner, contract: Contract, sequences: list[Path],
           frames_per_sequence: int) -> CalibrationSet:
    """Run the contract's tracker on `runner` over each sequence's first frames and record its
    inputs. `frames_per_sequence` counts tracked frames plus the init frame, as `--max-frames`
    does. `runner` stays open (its owner closes it)."""
    if frames_per_sequence < 2:
        raise MasktrtError(f"--frames-per-sequence {frames_per_sequence} gives no tracked frame "
                           "to calibrate on", "pass 2 or more (frame 0 initialises the tracker)")
    data = CalibrationSet()
    with bind(RecordingRunner(runner, data), contract.tracker, contract.preset,
              owns_runner=False) as recording:
        for path in sequences:
            record_sequence(recording.core, data, load_sequence(path), frames_per_sequence)
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
    for graph in deploy.graph_names:
        feeds = data.feeds.get(graph)
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
