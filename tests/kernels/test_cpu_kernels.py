"""Every __global__ function of kernels/*.cu executed on the CPU (kernels/host_module.py) against its
reference, through the real launchers of masktrt.kernels.launch, on the cases the GPU tests use
(kernel_cases.py). The summary line at the end of the log counts kernels, launches and cases."""
from __future__ import annotations

import numpy as np
import pytest

from masktrt.kernels import launch
from masktrt.kernels.host_module import HostBuffer, HostKernelModule

from tests.helpers.kernel_cases import (check_crop, check_mbr, check_paste, crop_cases, mbr_masks, paste_sequence,
                          roi_case, special_scale_cases)
from tests.helpers.mbr_cases import degenerate_masks

MODULES: dict[str, HostKernelModule] = {}


def module(name: str) -> HostKernelModule:
    """One library per source for the session (built once, then from the cache)."""
    if name not in MODULES:
        MODULES[name] = HostKernelModule(name)
    return MODULES[name]


def host_array(array: np.ndarray) -> HostBuffer:
    buf = HostBuffer(array.nbytes)
    buf.upload(array)
    return buf


def run_crop(kernel: launch.CropResizeKernel, case, half: bool) -> np.ndarray:
    h, w = case.frame.shape[:2]
    frame = host_array(case.frame)
    out = HostBuffer(3 * case.model ** 2 * (2 if half else 4))
    kernel.launch(frame.ptr, (h, w), w * 3, case.params, out.ptr, half)
    return out.download((1, 3, case.model, case.model), np.float16 if half else np.float32)


def run_paste_sequence(kernel: launch.PasteMaskKernel, cases, check) -> None:
    """Consecutive calls into one persistent mask, as the tracker makes them."""
    h, w = cases[0].hw
    mask, logits, prob = HostBuffer(h * w), HostBuffer(127 * 127 * 4), HostBuffer(127 * 127 * 4)
    previous = None
    for case in cases:
        logits.upload(case.logits)
        previous = kernel.launch(logits.ptr, prob.ptr, case.params, case.thr, mask.ptr, w, previous)
        check(case, mask.download((h, w), np.uint8))


def run_mbr(kernel: launch.MbrKernel, mask: np.ndarray, region=None, ws=None):
    h, w = mask.shape
    dev = host_array(np.ascontiguousarray(mask))
    ws = ws or launch.MbrWorkspace.allocate(h, w, HostBuffer)
    kernel.launch(dev.ptr, w, region or (0, 0, w, h), ws)
    return kernel.read(ws)


# ---------------------------------------------------------------- crop_resize_bgr
@pytest.mark.parametrize("half", [False, True])
def test_crop_resize_on_random_geometry(half):
    kernel = launch.CropResizeKernel(module("crop_resize"))
    for case in crop_cases("fast", seed=int(half)):
        check_crop(case, run_crop(kernel, case, half), half)


def test_crop_resize_special_scales():
    kernel = launch.CropResizeKernel(module("crop_resize"))
    for case in special_scale_cases():
        check_crop(case, run_crop(kernel, case, False), False)


@pytest.mark.slow
@pytest.mark.parametrize("half", [False, True])
def test_crop_resize_1080p_and_4k(half):
    kernel = launch.CropResizeKernel(module("crop_resize"))
    for case in crop_cases("slow", count=6, seed=10 + int(half)):
        check_crop(case, run_crop(kernel, case, half), half)


# ---------------------------------------------------------------- sigmoid_map + paste_mask
def test_paste_mask_sequence_clears_the_previous_region():
    run_paste_sequence(launch.PasteMaskKernel(module("paste_mask")), paste_sequence(), check_paste)


@pytest.mark.parametrize("hw", [(480, 854), (97, 131)])
def test_paste_mask_other_frame_sizes(hw):
    run_paste_sequence(launch.PasteMaskKernel(module("paste_mask")), paste_sequence(hw, 12, hw[0]), check_paste)


@pytest.mark.slow
@pytest.mark.parametrize("hw", [(1080, 1920), (2160, 3840)])
def test_paste_mask_1080p_and_4k(hw):
    run_paste_sequence(launch.PasteMaskKernel(module("paste_mask")), paste_sequence(hw, 8, hw[1]), check_paste)


# ---------------------------------------------------------------- the seven MBR kernels
def test_mbr_random_and_degenerate_masks():
    kernel = launch.MbrKernel(module("mbr"))
    for mask in mbr_masks("fast"):
        check_mbr(mask, run_mbr(kernel, mask))


def test_mbr_reference_test_sizes():
    kernel = launch.MbrKernel(module("mbr"))
    for hw in [(40, 40), (300, 400)]:
        for mask in degenerate_masks(*hw).values():
            check_mbr(mask, run_mbr(kernel, mask))


def test_mbr_region_of_interest_offsets_corners():
    mask, region = roi_case()
    got = run_mbr(launch.MbrKernel(module("mbr")), mask, region)
    x0, y0, x1, y1 = region
    check_mbr(mask[y0:y1, x0:x1], got, offset=(x0, y0))


def test_mbr_workspace_is_reused_across_sizes():
    kernel = launch.MbrKernel(module("mbr"))
    ws = launch.MbrWorkspace.allocate(480, 640, HostBuffer)
    for mask in mbr_masks("fast")[::7]:
        check_mbr(mask, run_mbr(kernel, mask, ws=ws))


@pytest.mark.slow
def test_mbr_1080p_and_4k():
    kernel = launch.MbrKernel(module("mbr"))
    for mask in mbr_masks("slow"):
        check_mbr(mask, run_mbr(kernel, mask))


# ---------------------------------------------------------------- runtime.gpu_ops on the CPU kernels
class HostMemory:
    """DeviceOps' memory seam (runtime.gpu_ops.DriverMemory's calls) over host buffers."""

    def __init__(self) -> None:
        self.buffers: dict[int, HostBuffer] = {}

    def alloc(self, nbytes: int) -> int:
        buf = HostBuffer(nbytes)
        self.buffers[buf.ptr] = buf
        return buf.ptr

    def free(self, ptr: int) -> None:
        self.buffers.pop(ptr)

    def synchronize(self) -> None:
        pass

    def upload(self, ptr: int, array: np.ndarray) -> None:
        self.buffers[ptr].upload(array)

    def download(self, ptr: int, shape, dtype) -> np.ndarray:
        return self.buffers[ptr].download(shape, dtype)

    def zero(self, ptr: int, pitch: int, region) -> None:
        x0, y0, x1, y1 = region
        for y in range(y0, y1):
            module("mbr").memset_d8(ptr + y * pitch + x0, 0, x1 - x0)

    def close(self) -> None:
        self.buffers.clear()


def test_device_ops_cases_through_runtime_gpu_ops():
    """tests/runtime/test_gpu_ops_gpu.py's cases: DeviceOps (the runtime's GPU path) on these kernels."""
    from masktrt.kernels.paste_reference import PROB_TIE
    from masktrt.runtime.gpu_ops import DeviceIO, DeviceKernels, DeviceLogits, DeviceOps, DeviceTensorSpec, HostOps

    from tests.helpers.kernel_cases import RUN_LOG, device_ops_cases

    f32, mem = np.dtype(np.float32), HostMemory()
    x, logits = HostBuffer(3 * 255 * 255 * 4), HostBuffer(127 * 127 * 4)
    io = DeviceIO(0, {"template": DeviceTensorSpec(mem.alloc(3 * 127 * 127 * 4), f32, (1, 3, 127, 127)),
                      "search": DeviceTensorSpec(x.ptr, f32, (1, 3, 255, 255))},
                  DeviceTensorSpec(logits.ptr, f32, (1, 1, 127, 127)))
    kernels = DeviceKernels(launch.CropResizeKernel(module("crop_resize")), launch.PasteMaskKernel(module("paste_mask")),
                            launch.MbrKernel(module("mbr")),
                            lambda h, w: launch.MbrWorkspace.allocate(h, w, HostBuffer))
    ops, host = DeviceOps(io, want_mask=True, kernels=kernels, memory=mem), HostOps()
    for i, c in enumerate(device_ops_cases(12, (480, 640))):
        ops.crop(c.frame, c.center, 255, c.side, c.avg, "search")
        np.testing.assert_array_equal(x.download((1, 3, 255, 255), np.float32),
                                      host.crop(c.frame, c.center, 255, c.side, c.avg, "search"))
        logits.upload(c.logits)
        got = ops.postprocess(DeviceLogits(logits.ptr), c.crop_box, c.pos, (480, 640), 0.35, c.fallback)
        want = host.postprocess(c.logits, c.crop_box, c.pos, (480, 640), 0.35, c.fallback)
        diff = got.mask != want.mask
        assert np.all(np.abs(want.prob[diff] - 0.35) < PROB_TIE), (i, int(diff.sum()))
        assert got.from_mask == want.from_mask, i
        assert np.abs(np.sort(got.polygon.reshape(-1, 2), 0) - np.sort(want.polygon.reshape(-1, 2), 0)).max() < 0.5, i
        RUN_LOG["device_ops"] += 1
    ops.close()


# ---------------------------------------------------------------- coverage of the sources
def test_every_global_function_ran():
    """Runs last in this module: every entry of every source was launched at least once."""
    for name in ("crop_resize", "paste_mask", "mbr"):
        mod = module(name)
        assert mod.launches_by_kernel.keys() == set(mod.entries), (name, dict(mod.launches_by_kernel))
