"""N targets in one graph call (`track_many`) give exactly what N sequential trackers give.

Both trackers are exported with batch=dynamic at a reduced width (seeded random weights) and run
in ONNX Runtime on the CPU; a closed loop over real frames tracks N targets (the ground-truth box
and jittered copies) once with `track` per target and once with `track_many`, and every target's
box, score, mask and polygon must agree in every frame. The same holds with one frame per target
(`track_many(frames, states)`: targets of different sequences, frame sizes and frame offsets, as
a server's batch of streams). The batched graphs are also checked to run for N = 1, 3, 8 with
each target's rows equal to its batch-1 call.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from masktrt.errors import MasktrtError
from masktrt.export.deploy import random_source
from masktrt.export.onnx_export import ExportOptions, export_onnx
from tests.conftest import real_sequence

FRAMES = 10  # tracked frames after the init frame
COUNTS = (1, 3, 8)
BATCH = {"correlation": "unrolled", "batch": "dynamic"}
WIDTHS = {"siammask": 0.125, "oceanplus": 0.25}
SEQUENCE = "davis-dog"
# one target per stream: sequences of three frame sizes; the 5th.. targets reuse them 2 frames on
STREAMS = ("davis-dog", "vot-bag", "otb-crossing", "davis-blackswan")


def small_model(tracker: str):
    import torch

    from masktrt import registry

    torch.set_num_threads(1)
    side = registry.get(tracker).load_export()
    return side.load_model(None, 0, WIDTHS[tracker], 8)[0]


@pytest.fixture(scope="module", params=sorted(WIDTHS))
def batched_export(request, tmp_path_factory) -> tuple[str, Path]:
    tracker = request.param
    folder = tmp_path_factory.mktemp(f"{tracker}-batch")
    export_onnx(small_model(tracker), folder, random_source(0, 8),
                ExportOptions(tracker=tracker, options=BATCH))
    return tracker, folder


@pytest.fixture(scope="module")
def frames() -> tuple[list[np.ndarray], tuple[float, ...]]:
    from masktrt.runtime.sequences import load_sequence

    seq = load_sequence(real_sequence(SEQUENCE))
    return [seq.frame(i) for i in range(1 + FRAMES)], tuple(float(v) for v in seq.init_box())


def make(tracker: str, folder: Path):
    from masktrt.runtime.backends.onnxruntime import OnnxRuntimeRunner
    from masktrt.runtime.trackers import make_tracker

    return make_tracker(tracker, OnnxRuntimeRunner(folder, provider="cpu", threads=1))


def boxes(box: tuple[float, ...], count: int, frame: np.ndarray) -> list[tuple[float, ...]]:
    from masktrt.benchmarks.bench import jittered_boxes

    return jittered_boxes(box, count, frame.shape[:2])


def same(a, b) -> None:
    """One target's frame result from both paths: bit-identical numbers and masks."""
    np.testing.assert_array_equal(a.center, b.center)
    np.testing.assert_array_equal(a.size, b.size)
    np.testing.assert_array_equal(a.polygon, b.polygon)
    np.testing.assert_array_equal(a.mask, b.mask)
    assert (a.score, a.lost, a.best, a.invalid) == (b.score, b.lost, b.best, b.invalid)


@pytest.mark.parametrize("count", COUNTS)
def test_track_many_equals_sequential_trackers(batched_export, frames, count) -> None:
    tracker_name, folder = batched_export
    video, box = frames
    tracker = make(tracker_name, folder)
    starts = [tracker.init(video[0], b) for b in boxes(box, count, video[0])]
    one_by_one, together = list(starts), list(starts)
    for frame in video[1:]:
        pairs = [tracker.track(frame, s) for s in one_by_one]
        one_by_one = [p[0] for p in pairs]
        together, results = tracker.track_many(frame, together)
        assert len(results) == count
        for (_, expected), got in zip(pairs, results):
            same(got, expected)


@pytest.fixture(scope="module")
def streams() -> list[tuple[list[np.ndarray], tuple[float, ...]]]:
    """Up to 8 targets, each with its own frames: (frames from its start, its start box)."""
    from masktrt.runtime.sequences import load_sequence

    seqs = [load_sequence(real_sequence(name)) for name in STREAMS]
    found = []
    for k in range(max(COUNTS)):
        seq, start = seqs[k % len(seqs)], 2 * (k // len(seqs))
        found.append(([seq.frame(start + i) for i in range(1 + FRAMES)],
                      tuple(float(v) for v in seq.boxes[start])))
    return found


@pytest.mark.parametrize("count", COUNTS)
def test_track_many_with_a_frame_per_target_equals_sequential_trackers(batched_export, streams,
                                                                       count) -> None:
    """Targets of different streams (sequences, frame sizes, offsets) in one call per frame."""
    tracker = make(*batched_export)
    videos = [video for video, _ in streams[:count]]
    one_by_one = [tracker.init(video[0], box) for video, box in streams[:count]]
    together = list(one_by_one)
    for i in range(1, 1 + FRAMES):
        frames = [video[i] for video in videos]
        pairs = [tracker.track(f, s) for f, s in zip(frames, one_by_one)]
        one_by_one = [p[0] for p in pairs]
        together, results = tracker.track_many(frames, together)
        for (_, expected), got in zip(pairs, results):
            same(got, expected)


def test_one_frame_for_all_equals_that_frame_per_target(batched_export, frames) -> None:
    """The one-frame call is the frame-per-target call with the frame repeated."""
    tracker = make(*batched_export)
    video, box = frames
    starts = [tracker.init(video[0], b) for b in boxes(box, 3, video[0])]
    _, shared = tracker.track_many(video[1], starts)
    _, listed = tracker.track_many([video[1]] * 3, starts)
    _, stacked = tracker.track_many(np.stack([video[1]] * 3), starts)
    for a, b, c in zip(shared, listed, stacked):
        same(a, b)
        same(a, c)


def test_frames_must_align_with_the_states(batched_export, frames) -> None:
    tracker = make(*batched_export)
    video, box = frames
    starts = [tracker.init(video[0], b) for b in boxes(box, 3, video[0])]
    with pytest.raises(MasktrtError, match="2 frames for 3 targets"):
        tracker.track_many(video[1:3], starts)
    with pytest.raises(MasktrtError, match="frame size changed"):
        tracker.track_many([video[1], video[1][:100], video[1]], starts)
    with pytest.raises(MasktrtError, match="HxWx3 uint8"):
        tracker.track_many(video[1][..., 0], starts)


@pytest.mark.parametrize("count", COUNTS)
def test_batched_graph_rows_equal_batch_one_calls(batched_export, count) -> None:
    """ONNX Runtime runs the per-frame graphs at N = 1, 3, 8; each target's rows are its own
    batch-1 call (targets never mix)."""
    from masktrt.runtime.backends.onnxruntime import OnnxRuntimeRunner

    _, folder = batched_export
    runner = OnnxRuntimeRunner(folder, provider="cpu", threads=1)
    rng = np.random.default_rng(count)
    for graph in runner.contract.spec.batch_graphs:
        spec = runner.contract.graph(graph)
        feeds = {t.name: random_feed(rng, t, count) for t in spec.inputs}
        whole = runner.run(graph, feeds)
        for k in range(count):
            alone = runner.run(graph, {n: v[k:k + 1] for n, v in feeds.items()})
            for name, value in alone.items():
                np.testing.assert_array_equal(value, whole[name][k:k + 1])


def random_feed(rng: np.random.Generator, tensor, count: int) -> np.ndarray:
    """`count` targets' worth of an input: crops 0..255, features N(0, 1), cells on the map."""
    shape = (count,) + tuple(tensor.shape[1:])
    if tensor.dtype == "int64":
        return rng.integers(0, 25, shape).astype(np.int64)
    scale = 255.0 if tensor.name == "x" else 1.0
    return (rng.uniform(0, 1, shape) * scale).astype(np.float32)


def test_batch_needs_the_unrolled_correlation(tmp_path) -> None:
    with pytest.raises(MasktrtError, match="needs correlation=unrolled"):
        ExportOptions(options={"correlation": "dynamic", "batch": "dynamic"}).validate()
    with pytest.raises(MasktrtError, match="unknown batch"):
        ExportOptions(options={"correlation": "unrolled", "batch": "yes"}).validate()


def test_default_export_records_no_batch_option() -> None:
    assert "batch" not in ExportOptions().tracker_options()


def test_track_many_without_targets_and_on_a_batch_one_export(frames, tmp_path) -> None:
    """No targets: nothing to do. A batch-1 export: the same results through sequential calls."""
    video, box = frames
    export_onnx(small_model("siammask"), tmp_path, random_source(0, 8), ExportOptions())
    tracker = make("siammask", tmp_path)
    assert tracker.track_many(video[1], []) == ([], [])
    starts = [tracker.init(video[0], b) for b in boxes(box, 2, video[0])]
    _, results = tracker.track_many(video[1], starts)
    for start, got in zip(starts, results):
        same(got, tracker.track(video[1], start)[1])
    _, results = tracker.track_many([video[2], video[1]], starts)
    same(results[0], tracker.track(video[2], starts[0])[1])
    same(results[1], tracker.track(video[1], starts[1])[1])
