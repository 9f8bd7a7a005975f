"""The tracker's per-frame image work (crop in, mask and polygon out), on the host or on the GPU.

The Tracker does the tracking maths; the pixel work around the network goes through an `ops`
object with three calls: `crop` (frame -> network input), `refine` (runs SiamMask's refine
graph on the runner: features, pos -> mask logits) and `postprocess` (logits -> mask, polygon).
Three implementations:

- HostOps: the official functions (runtime.crop, runtime.mask), exactly what the tracker always
  did; the default everywhere except a GPU runner with device buffers.
- DeviceOps: the CUDA kernels (masktrt.kernels) on the runner's own stream and buffers: the
  frame is uploaded once per frame, the crop kernel writes straight into the engine's input,
  refine's logits stay on the device and are pasted back, binarised and reduced to 4 corners
  there. Only those corners (and the mask, when `want_mask`) come back, plus cls/loc/pos around
  the host-side candidate selection.
- ReferenceOps: the kernels' NumPy models with the very parameters DeviceOps launches with, so the
  device path's plumbing can be checked on a machine without a GPU.

Why not hidden state: DeviceOps owns only scratch memory sized to the frame; the frame mask is
zero between calls (each call clears the region it wrote), so no result depends on an earlier
frame, and the tracker stays a pure function of (state, frame).
CUDA graph capture of the per-frame work is not done: the crop and paste parameters change every
frame (kernel arguments), and pos must reach the refine engine from the host-side selection, so
a graph would need per-frame node updates around a host round trip; a note, not a feature.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol

import numpy as np

from masktrt.errors import MasktrtError
from masktrt.geometry import MASK_OUT_SIZE
from masktrt.runtime.crop import crop_subwindow
from masktrt.runtime.mask import binarize, box_polygon, mask_polygon, paste_back, sigmoid
from masktrt.specs.base import MASK, POS, REFINE, SEARCH, SEARCH_INPUT, TEMPLATE, TEMPLATE_INPUT

Box = tuple[float, float, float, float]
Region = tuple[int, int, int, int]
ROLES = (TEMPLATE, SEARCH)  # crop roles: the graphs whose input the crop is
ROLE_INPUTS = {TEMPLATE: TEMPLATE_INPUT, SEARCH: SEARCH_INPUT}


@dataclass
class PostResult:
    """What post-processing hands back: the polygon always, mask/prob where they exist on the host."""

    polygon: np.ndarray  # 4x2 float32
    from_mask: bool  # False: the box fallback (no component above MIN_CONTOUR_AREA)
    mask: np.ndarray | None  # HxW uint8 {0,1}; None when the device ops were told not to fetch it
    prob: np.ndarray | None  # HxW float32 pasted probability; host ops only


class FrameOps(Protocol):
    name: str

    def crop(self, frame: np.ndarray, center: np.ndarray, model_size: int, source_size: int,
             avg_chans: np.ndarray, role: str) -> Any:
        """Network input for `role` ("template" or "search"), as the runner accepts it."""

    def refine(self, runner: Any, features: Any, pos: tuple[int, int]) -> Any:
        """Run the refine graph at cell pos; mask logits wherever this implementation
        post-processes them."""

    def postprocess(self, logits: Any, crop_box: Box, pos: tuple[int, int], frame_hw: tuple[int, int],
                    seg_thr: float, fallback_box: Box) -> PostResult:
        """Paste back, binarise, largest component's rotated rectangle (spec §3.8)."""


# ---------------------------------------------------------------- host: the official functions
class HostOps:
    """The official NumPy/OpenCV pipeline, unchanged: the definition the other two must match."""

    name = "host"

    def crop(self, frame: np.ndarray, center: np.ndarray, model_size: int, source_size: int,
             avg_chans: np.ndarray, role: str) -> np.ndarray:
        return crop_subwindow(frame, center, model_size, source_size, avg_chans)

    def refine(self, runner: Any, features: Any, pos: tuple[int, int]) -> np.ndarray:
        return host_logits(runner, features, pos)

    def postprocess(self, logits: np.ndarray, crop_box: Box, pos: tuple[int, int],
                    frame_hw: tuple[int, int], seg_thr: float, fallback_box: Box) -> PostResult:
        prob = paste_back(sigmoid(logits).reshape(MASK_OUT_SIZE, MASK_OUT_SIZE), crop_box, pos, frame_hw)
        mask = binarize(prob, seg_thr)
        polygon, from_mask = mask_polygon(mask, fallback_box)
        return PostResult(polygon, from_mask, mask, prob)


def refine_feeds(features: dict[str, Any], pos: tuple[int, int]) -> dict[str, Any]:
    """The refine graph's feeds: search's features as they are (device values stay put) and the
    cell as int64 (row, col)."""
    return {**features, POS: np.asarray(pos, dtype=np.int64)}


def host_logits(runner: Any, features: dict[str, Any], pos: tuple[int, int]) -> np.ndarray:
    """Refine's mask logits on the host, MASK_OUT_SIZE x MASK_OUT_SIZE float32."""
    mask = runner.run(REFINE, refine_feeds(features, pos))[MASK]
    return np.asarray(mask, np.float32).reshape(MASK_OUT_SIZE, MASK_OUT_SIZE)


def polygon_from_mbr(mbr: Any, fallback_box: Box) -> tuple[np.ndarray, bool]:
    """The kernel's corners when it found a component above the area rule, else the box (§3.8.8)."""
    if mbr.found:
        return np.asarray(mbr.corners, np.float32).reshape(4, 2), True
    return box_polygon(fallback_box), False


# ---------------------------------------------------------------- reference: kernel models on the host
class ReferenceOps:
    """The kernels' NumPy models, fed the same parameters DeviceOps computes (no GPU needed)."""

    name = "reference"

    def crop(self, frame: np.ndarray, center: np.ndarray, model_size: int, source_size: int,
             avg_chans: np.ndarray, role: str) -> np.ndarray:
        from masktrt.kernels.crop_reference import crop_params, crop_resize_reference

        return crop_resize_reference(frame, crop_params(center, model_size, source_size, avg_chans))

    def refine(self, runner: Any, features: Any, pos: tuple[int, int]) -> np.ndarray:
        return host_logits(runner, features, pos)

    def postprocess(self, logits: np.ndarray, crop_box: Box, pos: tuple[int, int],
                    frame_hw: tuple[int, int], seg_thr: float, fallback_box: Box) -> PostResult:
        from masktrt.kernels.mbr_reference import largest_component_mbr
        from masktrt.kernels.paste_reference import paste_mask_reference, paste_params

        p = paste_params(crop_box, pos, frame_hw)
        mask = paste_mask_reference(np.asarray(logits, np.float32).reshape(p.size, p.size), p, seg_thr)
        polygon, from_mask = polygon_from_mbr(largest_component_mbr(mask), fallback_box)
        return PostResult(polygon, from_mask, mask, None)


# ---------------------------------------------------------------- device: what a runner exposes
@dataclass(frozen=True)
class DeviceTensorSpec:
    """One runner buffer on the device: where it is and what it holds."""

    ptr: int
    dtype: np.dtype
    shape: tuple[int, ...]


@dataclass(frozen=True)
class DeviceIO:
    """A runner's buffers the kernels read and write in place, and the stream it runs on."""

    stream: int  # CUstream handle value (int(cudaStream_t))
    inputs: dict[str, DeviceTensorSpec]  # "template" -> z, "search" -> x (1x3xMxM)
    logits: DeviceTensorSpec  # refine's output (127x127 float32 in any layout)


@dataclass(frozen=True)
class DeviceInput:
    """A network input the crop kernel already wrote into the runner's own input buffer."""

    role: str
    ptr: int


@dataclass(frozen=True)
class DeviceLogits:
    """Refine's logits left on the device (enqueued on the runner's stream, not synchronised)."""

    ptr: int


def io_problem(io: DeviceIO) -> str | None:
    """Why the kernels cannot serve these buffers (None: they can)."""
    for role in ROLES:
        spec = io.inputs.get(role)
        if spec is None:
            return f"the runner exposes no device buffer for the {role} input"
        if np.dtype(spec.dtype) not in (np.dtype(np.float32), np.dtype(np.float16)):
            return f"the {role} input is {np.dtype(spec.dtype)}, the crop kernel writes float32/float16"
        if len(spec.shape) != 4 or spec.shape[:2] != (1, 3) or spec.shape[2] != spec.shape[3]:
            return f"the {role} input has shape {spec.shape}, the crop kernel writes 1x3xMxM"
    if np.dtype(io.logits.dtype) != np.dtype(np.float32) or int(np.prod(io.logits.shape)) != MASK_OUT_SIZE ** 2:
        return f"refine's output is {io.logits.shape} {np.dtype(io.logits.dtype)}, the paste kernel reads 127x127 float32"
    return None


# ---------------------------------------------------------------- device: memory and kernels (seams)
class DriverMemory:
    """The few driver calls DeviceOps makes, all on one stream (a seam for tests without a GPU)."""

    def __init__(self, stream: int) -> None:
        from masktrt.kernels.loader import _driver, ensure_context

        ensure_context(0)
        self._drv = _driver()
        self._stream = self._drv.CUstream(stream)
        self._owned: list[Any] = []

    def _check(self, result: Any, what: str) -> Any:
        from masktrt.kernels.loader import _check

        return _check(result if isinstance(result, tuple) else (result,), what)

    def alloc(self, nbytes: int) -> int:
        from masktrt.kernels.launch import DeviceBuffer

        buf = DeviceBuffer(nbytes)
        self._owned.append(buf)
        return buf.ptr

    def free(self, ptr: int) -> None:
        """Free one allocation now (the caller has synchronised: no queued work reads it)."""
        for buf in [b for b in self._owned if b.ptr == ptr]:
            buf.close()
            self._owned.remove(buf)

    def synchronize(self) -> None:
        self._check(self._drv.cuStreamSynchronize(self._stream), "cuStreamSynchronize")

    def upload(self, ptr: int, array: np.ndarray) -> None:
        """Asynchronous on the stream; from pageable memory the driver has staged the bytes on return."""
        data = np.ascontiguousarray(array)
        self._check(self._drv.cuMemcpyHtoDAsync(ptr, data.ctypes.data, data.nbytes, self._stream), "HtoD")

    def download(self, ptr: int, shape: tuple[int, ...], dtype: type) -> np.ndarray:
        out = np.empty(shape, dtype)
        self._check(self._drv.cuMemcpyDtoHAsync(out.ctypes.data, ptr, out.nbytes, self._stream), "DtoH")
        self._check(self._drv.cuStreamSynchronize(self._stream), "cuStreamSynchronize")
        return out

    def zero(self, ptr: int, pitch: int, region: Region) -> None:
        """Clear bytes [x0, x1) x [y0, y1) of a pitched uint8 image."""
        x0, y0, x1, y1 = region
        if x1 > x0 and y1 > y0:
            self._check(self._drv.cuMemsetD2D8Async(ptr + y0 * pitch + x0, pitch, 0, x1 - x0, y1 - y0,
                                                    self._stream), "cuMemsetD2D8Async")

    def close(self) -> None:
        for buf in self._owned:
            buf.close()
        self._owned = []


@dataclass
class DeviceKernels:
    """The three launchers and the MBR workspace factory (real ones from masktrt.kernels.launch)."""

    crop: Any  # .launch(frame_ptr, frame_hw, pitch, CropParams, out_ptr, half, stream)
    paste: Any  # .launch(logits_ptr, prob_ptr, PasteParams, seg_thr, mask_ptr, pitch, previous, stream)
    mbr: Any  # .launch(mask_ptr, pitch, region, workspace, stream); .read(workspace, stream)
    workspace: Callable[[int, int], Any]  # (max_h, max_w) -> workspace with .close()

    @classmethod
    def load(cls) -> "DeviceKernels":
        """Compile (or load from the cache) and load all three modules into the current context."""
        from masktrt.kernels import launch

        return cls(launch.CropResizeKernel(), launch.PasteMaskKernel(), launch.MbrKernel(),
                   launch.MbrWorkspace.allocate)


@dataclass
class FrameScratch:
    """Device memory sized to one frame size; the mask is all zero between calls."""

    hw: tuple[int, int]
    frame: int  # h*w*3 uint8, BGR, pitch w*3
    mask: int  # h*w uint8, pitch w
    workspace: Any


class DeviceOps:
    """Crop, paste-back, binarisation and MBR with the CUDA kernels on the runner's stream."""

    name = "device"

    def __init__(self, io: DeviceIO, want_mask: bool = True, kernels: DeviceKernels | None = None,
                 memory: Any = None) -> None:
        problem = io_problem(io)
        if problem:
            raise MasktrtError(f"GPU pre/post-processing cannot use this runner: {problem}",
                               "use the host ops (Tracker(..., ops=HostOps())) or rebuild the engines")
        self.io = io
        self.want_mask = want_mask
        self.memory = memory if memory is not None else DriverMemory(io.stream)
        self.kernels = kernels if kernels is not None else DeviceKernels.load()
        self.prob = self.memory.alloc(MASK_OUT_SIZE * MASK_OUT_SIZE * 4)  # sigmoid scratch
        self._scratch: FrameScratch | None = None

    def _frame_scratch(self, hw: tuple[int, int]) -> FrameScratch:
        """Allocated once per frame size (a sequence has one), not per frame; a new size frees the
        old size's buffers, so a long-lived ops object fed many sizes holds one set, not all."""
        if self._scratch is None or self._scratch.hw != hw:
            self._release_scratch()
            h, w = hw
            mask = self.memory.alloc(h * w)
            self.memory.zero(mask, w, (0, 0, w, h))
            self._scratch = FrameScratch(hw, self.memory.alloc(h * w * 3), mask, self.kernels.workspace(h, w))
        return self._scratch

    def _release_scratch(self) -> None:
        """Free the frame, mask and MBR workspace once the stream's queued kernels are done with them."""
        if self._scratch is None:
            return
        self.memory.synchronize()  # a crop or paste may still be reading them
        self.memory.free(self._scratch.frame)
        self.memory.free(self._scratch.mask)
        self._scratch.workspace.close()
        self._scratch = None

    def crop(self, frame: np.ndarray, center: np.ndarray, model_size: int, source_size: int,
             avg_chans: np.ndarray, role: str) -> DeviceInput:
        """Upload the frame (once per frame: one crop per frame) and crop into the engine input."""
        from masktrt.kernels.crop_reference import crop_params

        spec = self.io.inputs[role]
        if spec.shape[-1] != model_size:
            raise MasktrtError(f"the {role} engine takes {spec.shape[-1]}x{spec.shape[-1]} inputs, "
                               f"the tracker crops {model_size}x{model_size}",
                               "rebuild the engines from an export of this model")
        h, w = int(frame.shape[0]), int(frame.shape[1])
        scratch = self._frame_scratch((h, w))
        self.memory.upload(scratch.frame, frame)
        params = crop_params(center, model_size, source_size, avg_chans)
        half = np.dtype(spec.dtype) == np.dtype(np.float16)
        self.kernels.crop.launch(scratch.frame, (h, w), w * 3, params, spec.ptr, half, self.io.stream)
        return DeviceInput(role, spec.ptr)

    def refine(self, runner: Any, features: Any, pos: tuple[int, int]) -> DeviceLogits:
        """Enqueue refine; its logits stay in the runner's buffer for the paste kernel (no sync)."""
        out = runner.run(REFINE, refine_feeds(features, pos), keep_on_device=(MASK,))
        return DeviceLogits(out[MASK].ptr)

    def postprocess(self, logits: DeviceLogits, crop_box: Box, pos: tuple[int, int],
                    frame_hw: tuple[int, int], seg_thr: float, fallback_box: Box) -> PostResult:
        """Enqueue paste + MBR, fetch the mask if wanted, clear what was written, read 4 corners."""
        from masktrt.kernels.paste_reference import paste_params

        if not isinstance(logits, DeviceLogits):
            raise MasktrtError("DeviceOps.postprocess needs logits left on the device",
                               "pair DeviceOps with a runner that keeps outputs on the device (TensorRT)")
        h, w = frame_hw
        scratch = self._frame_scratch((h, w))
        stream = self.io.stream
        params = paste_params(crop_box, pos, frame_hw)
        region = self.kernels.paste.launch(logits.ptr, self.prob, params, float(seg_thr),
                                           scratch.mask, w, None, stream)
        self.kernels.mbr.launch(scratch.mask, w, region, scratch.workspace, stream)
        mask = self.memory.download(scratch.mask, (h, w), np.uint8) if self.want_mask else None
        self.memory.zero(scratch.mask, w, region)  # back to all-zero: nothing carries to the next frame
        polygon, from_mask = polygon_from_mbr(self.kernels.mbr.read(scratch.workspace, stream), fallback_box)
        return PostResult(polygon, from_mask, mask, None)

    def close(self) -> None:
        self._release_scratch()
        self.memory.close()


# ---------------------------------------------------------------- choice
def device_io(runner: Any) -> DeviceIO:
    """The runner's buffers SiamMask's kernels use: the template and search inputs the crop
    writes, refine's mask the paste reads; and the runner's stream."""
    inputs = {role: runner.device_buffer(role, tensor) for role, tensor in ROLE_INPUTS.items()}
    return DeviceIO(int(runner.stream), inputs, runner.device_buffer(REFINE, MASK))


def device_ops_problem(runner: Any) -> str | None:
    """Why DeviceOps cannot run for this runner here (None: it can). Probes CUDA only if the
    runner exposes device buffers, so host runners (ONNX Runtime, torch, fakes) never touch the
    driver."""
    if not callable(getattr(runner, "device_buffer", None)):
        return f"runner '{getattr(runner, 'name', type(runner).__name__)}' keeps its tensors on the host"
    from masktrt import kernels

    if not kernels.gpu_available():
        return "no CUDA device is available"
    return io_problem(device_io(runner))


def choose_ops(runner: Any, prefer: str = "auto", want_mask: bool = True) -> FrameOps:
    """`auto`: the kernels when a GPU is present and the runner exposes device buffers, else the
    official host functions. `host`, `reference`, `device` force one (`device` fails with a
    one-line reason where it cannot run)."""
    if prefer == "host":
        return HostOps()
    if prefer == "reference":
        return ReferenceOps()
    if prefer not in ("auto", "device"):
        raise MasktrtError(f"unknown ops '{prefer}'", "choose auto, host, reference or device")
    problem = device_ops_problem(runner)
    if problem is None:
        return DeviceOps(device_io(runner), want_mask)
    if prefer == "device":
        raise MasktrtError(f"GPU pre/post-processing is unavailable: {problem}",
                           "use ops 'auto' or 'host', or run the TensorRT backend on a GPU")
    return HostOps()


__all__ = ["PostResult", "FrameOps", "HostOps", "ReferenceOps", "DeviceOps", "DeviceIO", "DeviceTensorSpec",
           "DeviceInput", "DeviceLogits", "DeviceKernels", "DriverMemory", "choose_ops", "device_io",
           "device_ops_problem", "io_problem", "polygon_from_mbr", "refine_feeds", "host_logits"]
