"""TensorRT / TensorRT-RTX backend: the three engines on one CUDA stream, through cuda-python.

Memory is laid out once, when the backend is created: a device buffer for every engine tensor
and pinned host buffers for the few that cross to the host (x in; cls, loc, mask out; pos in).
Search writes p0, p1, p2 and corr into buffers that are bound directly as refine's inputs, so
features never leave the device. `template()` allocates one kernel set per target (not per
frame) that stays on the device; `search()` binds whichever set the tracker passes.

Zero-copy with the CUDA kernels (runtime.gpu_ops.DeviceOps): `device_io()` exposes the input
buffers, the refine output and the stream; `template()`/`search()` accept a DeviceInput (the crop
kernel already wrote the engine's input, nothing is uploaded) and `refine_device()` leaves the
logits on the device for the paste/MBR kernels. Host arrays work as before (HostOps).

Refit engines (`masktrt build --xcorr refit`): the search engine has no kernel inputs; its
depth-wise correlation weights k_cls, k_loc, k_mask are refittable. `template()` runs the template
engine and then refits the search engine from those outputs, on the stream, straight from their
device buffers (FP32 weights) or through a host copy cast to the weights' dtype (FP16 graphs).
The kernels then live IN the engine, so one search engine serves one target at a time: each
target's kernels (RefitKernels) carry a serial number, the backend remembers which target is
refitted, and `search()` with another target's kernels refits again first (correct, but a refit
per switch: give each concurrently tracked target its own backend).

Scope, honestly: written for a GPU and not yet run on one (this workplace has none). CUDA graph
capture of the per-frame work is not done (see runtime.gpu_ops). `features` returned by
`search()` are the backend's own buffers: a second search overwrites them, which suits the
tracker (search, then refine).
"""
from __future__ import annotations

import ctypes
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from masktrt.errors import MasktrtError, require
from masktrt.runtime.gpu_ops import DeviceInput, DeviceIO, DeviceLogits, DeviceTensorSpec
from masktrt.runtime.trt_module import flavour_of

from .base import SearchOutput

REFIT = "refit"

GRAPHS = ("template", "search", "refine")
KERNELS = ("k_cls", "k_loc", "k_mask")
FEATURES = ("p0", "p1", "p2", "corr")


def _check(result: Any) -> Any:
    """cuda-python returns (error, values...): raise on error, return the values."""
    cudart = require("cuda.bindings.runtime", "cuda")
    err, *values = result if isinstance(result, tuple) else (result,)
    if int(err) != 0:
        _, text = cudart.cudaGetErrorString(err)
        raise MasktrtError(f"CUDA call failed: {text.decode() if isinstance(text, bytes) else text}",
                           "check the GPU and driver (nvidia-smi)")
    return values[0] if len(values) == 1 else values


@dataclass
class DeviceTensor:
    """A device buffer of one engine tensor (shape and dtype as the engine reports them)."""

    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    ptr: int

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape)) * self.dtype.itemsize


class PinnedArray:
    """A NumPy view of page-locked host memory, so copies to and from the GPU are async."""

    def __init__(self, cudart: Any, shape: tuple[int, ...], dtype: np.dtype) -> None:
        nbytes = int(np.prod(shape)) * dtype.itemsize
        self.ptr = int(_check(cudart.cudaMallocHost(nbytes)))
        self.array = np.frombuffer((ctypes.c_byte * nbytes).from_address(self.ptr), dtype=dtype).reshape(shape)


@dataclass
class RefitKernels:
    """One target's kernels for a refit search engine: its device buffers and which target it is.

    `target` is the backend's serial number for the template() call that made them; the backend
    compares it with the target its search engine was last refitted with.
    """

    tensors: dict[str, DeviceTensor]
    target: int

    def __getitem__(self, name: str) -> DeviceTensor:
        return self.tensors[name]


class Refit:
    """The search engine's Refitter and which target's kernels the engine holds now."""

    def __init__(self, trt: Any, loaded: Any) -> None:
        meta = loaded.meta.get("refit") or {}
        self.trt = trt
        self.weights = [w["name"] for w in meta.get("weights", [])]
        if not loaded.engine.refittable or not self.weights:
            raise MasktrtError("the search engine was not built refittable with named kernels",
                               f"rebuild it with: {loaded.meta.get('rebuild', 'masktrt build --xcorr refit')}")
        self.refitter = trt.Refitter(loaded.engine, loaded.logger)
        known = set(self.refitter.get_all_weights())
        missing = [n for n in self.weights if n not in known]
        if missing:
            raise MasktrtError(f"the search engine has no refittable weights {missing}",
                               f"rebuild it with: {loaded.meta.get('rebuild', 'masktrt build --xcorr refit')}")
        self.prototypes = {n: self.refitter.get_weights_prototype(n) for n in self.weights}
        # device-resident weights and stream-ordered refits: TensorRT 10+ and TensorRT-RTX
        self.on_device = flavour_of(trt).individual_refit and hasattr(self.refitter, "refit_cuda_engine_async")
        self.refitted: int | None = None
        self.serial = 0

    def next_target(self) -> int:
        self.serial += 1
        return self.serial


class TensorRTBackend:
    """The Backend protocol over template/search/refine engines built by `masktrt build`."""

    def __init__(self, engine_dir: str | Path) -> None:
        from masktrt.runtime.engines import load_engine

        self._cudart = require("cuda.bindings.runtime", "cuda")
        self.dir = Path(engine_dir)
        self.engines = {g: load_engine(self.dir / f"{g}.engine") for g in GRAPHS}
        meta = self.engines["search"].meta
        self.name = f"{meta['tensorrt']['module']}-{meta['precision']}"
        self.trt = self.engines["search"].trt
        self.stream = _check(self._cudart.cudaStreamCreate())
        self._device: list[int] = []
        self._pinned: list[PinnedArray] = []
        self.contexts = {g: loaded.engine.create_execution_context() for g, loaded in self.engines.items()}
        self.tensors = {g: self._allocate(g) for g in GRAPHS}
        for name in FEATURES:  # search writes refine's inputs in place
            self._bind("refine", name, self.tensors["search"][name].ptr)
        self.refit = Refit(self.trt, self.engines["search"]) if meta.get("xcorr") == REFIT else None
        self.host = {
            "x": self._pin(self.tensors["search"]["x"]), "cls": self._pin(self.tensors["search"]["cls"]),
            "loc": self._pin(self.tensors["search"]["loc"]), "pos": self._pin(self.tensors["refine"]["pos"]),
            "mask": self._pin(self.tensors["refine"]["mask"]), "z": self._pin(self.tensors["template"]["z"]),
        }

    # -- setup ---------------------------------------------------------------------------------
    def _malloc(self, nbytes: int) -> int:
        ptr = int(_check(self._cudart.cudaMalloc(nbytes)))
        self._device.append(ptr)
        return ptr

    def _pin(self, tensor: DeviceTensor) -> np.ndarray:
        pinned = PinnedArray(self._cudart, tensor.shape, tensor.dtype)
        self._pinned.append(pinned)
        return pinned.array

    def _tensor(self, graph: str, name: str) -> DeviceTensor:
        engine = self.engines[graph].engine
        shape = tuple(int(d) for d in engine.get_tensor_shape(name))
        dtype = np.dtype(self.trt.nptype(engine.get_tensor_dtype(name)))
        return DeviceTensor(name, shape, dtype, 0)

    def _allocate(self, graph: str) -> dict[str, DeviceTensor]:
        engine = self.engines[graph].engine
        tensors = {}
        for i in range(engine.num_io_tensors):
            name = engine.get_tensor_name(i)
            tensor = self._tensor(graph, name)
            if graph == "refine" and name in FEATURES:
                tensors[name] = tensor  # bound to search's buffers
                continue
            if graph == "search" and name in KERNELS:
                tensors[name] = tensor  # bound per call to the target's kernels
                continue
            tensor.ptr = self._malloc(tensor.nbytes)
            self._bind(graph, name, tensor.ptr)
            tensors[name] = tensor
        return tensors

    def _bind(self, graph: str, name: str, ptr: int) -> None:
        if not self.contexts[graph].set_tensor_address(name, ptr):
            raise MasktrtError(f"the {graph} engine refused an address for '{name}'",
                               "rebuild the engines with 'masktrt build' from the same export")

    # -- per call ------------------------------------------------------------------------------
    def _copy(self, dst: int, src: int, nbytes: int, kind: Any) -> None:
        _check(self._cudart.cudaMemcpyAsync(dst, src, nbytes, kind, self.stream))

    def _upload(self, host: np.ndarray, tensor: DeviceTensor, value: np.ndarray) -> None:
        host[...] = value.reshape(host.shape)
        self._copy(tensor.ptr, host.ctypes.data, tensor.nbytes, self._cudart.cudaMemcpyKind.cudaMemcpyHostToDevice)

    def _download(self, tensor: DeviceTensor, host: np.ndarray) -> None:
        self._copy(host.ctypes.data, tensor.ptr, tensor.nbytes, self._cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost)

    def _stream_handle(self) -> int:
        """The stream's handle value (int(cudaStream_t)); getPtr() would be the wrapper's address."""
        return int(self.stream)

    def _execute(self, graph: str) -> None:
        if not self.contexts[graph].execute_async_v3(self._stream_handle()):
            raise MasktrtError(f"the {graph} engine failed to run", "see TensorRT's message above")

    def _sync(self) -> None:
        _check(self._cudart.cudaStreamSynchronize(self.stream))

    def template(self, z: np.ndarray) -> dict[str, DeviceTensor] | RefitKernels:
        """Runs once per target; its kernels get their own device buffers and stay there.

        With a refit engine the search engine is refitted with them before returning, and the
        kernels come back as RefitKernels that name this target.
        """
        tensors = self.tensors["template"]
        kernels = {}
        for name in KERNELS:
            kernel = DeviceTensor(name, tensors[name].shape, tensors[name].dtype, 0)
            kernel.ptr = self._malloc(kernel.nbytes)
            self._bind("template", name, kernel.ptr)
            kernels[name] = kernel
        self._input("template", self.host["z"], tensors["z"], z)
        self._execute("template")
        if self.refit is not None:
            kernels = RefitKernels(kernels, self.refit.next_target())
            self._refit_search(kernels)
        self._sync()
        return kernels

    def search(self, x: np.ndarray, kernels: dict[str, DeviceTensor] | RefitKernels) -> SearchOutput:
        tensors = self.tensors["search"]
        if self.refit is not None:
            if not isinstance(kernels, RefitKernels):
                raise MasktrtError("a refit search engine needs the kernels its own template() returned",
                                   "call template() on this backend for the target first")
            if kernels.target != self.refit.refitted:  # another target's kernels: refit again
                self._refit_search(kernels)
        else:
            for name in KERNELS:
                self._bind("search", name, kernels[name].ptr)
        self._input("search", self.host["x"], tensors["x"], x)
        self._execute("search")
        self._download(tensors["cls"], self.host["cls"])
        self._download(tensors["loc"], self.host["loc"])
        self._sync()
        return SearchOutput(cls=self.host["cls"].astype(np.float32, copy=True),
                            loc=self.host["loc"].astype(np.float32, copy=True),
                            features={n: tensors[n] for n in FEATURES})

    def _refit_search(self, kernels: RefitKernels) -> None:
        """Write one target's kernels into the search engine's weights, enqueued on the stream.

        FP32 weights are read from the kernels' device buffers (no host round trip); other dtypes
        (FP16 graphs) through a host copy cast to the weights' dtype. The engine must have no
        work pending on another stream: everything here runs on self.stream.
        """
        refit, trt = self.refit, self.trt
        keep = []  # host weights must outlive set_named_weights until the refit is enqueued
        for name in refit.weights:
            kernel, proto = kernels[name], refit.prototypes[name]
            count = int(np.prod(kernel.shape))
            if int(proto.size) != count:
                raise MasktrtError(f"refit weight '{name}' holds {proto.size} values, the template gives {count}",
                                   "rebuild the engines together from one export with 'masktrt build'")
            if refit.on_device and proto.dtype == trt.DataType.FLOAT and kernel.dtype == np.float32:
                ok = refit.refitter.set_named_weights(name, trt.Weights(trt.DataType.FLOAT, kernel.ptr, count),
                                                      trt.TensorLocation.DEVICE)
            else:
                host = np.empty(kernel.shape, dtype=kernel.dtype)
                self._copy(host.ctypes.data, kernel.ptr, kernel.nbytes,
                           self._cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost)
                self._sync()
                keep.append(np.ascontiguousarray(host.astype(trt.nptype(proto.dtype)).reshape(-1)))
                ok = refit.refitter.set_named_weights(name, trt.Weights(keep[-1]))
            if not ok:
                raise MasktrtError(f"TensorRT refused the refit weights '{name}'",
                                   "rebuild the engines together from one export with 'masktrt build'")
        missing = refit.refitter.get_missing_weights()
        if missing:
            raise MasktrtError(f"refitting the search engine also needs weights {list(missing)}",
                               "rebuild it with 'masktrt build --xcorr refit' (TensorRT 10+ marks only the kernels)")
        if refit.on_device:
            ok = refit.refitter.refit_cuda_engine_async(self._stream_handle())
        else:  # older TensorRT: a synchronous refit, with nothing pending on the engine
            self._sync()
            ok = refit.refitter.refit_cuda_engine()
        if not ok:
            raise MasktrtError("TensorRT failed to refit the search engine with the target's kernels",
                               "see TensorRT's message above; rebuild with 'masktrt build --xcorr refit'")
        refit.refitted = kernels.target

    def refine_device(self, features: dict[str, DeviceTensor], pos: tuple[int, int]) -> DeviceLogits:
        """Enqueue refine at pos; the logits stay in the engine's output buffer (no sync)."""
        if any(features[n].ptr != self.tensors["search"][n].ptr for n in FEATURES):
            raise MasktrtError("refine() was given features from another backend instance",
                               "call refine() on the backend whose search() produced them")
        tensors = self.tensors["refine"]
        self._upload(self.host["pos"], tensors["pos"], np.asarray(pos, dtype=tensors["pos"].dtype))
        self._execute("refine")
        return DeviceLogits(tensors["mask"].ptr)

    def refine(self, features: dict[str, DeviceTensor], pos: tuple[int, int]) -> np.ndarray:
        tensors = self.tensors["refine"]
        self.refine_device(features, pos)
        self._download(tensors["mask"], self.host["mask"])
        self._sync()
        side = self.host["mask"].shape[-1]
        return self.host["mask"].reshape(side, side).astype(np.float32, copy=True)

    def _input(self, graph: str, host: np.ndarray, tensor: DeviceTensor, value: Any) -> None:
        """Upload a host input, or accept the crop kernel's in-place write into this very buffer."""
        if isinstance(value, DeviceInput):
            if value.ptr != tensor.ptr:
                raise MasktrtError(f"the {graph} input was cropped into another buffer",
                                   "build DeviceOps from this backend's device_io()")
            return
        self._upload(host, tensor, value)

    def device_io(self) -> DeviceIO:
        """The buffers the CUDA kernels read and write in place, and the stream to use."""
        def spec(t: DeviceTensor) -> DeviceTensorSpec:
            return DeviceTensorSpec(t.ptr, t.dtype, t.shape)

        return DeviceIO(self._stream_handle(),
                        {"template": spec(self.tensors["template"]["z"]), "search": spec(self.tensors["search"]["x"])},
                        spec(self.tensors["refine"]["mask"]))

    def close(self) -> None:
        """Free device and pinned memory and the stream; the backend is unusable afterwards."""
        for ptr in self._device:
            self._cudart.cudaFree(ptr)
        for pinned in self._pinned:
            self._cudart.cudaFreeHost(pinned.ptr)
        self._device, self._pinned = [], []
        if self.stream is not None:
            self._cudart.cudaStreamDestroy(self.stream)
            self.stream = None

    def __enter__(self) -> "TensorRTBackend":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def create(engine_dir: str | Path) -> TensorRTBackend:
    return TensorRTBackend(engine_dir)
