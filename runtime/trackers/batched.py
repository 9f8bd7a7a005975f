"""Several targets in one graph call: the driver SiamMask's and OceanPlus's
`track_many(frames, states) -> (states, results)` share.

`track_many` is defined as N calls of `track(frame_k, state_k)`, made at once: the same states
and results, in the order of `states`. `frames` is one frame (all targets in it: several objects
of one camera) or one frame per state (targets of different streams: a server's batch), because
a target's search only reads its own crop, so crops cut from different frames stack as well as
crops of one frame. On an export with the `batch=dynamic` option the targets' crops are cut into
one NxCxSxS buffer, their per-target tensors (kernels, template state) are stacked along the
batch, the per-frame graph runs once per group of at most BATCH_MAX targets that share a graph,
and the candidate selection runs over all of them as arrays; paste-back stays per target, on the
target's own frame size. Each tracker supplies two hooks:

    batch_key(state) -> str                          the graph the target's search runs (its group)
    track_batch(frames, states) -> [(state, result)] one batched step of <= BATCH_MAX targets,
                                                     frames[k] the frame of states[k]

On any other export (batch 1), or with pixel ops that keep buffers on a device, it falls back to
the sequential calls, so callers (a serving layer) can always call `track_many`.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from masktrt.errors import MasktrtError
from masktrt.runtime.trackers.checks import check_frame, check_same_size
from masktrt.specs.base import BATCH_MAX, batched
from masktrt.types import FrameResult

HOST_OPS = ("host", "reference")  # pixel ops whose crops and logits live on the host


def runner_batched(runner: Any) -> bool:
    """Whether the runner's contract has batched per-frame graphs (export option batch=dynamic).
    Read from the contract alone, so it holds for every runner: ONNX Runtime (deploy.json) and
    TensorRT (the engines' metadata), whose runner sets N per call under its profiles."""
    contract = getattr(runner, "contract", None)
    return contract is not None and batched(getattr(contract, "options", None))


def host(value: Any) -> np.ndarray:
    """A runner's value (NumPy array, ONNX Runtime OrtValue on the CPU) as a NumPy array."""
    return value.numpy() if hasattr(value, "numpy") and not isinstance(value, np.ndarray) else \
        np.asarray(value)


def stack(values: Sequence[Any]) -> np.ndarray | list[Any]:
    """Per-target 1x... tensors as one Nx... batch (target order kept). Device values a runner
    kept (TensorRT buffers: neither arrays nor `.numpy()`) stay a list: that runner stacks them
    on the device, never through the host."""
    if any(not isinstance(v, np.ndarray) and not hasattr(v, "numpy") for v in values):
        return list(values)
    return np.concatenate([host(v) for v in values])


def row(outputs: Mapping[str, Any], k: int) -> dict[str, Any]:
    """Target k's slice (1x...) of every batched output, as a batch-1 call would return it."""
    return {name: value[k:k + 1] for name, value in outputs.items()}


def crop_batch(crop: Callable[[int], np.ndarray], count: int) -> np.ndarray:
    """The count targets' crops in one Nx3xSxS float32 buffer, filled in one pass over them."""
    first = host(crop(0))
    batch = np.empty((count,) + first.shape[1:], dtype=np.float32)
    batch[0] = first[0]
    for k in range(1, count):
        batch[k] = host(crop(k))[0]
    return batch


def chunks(indices: Sequence[int], size: int = BATCH_MAX) -> list[list[int]]:
    """`indices` in runs of at most `size` (the engines' profile maximum)."""
    return [list(indices[i:i + size]) for i in range(0, len(indices), size)]


def groups(states: Sequence[Any], key: Callable[[Any], str]) -> dict[str, list[int]]:
    """Target indices by graph, in first-seen order: one batched call serves one graph."""
    found: dict[str, list[int]] = {}
    for i, state in enumerate(states):
        found.setdefault(key(state), []).append(i)
    return found


def can_batch(tracker: Any) -> bool:
    """Batched calls need a batched export and host-side crops and logits."""
    return runner_batched(tracker.runner) and getattr(tracker.ops, "name", "") in HOST_OPS


def frames_of(frames: np.ndarray | Sequence[np.ndarray], count: int) -> list[np.ndarray]:
    """One frame per target: a single HxWx3 frame serves every target, a sequence must align
    with the states (a silent broadcast of a short list would track targets on wrong frames)."""
    if isinstance(frames, np.ndarray) and frames.ndim != 4:  # one frame (NxHxWx3: N frames)
        check_frame(frames)
        return [frames] * count
    frames = list(frames)
    if len(frames) != count:
        raise MasktrtError(f"{len(frames)} frames for {count} targets",
                           "pass one frame for all targets, or exactly one frame per state")
    return frames


def check_pairs(frames: list[np.ndarray], states: list[Any]) -> None:
    """Every frame valid and of its target's size (each distinct frame checked once)."""
    for frame in {id(f): f for f in frames}.values():
        check_frame(frame)
    for frame, state in zip(frames, states):
        check_same_size(frame, state)


def track_many(tracker: Any, frames: np.ndarray | Sequence[np.ndarray], states: Sequence[Any]
               ) -> tuple[list[Any], list[FrameResult]]:
    """The driver behind each tracker's `track_many` (module docstring)."""
    states = list(states)
    frames = frames_of(frames, len(states))
    check_pairs(frames, states)
    if not can_batch(tracker):
        pairs = [tracker.track(f, s) for f, s in zip(frames, states)]
    else:
        pairs = [None] * len(states)
        for indices in groups(states, tracker.batch_key).values():
            for part in chunks(indices):
                done = tracker.track_batch([frames[i] for i in part], [states[i] for i in part])
                for i, pair in zip(part, done):
                    pairs[i] = pair
    return [p[0] for p in pairs], [p[1] for p in pairs]
