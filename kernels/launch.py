"""Python launchers of the three kernels: device pointers and a stream in, results on the device.

The runtime calls these when `gpu_available()`; otherwise it calls the references
(crop_subwindow, runtime.mask), which define the same results. Every launcher is asynchronous on
the caller's stream; only MbrKernel.read() synchronises, to bring 11 floats to the host.
Pointers are plain ints (what TensorRT's IO binding, ORT's IO binding and cuMemAlloc give).
"""
from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from masktrt.errors import MasktrtError
from masktrt.geometry import MIN_CONTOUR_AREA
from masktrt.kernels.crop_reference import CropParams
from masktrt.kernels.loader import (KernelModule, _check, _driver, c_double, c_float, c_int,
                                    c_longlong, c_ptr)
from masktrt.kernels.mbr_reference import MbrResult
from masktrt.kernels.paste_reference import PasteParams

Region = tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive)


def _blocks(n: int, block: int) -> int:
    return max(1, (n + block - 1) // block)


class DeviceBuffer:
    """cuMemAlloc'd bytes, freed by close(); for workspaces and tests (engines bring their own)."""

    def __init__(self, nbytes: int) -> None:
        self.nbytes = int(nbytes)
        self.ptr = int(_check(_driver().cuMemAlloc(max(self.nbytes, 1)), "cuMemAlloc"))

    def upload(self, array: np.ndarray, stream: int = 0) -> None:
        data = np.ascontiguousarray(array)
        _check(_driver().cuMemcpyHtoDAsync(self.ptr, data.ctypes.data, data.nbytes, _driver().CUstream(stream)), "HtoD")
        _check(_driver().cuStreamSynchronize(_driver().CUstream(stream)), "cuStreamSynchronize")

    def download(self, shape: tuple[int, ...], dtype: type, stream: int = 0) -> np.ndarray:
        out = np.empty(shape, dtype)
        _check(_driver().cuMemcpyDtoHAsync(out.ctypes.data, self.ptr, out.nbytes, _driver().CUstream(stream)), "DtoH")
        _check(_driver().cuStreamSynchronize(_driver().CUstream(stream)), "cuStreamSynchronize")
        return out

    def close(self) -> None:
        if self.ptr:
            _driver().cuMemFree(self.ptr)
            self.ptr = 0


class CropResizeKernel:
    """Frame (uint8 HWC BGR, device) -> engine input (1x3xMxM float32/float16, device)."""

    def __init__(self, module: KernelModule | None = None) -> None:
        self.module = module or KernelModule("crop_resize")

    def launch(self, frame_ptr: int, frame_hw: tuple[int, int], frame_pitch: int, p: CropParams,
               out_ptr: int, half: bool = False, stream: int = 0) -> None:
        m = p.model_size
        self.module.launch("crop_resize_bgr", (_blocks(m, 16), _blocks(m, 16), 1), (16, 16, 1), [
            (frame_ptr, c_ptr), (frame_hw[0], c_int), (frame_hw[1], c_int), (frame_pitch, c_longlong),
            (p.xmin, c_int), (p.ymin, c_int), (p.source_size, c_int), (m, c_int),
            (1.0 / (m / p.source_size), c_double),
            (p.pad[0], c_int), (p.pad[1], c_int), (p.pad[2], c_int), (out_ptr, c_ptr), (int(half), c_int)],
            stream)


def union_region(a: Region | None, b: Region) -> Region:
    if a is None or a[2] <= a[0] or a[3] <= a[1]:
        return b
    if b[2] <= b[0] or b[3] <= b[1]:
        return a
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


class PasteMaskKernel:
    """127x127 logits (device) -> uint8 {0,1} frame mask (device), writing only what can change.

    The mask must be zeroed once by the caller; each call rewrites the union of this frame's
    cover and `previous` (the region the previous call returned), so stale pixels are cleared
    without touching the rest of the frame. The caller keeps the returned region.
    """

    def __init__(self, module: KernelModule | None = None) -> None:
        self.module = module or KernelModule("paste_mask")

    def launch(self, logits_ptr: int, prob_scratch_ptr: int, p: PasteParams, seg_thr: float,
               mask_ptr: int, mask_pitch: int, previous: Region | None = None, stream: int = 0) -> Region:
        n2 = p.size * p.size
        self.module.launch("sigmoid_map", (_blocks(n2, 256), 1, 1), (256, 1, 1),
                           [(logits_ptr, c_ptr), (prob_scratch_ptr, c_ptr), (n2, c_int)], stream)
        write = union_region(previous, p.region)
        wx0, wy0, wx1, wy1 = write
        if wx1 > wx0 and wy1 > wy0:
            cx0, cy0, cx1, cy1 = p.region
            self.module.launch("paste_mask", (_blocks(wx1 - wx0, 32), _blocks(wy1 - wy0, 8), 1), (32, 8, 1), [
                (prob_scratch_ptr, c_ptr), (p.size, c_int), (p.m0, c_float), (p.m2, c_float),
                (p.m4, c_float), (p.m5, c_float), (seg_thr, c_float), (mask_ptr, c_ptr),
                (mask_pitch, c_longlong), (wx0, c_int), (wy0, c_int), (wx1, c_int), (wy1, c_int),
                (cx0, c_int), (cy0, c_int), (cx1, c_int), (cy1, c_int)], stream)
        return p.region


@dataclass
class MbrWorkspace:
    """Device scratch for MbrKernel, sized once for the largest region (explicit, caller-owned)."""

    max_h: int
    max_w: int
    buffers: dict[str, Any]  # DeviceBuffer, or host buffers for the CPU execution layer

    @classmethod
    def allocate(cls, max_h: int, max_w: int, buffer: Callable[[int], Any] | None = None) -> "MbrWorkspace":
        """`buffer(nbytes)` makes each buffer: DeviceBuffer by default, host memory for the CPU layer."""
        n = max_h * max_w
        sizes = {"parent": 4 * (n + 1), "area2": 8 * n, "best": 8, "rowmin": 4 * max_h,
                 "rowmax": 4 * max_h, "pts": 8 * 2 * max_h, "hull": 8 * (2 * max_h + 1), "out": 4 * 12}
        make = buffer or DeviceBuffer
        return cls(max_h, max_w, {k: make(v) for k, v in sizes.items()})

    def ptr(self, name: str) -> int:
        return self.buffers[name].ptr

    def close(self) -> None:
        for buf in self.buffers.values():
            buf.close()


class MbrKernel:
    """Largest component's minimum-area rectangle of a device mask, within a region."""

    def __init__(self, module: KernelModule | None = None) -> None:
        self.module = module or KernelModule("mbr")

    def launch(self, mask_ptr: int, mask_pitch: int, region: Region, ws: MbrWorkspace,
               stream: int = 0, min_area: float = MIN_CONTOUR_AREA) -> None:
        x0, y0, x1, y1 = region
        w, h = max(x1 - x0, 0), max(y1 - y0, 0)
        if w > ws.max_w or h > ws.max_h:
            raise MasktrtError(f"MBR region {w}x{h} exceeds the workspace {ws.max_w}x{ws.max_h}",
                               "allocate the MbrWorkspace for the frame size")
        mod = self.module
        mod.memset_d8(ws.ptr("best"), 0, 8, stream)
        mod.memset_d8(ws.ptr("out"), 0, 48, stream)
        if w == 0 or h == 0:
            return
        n = w * h
        mod.memset_d8(ws.ptr("area2"), 0, 8 * n, stream)
        mod.memset_d32(ws.ptr("rowmin"), 0x7FFFFFFF, h, stream)
        mod.memset_d32(ws.ptr("rowmax"), 0xFFFFFFFF, h, stream)
        grid2d, block2d = (_blocks(w, 32), _blocks(h, 8), 1), (32, 8, 1)
        grid1d = (_blocks(n + 1, 256), 1, 1)
        roi = [(mask_ptr, c_ptr), (mask_pitch, c_longlong), (x0, c_int), (y0, c_int), (w, c_int), (h, c_int)]
        L = self.module.launch
        L("ccl_init", grid1d, (256, 1, 1), [(ws.ptr("parent"), c_ptr), (n, c_int)], stream)
        L("ccl_merge", grid2d, block2d, roi + [(ws.ptr("parent"), c_ptr)], stream)
        L("ccl_compress", grid1d, (256, 1, 1), [(ws.ptr("parent"), c_ptr), (n, c_int)], stream)
        L("contour_area", grid2d, block2d, roi + [(ws.ptr("parent"), c_ptr), (ws.ptr("area2"), c_ptr)], stream)
        L("select_largest", grid2d, block2d,
          roi + [(ws.ptr("parent"), c_ptr), (ws.ptr("area2"), c_ptr), (ws.ptr("best"), c_ptr)], stream)
        L("row_extremes", grid2d, block2d, [(ws.ptr("parent"), c_ptr), (w, c_int), (h, c_int),
          (ws.ptr("best"), c_ptr), (ws.ptr("rowmin"), c_ptr), (ws.ptr("rowmax"), c_ptr)], stream)
        L("hull_mbr", (1, 1, 1), (256, 1, 1), [
            (ws.ptr("rowmin"), c_ptr), (ws.ptr("rowmax"), c_ptr), (h, c_int), (ws.ptr("best"), c_ptr),
            (int(round(2 * min_area)), c_longlong), (x0, c_int), (y0, c_int),
            (ws.ptr("pts"), c_ptr), (ws.ptr("hull"), c_ptr), (ws.ptr("out"), c_ptr)], stream)

    @staticmethod
    def read(ws: MbrWorkspace, stream: int = 0) -> MbrResult:
        """Synchronise and fetch the 4 corners (+ found flag, contour area): 44 bytes to the host."""
        out = ws.buffers["out"].download((12,), np.float32, stream)
        best = int(ws.buffers["best"].download((1,), np.uint64, stream)[0])
        root = (best & 0xFFFFFFFF) - 1
        return MbrResult(bool(out[8] > 0), out[:8].reshape(4, 2).copy(), float(out[9]), root)


__all__ = ["CropResizeKernel", "PasteMaskKernel", "MbrKernel", "MbrWorkspace", "DeviceBuffer",
           "union_region", "ctypes"]
