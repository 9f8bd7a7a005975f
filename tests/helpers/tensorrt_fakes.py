"""Counting fakes of cuda-python's runtime and of TensorRT engines, so the TensorRT runner's
memory, binding and lifetime rules run without a GPU.

FakeCudart hands out real host memory as "device" and "pinned" allocations (copies are
ctypes.memmove), counts every allocation and release, and logs stream events in order, so a test
can check that everything is freed, that the stream is synchronised before anything is, and how
many bytes crossed. FakeEngine runs a NumPy function over the tensors at the addresses bound to
its context, as TensorRT reads and writes its bindings.

TensorRT-RTX's runtime cache is modelled as documented (IRuntimeConfig / IRuntimeCache): an
engine's first execution in a context compiles its kernels (counted in `engine.compilations`)
unless the context's runtime cache already holds them; serialize() gives a blob and deserialize()
loads one from the same environment and rejects anything else, returning False and leaving the
cache unchanged.

Batched engines (`profiles`: (min, opt, max) target counts per optimisation profile) report
shapes as TensorRT does: the engine's -1 on every tensor's dimension 0, get_tensor_profile_shape
for inputs only, a context whose active profile is 0 until set_optimization_profile_async, whose
set_input_shape refuses counts outside the active profile, whose switch leaves the input shapes to
be set again, whose output shapes are known once every batched input's is, and whose
execute_async_v3 fails while any is unset.
"""
from __future__ import annotations

import ctypes
import hashlib
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Callable

import numpy as np

from masktrt.runtime.engine_loader import LoadedEngine

HOST_TO_DEVICE, DEVICE_TO_HOST, DEVICE_TO_DEVICE = 1, 2, 3


class FakeStream:
    """Like cudaStream_t: int() is the handle value, getPtr() the wrapper's own address."""

    def __init__(self, handle: int) -> None:
        self.handle = handle

    def __int__(self) -> int:
        return self.handle

    def getPtr(self) -> int:  # noqa: N802 - cuda-python's name
        return id(self)


class FakeCudart:
    cudaMemcpyKind = SimpleNamespace(cudaMemcpyHostToDevice=HOST_TO_DEVICE,
                                     cudaMemcpyDeviceToHost=DEVICE_TO_HOST,
                                     cudaMemcpyDeviceToDevice=DEVICE_TO_DEVICE)

    def __init__(self, stream_factory: Callable[[int], object] = FakeStream) -> None:
        self.stream_factory = stream_factory
        self.device: dict[int, np.ndarray] = {}
        self.pinned: dict[int, np.ndarray] = {}
        self.streams: list[object] = []
        self.destroyed: list[object] = []
        self.events: list[tuple] = []  # ("copy", kind) / ("sync",) / ("free", ptr) / ...
        self.allocations = 0
        self.pending_reads: list = []  # weakrefs to host memory an enqueued operation reads
        self.moved: list[tuple[int, int]] = []  # (kind, bytes) of every copy

    def _alloc(self, table: dict, nbytes: int) -> tuple[int, int]:
        block = np.zeros(nbytes, np.uint8)
        table[block.ctypes.data] = block
        self.allocations += 1
        return 0, block.ctypes.data

    def cudaMalloc(self, nbytes):  # noqa: N802
        return self._alloc(self.device, nbytes)

    def cudaMallocHost(self, nbytes):  # noqa: N802
        return self._alloc(self.pinned, nbytes)

    def cudaFree(self, ptr):  # noqa: N802
        self.device.pop(ptr)
        self.events.append(("free", ptr))
        return (0,)

    def cudaFreeHost(self, ptr):  # noqa: N802
        self.pinned.pop(ptr)
        self.events.append(("free_host", ptr))
        return (0,)

    def cudaStreamCreate(self):  # noqa: N802
        stream = self.stream_factory(0x5000 + len(self.streams))
        self.streams.append(stream)
        return 0, stream

    def cudaStreamDestroy(self, stream):  # noqa: N802
        self.destroyed.append(stream)
        self.events.append(("destroy",))
        return (0,)

    def cudaStreamSynchronize(self, stream):  # noqa: N802
        assert stream not in self.destroyed
        assert all(ref() is not None for ref in self.pending_reads), "host memory freed before its read"
        self.pending_reads.clear()
        self.events.append(("sync",))
        return (0,)

    def cudaMemcpyAsync(self, dst, src, nbytes, kind, stream):  # noqa: N802
        assert stream in self.streams and stream not in self.destroyed
        device_ends = {DEVICE_TO_HOST: (src,), HOST_TO_DEVICE: (dst,), DEVICE_TO_DEVICE: (src, dst)}[kind]
        for end in device_ends:
            block = self.owner(end)
            assert block is not None and end + nbytes <= block.ctypes.data + block.size, \
                "a copy touches memory that is not allocated"
        ctypes.memmove(dst, src, nbytes)
        self.events.append(("copy", kind))
        self.moved.append((kind, int(nbytes)))
        return (0,)

    def cudaGetErrorString(self, err):  # noqa: N802
        return 0, b"fake CUDA error"

    # -- for the tests -------------------------------------------------------------------------
    def owner(self, ptr: int) -> np.ndarray | None:
        for table in (self.device, self.pinned):
            for start, block in table.items():
                if start <= ptr < start + max(block.size, 1):
                    return block
        return None

    def view(self, ptr: int, shape, dtype) -> np.ndarray:
        block = self.device[ptr]
        return block[:int(np.prod(shape)) * np.dtype(dtype).itemsize].view(dtype).reshape(shape)

    def copies(self, kind: int) -> int:
        return sum(1 for e in self.events if e == ("copy", kind))


@dataclass
class Tensor:
    shape: tuple[int, ...]
    dtype: np.dtype
    is_input: bool


RTX_ENVIRONMENT = b"fake-rtx-1.7.1.116/sm89"  # what a serialized runtime cache is valid for


class FakeRuntimeCache:
    def __init__(self) -> None:
        self.kernels: set[str] = set()
        self.calls: list[str] = []

    def serialize(self) -> bytes:
        self.calls.append("serialize")
        return RTX_ENVIRONMENT + b"|" + b",".join(sorted(k.encode() for k in self.kernels))

    def deserialize(self, blob) -> bool:
        self.calls.append("deserialize")
        env, _, kernels = bytes(blob).partition(b"|")
        if env != RTX_ENVIRONMENT:
            return False  # another GPU, version or a corrupt file: rejected, cache unchanged
        self.kernels = {k.decode() for k in kernels.split(b",") if k}
        return True


class FakeRuntimeConfig:
    def __init__(self) -> None:
        self.cache: FakeRuntimeCache | None = None

    def create_runtime_cache(self) -> FakeRuntimeCache:
        return FakeRuntimeCache()

    def set_runtime_cache(self, cache: FakeRuntimeCache) -> bool:
        self.cache = cache
        return True


class FakeContext:
    def __init__(self, engine: "FakeEngine", runtime_config: FakeRuntimeConfig | None = None) -> None:
        self.engine = engine
        self.addresses: dict[str, int] = {}
        self.runs = 0
        self.runtime_config = runtime_config
        self.profile = 0  # TensorRT's default active profile
        self.shapes: dict[str, tuple[int, ...]] = {}  # input shapes set on this context
        self.calls: list[tuple[int, int]] = []  # (profile, rows) of each batched execution

    # -- dynamic shapes (batched engines) --------------------------------------------------------
    def set_optimization_profile_async(self, index: int, stream: int) -> bool:
        assert isinstance(stream, int)
        if not 0 <= index < self.engine.num_optimization_profiles:
            return False
        self.profile = index
        self.shapes.clear()  # dynamic input shapes must be set again after a switch
        return True

    def set_input_shape(self, name: str, shape) -> bool:
        tensor, shape = self.engine.tensors[name], tuple(int(d) for d in shape)
        low, _, high = self.engine.profiles[self.profile] if self.engine.profiles else (1, 1, 1)
        fits = len(shape) == len(tensor.shape) and all(d == s for d, s in zip(shape[1:], tensor.shape[1:]))
        if not (tensor.is_input and fits and low <= shape[0] <= high):
            return False  # TensorRT logs the error and returns false
        self.shapes[name] = shape
        return True

    def _rows(self) -> int | None:
        dynamic = [n for n, t in self.engine.tensors.items() if t.is_input and t.shape[0] == -1]
        if not all(n in self.shapes for n in dynamic):
            return None
        return self.shapes[dynamic[0]][0] if dynamic else None

    def get_tensor_shape(self, name: str) -> tuple[int, ...]:
        shape = self.engine.tensors[name].shape
        if shape[0] != -1:
            return shape
        if name in self.shapes:
            return self.shapes[name]
        rows = None if self.engine.tensors[name].is_input else self._rows()
        return shape if rows is None else (rows,) + shape[1:]

    def _compile_once(self) -> None:
        """TensorRT-RTX's JIT: compile on first use unless the runtime cache has the kernels."""
        cache = self.runtime_config.cache if self.runtime_config else None
        if cache is not None and self.engine.kernel in cache.kernels:
            return
        self.engine.compilations += 1
        if cache is not None:
            cache.kernels.add(self.engine.kernel)

    def set_tensor_address(self, name: str, ptr: int) -> bool:
        self.addresses[name] = int(ptr)
        return True

    def execute_async_v3(self, stream: int) -> bool:
        assert isinstance(stream, int)
        if self.engine.profiles and self._rows() is None:
            return False  # not every batched input's shape is set
        if self.runs == 0:
            self._compile_once()
        self.runs += 1
        if self.engine.profiles:
            self.calls.append((self.profile, self._rows()))
        def at(name):
            t, shape = self.engine.tensors[name], self.get_tensor_shape(name)
            nbytes = int(np.prod(shape)) * t.dtype.itemsize
            buf = (ctypes.c_byte * nbytes).from_address(self.addresses[name])
            return np.frombuffer(buf, t.dtype).reshape(shape)
        outputs = self.engine.fn({n: at(n).copy() for n, t in self.engine.tensors.items() if t.is_input})
        for name, value in outputs.items():
            at(name)[...] = value
        return True


class FakeEngine:
    """An engine whose I/O is `tensors` (in order) and whose work is `fn(inputs) -> outputs`."""

    refittable = False

    def __init__(self, tensors: dict[str, Tensor], fn: Callable[[dict], dict],
                 profiles: list[tuple[int, int, int]] | None = None) -> None:
        self.tensors, self.fn = tensors, fn
        self.profiles = profiles  # (min, opt, max) target counts per profile; None: batch 1
        self.contexts: list[FakeContext] = []
        self.kernel = "kernels-" + "-".join(tensors)  # what its JIT compiles
        self.compilations = 0
        self.runtime_configs: list[FakeRuntimeConfig] = []

    @property
    def num_io_tensors(self) -> int:
        return len(self.tensors)

    def get_tensor_name(self, i: int) -> str:
        return list(self.tensors)[i]

    def get_tensor_shape(self, name: str):
        return self.tensors[name].shape

    @property
    def num_optimization_profiles(self) -> int:
        return len(self.profiles) if self.profiles else 1

    def get_tensor_profile_shape(self, name: str, index: int):
        """[min, opt, max] shapes of an input under one profile (inputs only, as in TensorRT)."""
        tensor = self.tensors[name]
        assert tensor.is_input, "profile shapes exist for inputs only"
        if tensor.shape[0] != -1:
            return [tensor.shape] * 3
        return [(count,) + tensor.shape[1:] for count in self.profiles[index]]

    def get_tensor_dtype(self, name: str):
        return self.tensors[name].dtype

    def get_tensor_mode(self, name: str):
        return FAKE_TRT.TensorIOMode.INPUT if self.tensors[name].is_input else FAKE_TRT.TensorIOMode.OUTPUT

    def create_runtime_config(self) -> FakeRuntimeConfig:
        self.runtime_configs.append(FakeRuntimeConfig())
        return self.runtime_configs[-1]

    def create_execution_context(self, runtime_config: FakeRuntimeConfig | None = None) -> FakeContext:
        self.contexts.append(FakeContext(self, runtime_config))
        return self.contexts[-1]


FAKE_TRT = SimpleNamespace(__name__="tensorrt_rtx", __version__="1.7.1.116",
                           TensorIOMode=SimpleNamespace(INPUT="input", OUTPUT="output"),
                           nptype=lambda dtype: np.dtype(dtype))


def loaded(name: str, engine: FakeEngine, runs: str, graphs: list[str]) -> LoadedEngine:
    meta = {"name": name, "runs": runs, "graphs": graphs, "precision": "fp32", "refit": None,
            "tensorrt": {"module": "tensorrt_rtx", "version": "1.7.1.116"},
            "engine_sha256": hashlib.sha256(engine.kernel.encode()).hexdigest()}
    return LoadedEngine(engine, None, None, meta, FAKE_TRT)


def toy_engines(search_dtype=np.float32) -> dict[str, LoadedEngine]:
    """A per-target graph `template` (z -> k = 2z) and a per-frame graph `search`
    (x, k -> y = x + k, f = x * k), the shape of a Siamese tracker at toy size."""
    f32, graphs = np.dtype(np.float32), ["template", "search"]
    template = FakeEngine({"z": Tensor((1, 4), f32, True), "k": Tensor((1, 4), f32, False)},
                          lambda t: {"k": 2 * t["z"]})
    search = FakeEngine({"x": Tensor((1, 4), np.dtype(search_dtype), True), "k": Tensor((1, 4), f32, True),
                         "y": Tensor((1, 4), f32, False), "f": Tensor((1, 4), f32, False)},
                        lambda t: {"y": t["x"] + t["k"], "f": t["x"] * t["k"]})
    return {"template": loaded("template", template, "target", graphs),
            "search": loaded("search", search, "frame", graphs)}


BATCH_PROFILES = [(1, 1, 16), (1, 4, 16), (1, 8, 16)]  # engines/batch.py: BATCH_OPT, 1..BATCH_MAX


def batched_engines(profiles=BATCH_PROFILES) -> dict[str, LoadedEngine]:
    """toy_engines with a batched per-frame `search`: x, k, y, f are Nx4 (N 1..16), k stacked
    from the per-target `template` outputs, as a batch=dynamic export's engines are built."""
    f32, graphs = np.dtype(np.float32), ["template", "search"]
    template = FakeEngine({"z": Tensor((1, 4), f32, True), "k": Tensor((1, 4), f32, False)},
                          lambda t: {"k": 2 * t["z"]})
    search = FakeEngine({"x": Tensor((-1, 4), f32, True), "k": Tensor((-1, 4), f32, True),
                         "y": Tensor((-1, 4), f32, False), "f": Tensor((-1, 4), f32, False)},
                        lambda t: {"y": t["x"] + t["k"], "f": t["x"] * t["k"]}, profiles)
    engines = {"template": loaded("template", template, "target", graphs),
               "search": loaded("search", search, "frame", graphs)}
    engines["search"].meta["batch"] = {"min": 1, "max": 16, "opt": [p[1] for p in profiles], "dim": 0}
    return engines


def siammask_io_engines() -> dict[str, LoadedEngine]:
    """Engines with SiamMask's crop inputs and mask output (z 127, x 255 in FP16, mask 127), for
    the buffers the pixel kernels use; they compute nothing."""
    f32, f16, graphs = np.dtype(np.float32), np.dtype(np.float16), ["template", "search", "refine"]
    nothing = lambda t: {}  # noqa: E731
    io = {"template": {"z": Tensor((1, 3, 127, 127), f32, True), "k_cls": Tensor((1, 4, 5, 5), f32, False)},
          "search": {"x": Tensor((1, 3, 255, 255), f16, True), "cls": Tensor((1, 10, 25, 25), f32, False)},
          "refine": {"pos": Tensor((2,), np.dtype(np.int64), True), "mask": Tensor((1, 1, 127, 127), f32, False)}}
    runs = {"template": "target", "search": "frame", "refine": "frame"}
    return {g: loaded(g, FakeEngine(t, nothing), runs[g], graphs) for g, t in io.items()}


class FakeRefitter:
    """Holds the weights set on it; an async refit checks they are still alive when the stream is
    next synchronised (the IRefitter contract: host weights are read until the refit completes)."""

    def __init__(self, engine: "FakeEngine", logger, cudart: FakeCudart) -> None:
        import weakref

        self.engine, self.cudart, self.weakref = engine, cudart, weakref
        self.weights: dict = {}
        self.refits = 0

    def get_all_weights(self):
        return ["k"]

    def get_weights_prototype(self, name):
        return SimpleNamespace(size=4, dtype=np.dtype(np.float16))  # FP16 weights: the host path

    def set_named_weights(self, name, weights, location=None):
        self.weights[name] = self.weakref.ref(weights.array)  # like TensorRT: no reference kept
        return True

    def get_missing_weights(self):
        return []

    def refit_cuda_engine_async(self, stream):
        host = self.weights["k"]()
        self.engine.k = host.astype(np.float32).reshape(1, 4)
        self.refits += 1
        self.cudart.pending_reads.append(self.weakref.ref(host))
        return True


def refit_engines(cudart: FakeCudart) -> dict[str, LoadedEngine]:
    """`template` (z -> k = 2z, per target) and a refittable `search` (x -> y = x + k, k its
    refit weight fed from template's output), TensorRT-RTX style (device refit API present)."""
    f32, graphs = np.dtype(np.float32), ["template", "search"]
    template = FakeEngine({"z": Tensor((1, 4), f32, True), "k": Tensor((1, 4), f32, False)},
                          lambda t: {"k": 2 * t["z"]})
    search = FakeEngine({"x": Tensor((1, 4), f32, True), "y": Tensor((1, 4), f32, False)},
                        lambda t: {"y": t["x"] + search.k})
    search.refittable, search.k = True, np.zeros((1, 4), np.float32)
    trt = SimpleNamespace(**vars(FAKE_TRT), DataType=SimpleNamespace(FLOAT=np.dtype(np.float32)),
                          TensorLocation=SimpleNamespace(DEVICE="device"),
                          Weights=lambda *args: SimpleNamespace(array=args[0]) if len(args) == 1 else args,
                          Refitter=lambda engine, logger: FakeRefitter(engine, logger, cudart))
    engines = {"template": loaded("template", template, "target", graphs),
               "search": loaded("search", search, "frame", graphs)}
    engines["search"].meta["refit"] = {"weights": [{"name": "k", "shape": [1, 4], "dtype": "float16"}]}
    for e in engines.values():
        e.trt = trt
    return engines
