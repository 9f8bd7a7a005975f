"""Host stand-ins for device memory and the three kernels, so DeviceOps' plumbing runs without a GPU.

HostMemory hands out integer "pointers" to NumPy byte blocks (filled with garbage, as cuMemAlloc
leaves them), and logs allocations, frees and stream synchronisations in order (`events`), so a
test can tell what is still held and that nothing is freed while the stream may read it; the fake kernels read and write those blocks through the kernels' NumPy models
(masktrt.kernels.*_reference) with exactly the parameters DeviceOps passes. DeviceOracle is the
OracleRunner behind device buffers (reads its inputs from the crop's buffer, writes logits to
its own output buffer), like the TensorRT runner.
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from tests.helpers.fake_numpy_runners import OracleRunner

from masktrt.kernels.crop_reference import crop_resize_reference
from masktrt.kernels.mbr_reference import MbrResult, largest_component_mbr
from masktrt.kernels.paste_reference import paste_mask_reference
from masktrt.runtime.backends.tensorrt_memory import DeviceTensor
from masktrt.runtime.gpu_ops import DeviceInput, DeviceKernels, DeviceTensorSpec
from masktrt.trackers.siammask.spec import (EXEMPLAR_SIZE, INSTANCE_SIZE, MASK, MASK_OUT_SIZE, REFINE, SEARCH,
                                    SEARCH_INPUT, TEMPLATE, TEMPLATE_INPUT)

STREAM = 77


class HostMemory:
    def __init__(self) -> None:
        self.blocks: dict[int, np.ndarray] = {}
        self._next = 1 << 20
        self.uploads = 0
        self.downloads = 0
        self.events: list[tuple] = []  # ("alloc", ptr) / ("free", ptr) / ("sync",)

    def alloc(self, nbytes: int) -> int:
        ptr = self._next
        self._next += nbytes + 4096
        self.blocks[ptr] = np.full(nbytes, 0xAB, np.uint8)
        self.events.append(("alloc", ptr))
        return ptr

    def free(self, ptr: int) -> None:
        del self.blocks[ptr]  # a double free or a foreign pointer raises KeyError
        self.events.append(("free", ptr))

    def synchronize(self) -> None:
        self.events.append(("sync",))

    def view(self, ptr: int, shape: tuple[int, ...], dtype) -> np.ndarray:
        n = int(np.prod(shape)) * np.dtype(dtype).itemsize
        return self.blocks[ptr][:n].view(dtype).reshape(shape)

    def upload(self, ptr: int, array: np.ndarray) -> None:
        data = np.ascontiguousarray(array).view(np.uint8).ravel()
        self.blocks[ptr][:data.size] = data
        self.uploads += 1

    def download(self, ptr: int, shape: tuple[int, ...], dtype) -> np.ndarray:
        self.downloads += 1
        return self.view(ptr, shape, dtype).copy()

    def zero(self, ptr: int, pitch: int, region: tuple[int, int, int, int]) -> None:
        x0, y0, x1, y1 = region
        self.blocks[ptr].reshape(-1, pitch)[y0:y1, x0:x1] = 0

    def close(self) -> None:
        pass


def reference_kernels(mem: HostMemory) -> DeviceKernels:
    """The launchers' signatures, executed by the NumPy models on HostMemory."""

    def crop(frame_ptr, frame_hw, pitch, p, out_ptr, half, stream):
        assert pitch == frame_hw[1] * 3 and stream == STREAM
        out = crop_resize_reference(mem.view(frame_ptr, tuple(frame_hw) + (3,), np.uint8), p,
                                    np.float16 if half else np.float32)
        mem.view(out_ptr, out.shape, out.dtype)[...] = out

    def paste(logits_ptr, prob_ptr, p, seg_thr, mask_ptr, pitch, previous, stream):
        assert previous is None and stream == STREAM and pitch == p.frame_hw[1]
        logits = mem.view(logits_ptr, (p.size, p.size), np.float32)
        x0, y0, x1, y1 = p.region
        full = paste_mask_reference(logits, p, seg_thr)
        mem.view(mask_ptr, p.frame_hw, np.uint8)[y0:y1, x0:x1] = full[y0:y1, x0:x1]
        return p.region

    def mbr_launch(mask_ptr, pitch, region, ws, stream):
        x0, y0, x1, y1 = region
        image = mem.view(mask_ptr, (ws.h, pitch), np.uint8)
        outside = image.copy()
        outside[y0:y1, x0:x1] = 0
        ws.outside_clean = not outside.any()  # the mask must be zero outside the searched region
        r = largest_component_mbr(image[y0:y1, x0:x1]) if x1 > x0 and y1 > y0 else \
            MbrResult(False, np.zeros((4, 2), np.float32), 0.0, -1)
        ws.result = MbrResult(r.found, r.corners + np.float32([x0, y0]), r.contour_area, r.root)

    mbr = SimpleNamespace(launch=mbr_launch, read=lambda ws, stream: ws.result)
    return DeviceKernels(SimpleNamespace(launch=crop), SimpleNamespace(launch=paste), mbr,
                         lambda h, w: FakeWorkspace(h, w, mem))


class FakeWorkspace:
    """The MBR workspace: records its result and whether it was closed (logged in mem.events)."""

    def __init__(self, h: int, w: int, mem: HostMemory) -> None:
        self.h, self.w, self.mem = h, w, mem
        self.result, self.outside_clean, self.closed = None, None, False
        mem.events.append(("workspace", id(self)))

    def close(self) -> None:
        assert not self.closed, "workspace closed twice"
        self.closed = True
        self.mem.events.append(("close_workspace", id(self)))


class DeviceOracle(OracleRunner):
    """OracleRunner behind device buffers, like the TensorRT runner: `device_buffer()` and
    `stream` expose its input and mask buffers; template/search read their input from the crop's
    buffer (a DeviceInput), refine writes the logits into its own buffer when `mask` is kept on
    the device."""

    name = "device-oracle"

    def __init__(self, mem: HostMemory, search_dtype=np.float32) -> None:
        super().__init__()
        self.mem = mem
        self.search_dtype = np.dtype(search_dtype)
        f32 = np.dtype(np.float32)
        self.buffers = {
            (TEMPLATE, TEMPLATE_INPUT): DeviceTensorSpec(mem.alloc(3 * EXEMPLAR_SIZE ** 2 * 4), f32,
                                                         (1, 3, EXEMPLAR_SIZE, EXEMPLAR_SIZE)),
            (SEARCH, SEARCH_INPUT): DeviceTensorSpec(mem.alloc(3 * INSTANCE_SIZE ** 2 * self.search_dtype.itemsize),
                                                     self.search_dtype, (1, 3, INSTANCE_SIZE, INSTANCE_SIZE)),
            (REFINE, MASK): DeviceTensorSpec(mem.alloc(MASK_OUT_SIZE ** 2 * 4), f32,
                                             (1, 1, MASK_OUT_SIZE, MASK_OUT_SIZE))}
        self.stream = STREAM

    def device_buffer(self, graph: str, tensor: str) -> DeviceTensorSpec:
        return self.buffers[(graph, tensor)]

    def _read(self, graph: str, tensor: str, value) -> np.ndarray:
        spec = self.buffers[(graph, tensor)]
        assert isinstance(value, DeviceInput) and value.ptr == spec.ptr
        return self.mem.view(spec.ptr, spec.shape, spec.dtype).astype(np.float32)

    def run(self, graph: str, feeds: dict, keep_on_device=()) -> dict:
        if graph == TEMPLATE:
            feeds = {**feeds, TEMPLATE_INPUT: self._read(TEMPLATE, TEMPLATE_INPUT, feeds[TEMPLATE_INPUT])}
        elif graph == SEARCH:
            feeds = {**feeds, SEARCH_INPUT: self._read(SEARCH, SEARCH_INPUT, feeds[SEARCH_INPUT])}
        out = super().run(graph, feeds, keep_on_device)
        if graph == REFINE and MASK in keep_on_device:
            spec = self.buffers[(REFINE, MASK)]
            self.mem.view(spec.ptr, spec.shape, spec.dtype)[...] = out[MASK]
            out[MASK] = DeviceTensor(MASK, spec.shape, spec.dtype, spec.ptr)
        return out
