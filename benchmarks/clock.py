"""Stage clocks for the tracker benchmark and the statistics reported from them.

The host clock is `time.perf_counter` around each stage: what a caller waits for. Where a GPU
runs the stage, CUDA events are recorded around it as well (device time; the host time still
includes launch and copy overhead), and resolved once the frame is done so that recording an
event never waits for the GPU mid-frame.
"""
from __future__ import annotations

import time
from collections import defaultdict
from contextlib import contextmanager
from typing import Any, Iterator, Protocol, Sequence

import numpy as np

PERCENTILES = (50, 90, 99)


def summarize(samples_ms: Sequence[float]) -> dict[str, Any]:
    """n, p50/p90/p99 (linear interpolation, NumPy's default), mean, min, max in ms, and fps.

    fps is 1000 / mean: the sustained rate of back-to-back calls, which is what a tracker
    running through a video achieves; a percentile-based rate would overstate it."""
    values = np.asarray(samples_ms, dtype=np.float64)
    if values.size == 0:
        return {"n": 0, "p50_ms": None, "p90_ms": None, "p99_ms": None, "mean_ms": None,
                "min_ms": None, "max_ms": None, "fps": None}
    p50, p90, p99 = np.percentile(values, PERCENTILES)
    mean = float(values.mean())
    return {"n": int(values.size), "p50_ms": float(p50), "p90_ms": float(p90),
            "p99_ms": float(p99), "mean_ms": mean, "min_ms": float(values.min()),
            "max_ms": float(values.max()), "fps": 1000.0 / mean if mean > 0 else None}


class DeviceEvents(Protocol):
    """A pair of GPU timestamps around a stage; `elapsed_ms` waits for the second one."""

    def record(self) -> Any: ...

    def elapsed_ms(self, start: Any, end: Any) -> float: ...


class TorchCudaEvents:
    """torch.cuda.Event on the current stream (the torch backends' stream)."""

    def __init__(self) -> None:
        import torch

        self._torch = torch

    def record(self) -> Any:
        event = self._torch.cuda.Event(enable_timing=True)
        event.record()
        return event

    def elapsed_ms(self, start: Any, end: Any) -> float:
        end.synchronize()
        return float(start.elapsed_time(end))


class CudaRuntimeEvents:
    """cudaEvent_t on the legacy default stream (cuda-python), for ONNX Runtime CUDA/TensorRT.

    The legacy default stream waits for work on every blocking stream, so an event recorded on
    it after a stage marks the end of that stage's GPU work whichever stream the backend uses."""

    def __init__(self) -> None:
        from cuda.bindings import runtime as cudart

        self._rt = cudart

    def record(self) -> Any:
        err, event = self._rt.cudaEventCreate()
        if int(err) != 0:
            raise RuntimeError(f"cudaEventCreate failed ({err})")
        self._rt.cudaEventRecord(event, 0)
        return event

    def elapsed_ms(self, start: Any, end: Any) -> float:
        self._rt.cudaEventSynchronize(end)
        err, ms = self._rt.cudaEventElapsedTime(start, end)
        self._rt.cudaEventDestroy(start)
        self._rt.cudaEventDestroy(end)
        return float(ms) if int(err) == 0 else float("nan")


class StageClock:
    """The tracker's `timer`: per-stage host times (ms), plus device times when given events.

    `phase` ("init" or "track") keys the samples, since both phases crop. Samples are kept only
    while `recording` is True, so warm-up frames run through the same code untimed."""

    def __init__(self, events: DeviceEvents | None = None) -> None:
        self.events = events
        self.phase = "track"
        self.recording = False
        self.host: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        self.device: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        self._pending: list[tuple[str, str, Any, Any]] = []

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        start_event = self.events.record() if self.events else None
        start = time.perf_counter()
        try:
            yield
        finally:
            elapsed = (time.perf_counter() - start) * 1e3
            if self.events:
                self._pending.append((self.phase, stage, start_event, self.events.record()))
            if self.recording:
                self.host[self.phase][stage].append(elapsed)

    def add(self, stage: str, ms: float) -> None:
        """A sample measured outside the tracker (the whole call: 'total')."""
        if self.recording:
            self.host[self.phase][stage].append(ms)

    def end_frame(self) -> None:
        """Resolve this frame's device events (waits for the GPU once, after the frame)."""
        pending, self._pending = self._pending, []
        for phase, stage, start, end in pending:
            ms = self.events.elapsed_ms(start, end)  # also frees the events of warm-up frames
            if self.recording:
                self.device[phase][stage].append(ms)

    def stats(self, phase: str, device: bool = False) -> dict[str, dict[str, Any]]:
        table = self.device if device else self.host
        return {stage: summarize(values) for stage, values in table[phase].items()}


def timed_ms(fn: Any, *args: Any) -> tuple[Any, float]:
    """(fn(*args), wall milliseconds)."""
    start = time.perf_counter()
    result = fn(*args)
    return result, (time.perf_counter() - start) * 1e3
