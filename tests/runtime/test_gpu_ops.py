"""runtime.gpu_ops without a GPU: the choice of ops, the host path unchanged, and the device path's
plumbing (parameters, buffers, stream, mask clearing) run through the kernels' NumPy models."""
from __future__ import annotations

import numpy as np
import pytest
from tests.helpers.fake_numpy_runners import OracleRunner, synthetic_sequence
from tests.helpers.gpu_ops_fakes import STREAM, DeviceOracle, HostMemory, reference_kernels

import masktrt.kernels as kernels_pkg
from masktrt.errors import MasktrtError
from masktrt.kernels.paste_reference import PROB_TIE
from masktrt.trackers.siammask.spec import MASK, REFINE, preset
from masktrt.runtime.crop import crop_subwindow
from masktrt.runtime.gpu_ops import (DeviceIO, DeviceOps, DeviceTensorSpec, HostOps, ReferenceOps,
                                     choose_ops, device_io, io_problem)
from masktrt.runtime.mask import binarize, mask_polygon, paste_back, sigmoid
from masktrt.trackers.siammask.tracker import SiamMaskTracker

DAVIS = preset("davis")


def close_polygons(ref: np.ndarray, got: np.ndarray, tol: float = 0.5) -> bool:
    """Same rectangle up to corner order: every corner matched within tol px, one to one."""
    d = np.linalg.norm(ref[:, None, :].astype(np.float64) - got[None, :, :], axis=-1)
    return len(set(d.argmin(axis=1).tolist())) == 4 and float(d.min(axis=1).max()) <= tol


def run(tracker: SiamMaskTracker, frames, box):
    state = tracker.init(frames[0], box)
    results = []
    for f in frames[1:]:
        state, res = tracker.track(f, state)
        results.append(res)
    return results


def assert_same_tracking(want, got, check_masks: bool = True) -> None:
    """Centres identical (the crops are bit-exact); masks equal except at probability ties; polygons
    within 0.5 px."""
    for i, (a, b) in enumerate(zip(want, got)):
        np.testing.assert_array_equal(a.center, b.center, err_msg=f"frame {i}")
        np.testing.assert_array_equal(a.size, b.size, err_msg=f"frame {i}")
        assert a.best == b.best and a.extra["polygon_from_mask"] == b.extra["polygon_from_mask"], i
        if check_masks:
            diff = a.mask != b.mask
            assert np.all(np.abs(a.prob[diff] - DAVIS.seg_thr) < PROB_TIE), (i, int(diff.sum()))
        assert close_polygons(a.polygon, b.polygon), (i, a.polygon.tolist(), b.polygon.tolist())


def assert_steps_alike(ref: SiamMaskTracker, test: SiamMaskTracker, frames, box, net_tie: float,
                       polygons: bool = True) -> None:
    """Frame by frame from the reference's state (each tracker keeps its own kernels), so one
    network difference cannot compound: same cell, centres within 0.05 px, masks equal except
    where the probability is within `net_tie` of seg_thr, polygons within 0.5 px."""
    from dataclasses import replace

    ref_state, test_state = ref.init(frames[0], box), test.init(frames[0], box)
    for i, frame in enumerate(frames[1:]):
        new_ref, a = ref.track(frame, ref_state)
        _, b = test.track(frame, replace(ref_state, kernels=test_state.kernels))
        assert a.best == b.best, i
        np.testing.assert_allclose(b.center, a.center, atol=0.05, err_msg=f"frame {i}")
        diff = a.mask != b.mask
        assert np.all(np.abs(a.prob[diff] - DAVIS.seg_thr) < net_tie), (i, int(diff.sum()))
        if polygons and not diff.any():
            assert close_polygons(a.polygon, b.polygon), (i, a.polygon.tolist(), b.polygon.tolist())
        ref_state = new_ref


# ---------------------------------------------------------------- choice
def test_host_backends_get_host_ops_without_probing_cuda(monkeypatch):
    monkeypatch.setattr(kernels_pkg, "gpu_available", lambda: pytest.fail("CUDA probed for a host backend"))
    assert isinstance(SiamMaskTracker(OracleRunner(), DAVIS).ops, HostOps)
    assert isinstance(choose_ops(OracleRunner()), HostOps)


def test_without_a_gpu_a_device_backend_still_gets_host_ops(monkeypatch):
    monkeypatch.setattr(kernels_pkg, "gpu_available", lambda: False)
    backend = DeviceOracle(HostMemory())
    assert isinstance(choose_ops(backend), HostOps)
    with pytest.raises(MasktrtError) as exc:
        choose_ops(backend, prefer="device")
    assert "no CUDA device" in str(exc.value) and "\n" not in str(exc.value)
    with pytest.raises(MasktrtError, match="keeps its tensors on the host"):
        choose_ops(OracleRunner(), prefer="device")


def test_real_gpu_probe_here_gives_host_ops():
    if kernels_pkg.gpu_available():
        pytest.skip("a GPU is present")
    assert isinstance(choose_ops(DeviceOracle(HostMemory())), HostOps)


def test_forced_choices_and_unknown_name():
    assert isinstance(choose_ops(OracleRunner(), prefer="host"), HostOps)
    assert isinstance(choose_ops(OracleRunner(), prefer="reference"), ReferenceOps)
    with pytest.raises(MasktrtError, match="unknown ops 'gpu'"):
        choose_ops(OracleRunner(), prefer="gpu")


def test_unsupported_buffers_fall_back_to_host_ops(monkeypatch):
    monkeypatch.setattr(kernels_pkg, "gpu_available", lambda: True)
    backend = DeviceOracle(HostMemory())
    io = device_io(backend)
    half_logits = DeviceIO(io.stream, io.inputs, DeviceTensorSpec(io.logits.ptr, np.dtype(np.float16), io.logits.shape))
    backend.buffers[(REFINE, MASK)] = half_logits.logits
    assert device_io(backend) == half_logits
    assert "paste kernel reads 127x127 float32" in io_problem(half_logits)
    assert isinstance(choose_ops(backend), HostOps)
    int_input = DeviceIO(io.stream, {**io.inputs, "search": DeviceTensorSpec(1, np.dtype(np.uint8), (1, 3, 255, 255))},
                         io.logits)
    assert "writes float32/float16" in io_problem(int_input)
    nchw = DeviceIO(io.stream, {**io.inputs, "template": DeviceTensorSpec(1, np.dtype(np.float32), (1, 127, 127, 3))},
                    io.logits)
    assert "1x3xMxM" in io_problem(nchw)
    assert io_problem(io) is None


# ---------------------------------------------------------------- host path unchanged
def test_host_ops_are_the_official_functions():
    rng = np.random.default_rng(3)
    frame = rng.integers(0, 256, (200, 300, 3), dtype=np.uint8)
    avg = frame.reshape(-1, 3).mean(0, dtype=np.float64)
    ops = HostOps()
    got = ops.crop(frame, np.array([20.5, 190.0]), 255, 311, avg, "search")
    np.testing.assert_array_equal(got, crop_subwindow(frame, np.array([20.5, 190.0]), 255, 311, avg))
    logits = rng.normal(0, 4, (127, 127)).astype(np.float32)
    box, pos, fallback = (40.0, -30.0, 251.0, 251.0), (12, 9), (150.0, 100.0, 60.0, 40.0)
    post = ops.postprocess(logits, box, pos, (200, 300), 0.35, fallback)
    prob = paste_back(sigmoid(logits), box, pos, (200, 300))
    np.testing.assert_array_equal(post.prob, prob)
    np.testing.assert_array_equal(post.mask, binarize(prob, 0.35))
    polygon, from_mask = mask_polygon(binarize(prob, 0.35), fallback)
    np.testing.assert_array_equal(post.polygon, polygon)
    assert post.from_mask == from_mask


# ---------------------------------------------------------------- device path through the models
@pytest.fixture(scope="module")
def sequence():
    return synthetic_sequence(7)


@pytest.fixture(scope="module")
def host_results(sequence):
    frames, boxes = sequence
    return run(SiamMaskTracker(OracleRunner(), DAVIS, ops=HostOps()), frames, boxes[0])


def test_reference_ops_track_like_the_host_ops(sequence, host_results):
    frames, boxes = sequence
    got = run(SiamMaskTracker(OracleRunner(), DAVIS, ops=ReferenceOps()), frames, boxes[0])
    assert all(r.extra["polygon_from_mask"] for r in got)
    assert_same_tracking(host_results, got)


@pytest.mark.parametrize("search_dtype", [np.float32, np.float16])
def test_device_ops_plumbing_tracks_like_the_host_ops(sequence, host_results, search_dtype):
    frames, boxes = sequence
    mem = HostMemory()
    backend = DeviceOracle(mem, search_dtype)
    ops = DeviceOps(device_io(backend), want_mask=True, kernels=reference_kernels(mem), memory=mem)
    got = run(SiamMaskTracker(backend, DAVIS, ops=ops), frames, boxes[0])
    assert_same_tracking(host_results, got)
    assert mem.uploads == len(frames)  # the frame, once per frame; nothing else goes up
    assert ops._scratch.workspace.outside_clean  # the previous frame's mask was cleared
    h, w = frames[0].shape[:2]
    assert not mem.view(ops._scratch.mask, (h, w), np.uint8).any()  # all zero between frames
    assert all(r.prob is None for r in got)


def test_device_ops_without_mask_fetch_only_the_corners(sequence, host_results):
    frames, boxes = sequence
    mem = HostMemory()
    backend = DeviceOracle(mem)
    ops = DeviceOps(device_io(backend), want_mask=False, kernels=reference_kernels(mem), memory=mem)
    got = run(SiamMaskTracker(backend, DAVIS, ops=ops), frames, boxes[0])
    assert mem.downloads == 0 and all(r.mask is None for r in got)
    assert_same_tracking(host_results, got, check_masks=False)


def test_device_ops_refuse_host_logits_and_wrong_crop_size():
    mem = HostMemory()
    backend = DeviceOracle(mem)
    ops = DeviceOps(device_io(backend), kernels=reference_kernels(mem), memory=mem)
    with pytest.raises(MasktrtError, match="logits left on the device"):
        ops.postprocess(np.zeros((127, 127), np.float32), (0, 0, 255, 255), (12, 12), (100, 100), 0.35, (50, 50, 9, 9))
    frame = np.zeros((100, 100, 3), np.uint8)
    with pytest.raises(MasktrtError, match="takes 255x255 inputs, the tracker crops 127x127"):
        ops.crop(frame, np.array([50.0, 50.0]), 127, 80, np.zeros(3), "search")


def test_device_ops_refuse_unusable_buffers():
    mem = HostMemory()
    io = device_io(DeviceOracle(mem))
    bad = DeviceIO(STREAM, {"search": io.inputs["search"]}, io.logits)
    with pytest.raises(MasktrtError, match="no device buffer for the template input"):
        DeviceOps(bad, kernels=reference_kernels(mem), memory=mem)


def test_a_new_frame_size_frees_the_old_scratch_after_a_sync():
    """Issue 21 defect 5: a new frame size used to leave the old frame and mask buffers and the
    MBR workspace allocated until close(); a long-lived ops object fed many sizes grew without bound."""
    mem = HostMemory()
    ops = DeviceOps(device_io(DeviceOracle(mem)), kernels=reference_kernels(mem), memory=mem)
    held_before = set(mem.blocks)

    def crop(h: int, w: int):
        frame = np.zeros((h, w, 3), np.uint8)
        ops.crop(frame, np.array([w / 2, h / 2]), 127, 60, np.zeros(3), "template")
        return ops._scratch

    small = crop(100, 120)
    assert crop(100, 120) is small  # same size: reused, nothing freed
    assert not any(e[0] == "free" for e in mem.events)
    large = crop(200, 240)
    assert small.frame not in mem.blocks and small.mask not in mem.blocks and small.workspace.closed
    assert set(mem.blocks) == held_before | {large.frame, large.mask}  # one set of scratch, not two
    first_free = next(i for i, e in enumerate(mem.events) if e[0] == "free")
    assert mem.events[first_free - 1] == ("sync",)  # queued kernels are done before anything goes
    ops.close()
    assert large.workspace.closed and large.frame not in mem.blocks and ops._scratch is None
