"""runtime.gpu_ops on a GPU (skipped without one: never faked).

Budgets (tests/kernels): crops bit-identical; masks equal except pixels whose official probability
lies within PROB_TIE of seg_thr; polygons within 0.5 px (corner to corner, any order). Against ONNX
Runtime on the CPU the networks themselves differ (TensorRT FP32 ~1e-3 relative), so there masks
may also differ where the official probability is within NET_TIE of seg_thr, and polygons are
compared on frames whose masks agree.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tests.helpers.fake_numpy_runners import synthetic_sequence
from test_gpu_ops import DAVIS, assert_same_tracking, assert_steps_alike, close_polygons, run

from masktrt.kernels.paste_reference import PROB_TIE
from masktrt.runtime.gpu_ops import (DeviceIO, DeviceLogits, DeviceOps, DeviceTensorSpec, HostOps,
                                     choose_ops)
from masktrt.trackers.siammask.tracker import SiamMaskTracker

from tests.helpers.kernel_cases import device_ops_cases  # noqa: E402  (one cases module for CPU and GPU kernel tests)

pytestmark = pytest.mark.gpu
NET_TIE = 0.02


@pytest.fixture(scope="module")
def launch():
    from masktrt.kernels import launch as mod
    from masktrt.kernels.loader import ensure_context

    ensure_context(0)
    return mod


def test_device_ops_match_host_ops_on_plain_device_buffers(launch):
    f32 = np.dtype(np.float32)
    z, x = launch.DeviceBuffer(3 * 127 * 127 * 4), launch.DeviceBuffer(3 * 255 * 255 * 4)
    logits_dev = launch.DeviceBuffer(127 * 127 * 4)
    io = DeviceIO(0, {"template": DeviceTensorSpec(z.ptr, f32, (1, 3, 127, 127)),
                      "search": DeviceTensorSpec(x.ptr, f32, (1, 3, 255, 255))},
                  DeviceTensorSpec(logits_dev.ptr, f32, (1, 1, 127, 127)))
    ops, host = DeviceOps(io, want_mask=True), HostOps()
    h, w = 480, 640
    for i, c in enumerate(device_ops_cases(12, (h, w))):  # shared with the CPU kernel tests
        ops.crop(c.frame, c.center, 255, c.side, c.avg, "search")
        np.testing.assert_array_equal(x.download((1, 3, 255, 255), np.float32),
                                      host.crop(c.frame, c.center, 255, c.side, c.avg, "search"))
        logits_dev.upload(c.logits)
        got = ops.postprocess(DeviceLogits(logits_dev.ptr), c.crop_box, c.pos, (h, w), 0.35, c.fallback)
        want = host.postprocess(c.logits, c.crop_box, c.pos, (h, w), 0.35, c.fallback)
        diff = got.mask != want.mask
        assert np.all(np.abs(want.prob[diff] - 0.35) < PROB_TIE), (i, int(diff.sum()))
        assert got.from_mask == want.from_mask, i
        assert close_polygons(want.polygon, got.polygon), (i, want.polygon.tolist(), got.polygon.tolist())
    ops.close()
    for buf in (z, x, logits_dev):
        buf.close()


@pytest.fixture(scope="module")
def engines(tmp_path_factory) -> tuple[Path, Path]:
    torch = pytest.importorskip("torch")
    pytest.importorskip("tensorrt_rtx")
    onnx_export = pytest.importorskip("masktrt.export.onnx_export")
    from masktrt.export.deploy import random_source
    from masktrt.trackers.siammask.export.network import SiamMask
    from masktrt.engines import BuildRequest, build_engines

    torch.set_num_threads(1)
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("gpu_ops")
    onnx_dir = root / "dynamic-fp32"
    onnx_export.export_onnx(SiamMask(width=0.125), onnx_dir, random_source(0), onnx_export.ExportOptions())
    build_engines(BuildRequest(onnx_dir, out=root / "engines"))
    return onnx_dir, root / "engines"


def test_tensorrt_tracker_device_ops_match_its_host_ops(engines):
    """Same engines, only the pixel work differs: isolates the kernels' wiring."""
    from masktrt.runtime.backends import open_runner

    frames, boxes = synthetic_sequence(6)
    with open_runner("tensorrt", engine_dir=engines[1]) as trt:
        tracker = SiamMaskTracker(trt, DAVIS)
        assert isinstance(tracker.ops, DeviceOps)  # auto picks the kernels for TensorRT on a GPU
        want = run(SiamMaskTracker(trt, DAVIS, ops=HostOps()), frames, boxes[0])
        got = run(tracker, frames, boxes[0])
        lean_ops = choose_ops(trt, want_mask=False)
        lean = run(SiamMaskTracker(trt, DAVIS, ops=lean_ops), frames, boxes[0])
        tracker.ops.close(), lean_ops.close()
    assert_same_tracking(want, got)
    assert_same_tracking(want, lean, check_masks=False)
    assert all(r.mask is None for r in lean)


def test_tensorrt_with_device_ops_matches_onnxruntime_cpu(engines):
    """Frame by frame from the reference's state, so one network difference cannot compound."""
    from masktrt.runtime.backends import open_runner

    frames, boxes = synthetic_sequence(6)
    ort = open_runner("onnxruntime", onnx_dir=engines[0], provider="cpu")
    ref = SiamMaskTracker(ort, DAVIS, ops=HostOps())
    with open_runner("tensorrt", engine_dir=engines[1]) as trt:
        test = SiamMaskTracker(trt, DAVIS, ops=choose_ops(trt, prefer="device"))
        assert_steps_alike(ref, test, frames, boxes[0], NET_TIE)
        test.ops.close()
