"""TensorRT / TensorRT-RTX graph runner: every engine of an engine folder on one CUDA stream.

`masktrt build` writes one engine per contract graph, and its metadata records the contract's
graph names, how often each graph runs and its refit weights, so this runner serves any
tracker's engines without a literal name: `run(graph, feeds, keep_on_device)` (runtime.backends.
base). Memory is laid out when the runner is created: one device buffer per engine I/O tensor;
pinned host buffers for the tensors that cross to the host, made on first crossing and reused.

Per call: feeds that are device values (this runner's DeviceTensor, or a gpu_ops.DeviceInput the
crop kernel wrote into this runner's input buffer) are bound by address, nothing uploaded; NumPy
feeds are uploaded. Outputs named in `keep_on_device` come back as DeviceTensor without a copy
(and without a synchronisation when nothing goes to the host); a per-target graph's kept outputs
get fresh buffers per call, owned by the runner until `close()` (they are the target's state),
a per-frame graph's are its own buffers, valid until it runs again. Other outputs are downloaded
and the stream synchronised. Refit weights are fed by name like inputs (runtime.backends.
tensorrt_refit). `device_buffer()` and `stream` let the CUDA pixel kernels (runtime.gpu_ops)
write inputs and read outputs in place. TensorRT-RTX contexts get a runtime cache loaded on start
and saved on close(), so its just-in-time kernels are compiled once per engine and GPU, not once
per process (runtime.backends.tensorrt_runtime_cache). `contract` holds what the engines'
metadata records of the export's contract (tracker, export options, preset, graphs), the way
the ONNX Runtime runner exposes deploy.json, so a tracker reads e.g. RTS's traced sizes (export
option `sizes`) from either runner alike.

Batched engines (export option batch=dynamic; runtime.backends.tensorrt_profiles): their
buffers, device and pinned, are sized once for the largest target count the engine's profiles
allow; each call reads N from the feeds' leading dimension, picks the profile tuned nearest N from
above, sets each batched input's shape to N, binds, reads the output shapes the context infers,
and downloads only those N rows. A batched input may also be fed a list of this runner's device
values (per-target kernels kept on the device), gathered into its buffer by device-to-device
copies, nothing through the host. One execution context per graph switches profiles on the
stream (`set_optimization_profile_async`) when N moves to another profile, rather than one
context per profile: every context holds its own activation memory (and, under TensorRT-RTX, its
own runtime cache), while target counts change seldom, and the switch is ordered on the stream
with the work around it. Input shapes and addresses are set on every call, so a switch (which
leaves them to be set again) needs nothing more.

Scope, honestly: written for a GPU and run here only against fakes of cuda-python and TensorRT
(TensorRT-RTX does not run on the GPUs this workplace has). CUDA graph capture is not done.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Collection, Mapping

import numpy as np
from masktrt.runtime.engine_loader import LoadedEngine, load_folder
from masktrt.runtime.gpu_ops import DeviceInput, DeviceTensorSpec
from masktrt.runtime.trt_module import flavour_of

from masktrt.errors import MasktrtError, require
from masktrt.specs.base import PER_TARGET

from .base import RunnerBase, missing_feeds, opens_lazily
from .tensorrt_memory import DeviceTensor, StreamMemory
from .tensorrt_profiles import (
    BatchProfiles,
    Profile,
    dims,
    max_shape,
    profiles_of,
    rows,
)
from .tensorrt_refit import EngineRefitter
from .tensorrt_runtime_cache import RuntimeCache, runtime_config


def _cudart() -> Any:
    return require("cuda.bindings.runtime", "cuda")


@dataclass
class EngineGraph:
    """One graph's engine, execution context, own buffers and (refittable engines) refitter."""

    name: str
    loaded: LoadedEngine
    context: Any
    runs: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    buffers: dict[str, DeviceTensor]
    refit: EngineRefitter | None = None
    pinned: dict[str, np.ndarray] = field(default_factory=dict)
    runtime_cache: RuntimeCache | None = None  # TensorRT-RTX only
    batch: BatchProfiles | None = None  # a batched engine's profiles (None: batch 1)
    profile: int = 0  # the context's active profile (TensorRT selects profile 0 at first)

    @property
    def per_target(self) -> bool:
        return self.runs == PER_TARGET

    def select(self, profile: Profile, stream: int) -> None:
        """Make `profile` the context's active one, enqueued on the stream (input shapes and
        addresses are set again by every call, as a switch requires)."""
        if profile.index == self.profile:
            return
        if not self.context.set_optimization_profile_async(profile.index, stream):
            raise MasktrtError(f"the {self.name} engine refused optimisation profile {profile.index}",
                               "rebuild the engines with 'masktrt build' from the same export")
        self.profile = profile.index

    def set_shape(self, tensor: str, shape: tuple[int, ...]) -> None:
        if not self.context.set_input_shape(tensor, shape):
            raise MasktrtError(f"the {self.name} engine refused shape {shape} for '{tensor}'",
                               "feed at most the target count its profiles allow")

    def bind(self, tensor: str, ptr: int) -> None:
        if not self.context.set_tensor_address(tensor, ptr):
            raise MasktrtError(f"the {self.name} engine refused an address for '{tensor}'",
                               "rebuild the engines with 'masktrt build' from the same export")


@dataclass(frozen=True)
class EngineContract:
    """The part of the export's contract an engine's metadata records (engines.metadata
    `contract_entry`): what trackers read off a runner's `contract`."""

    tracker: str
    graph_names: tuple[str, ...]
    options: dict[str, Any]
    preset: Any
    model: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, meta: Mapping[str, Any]) -> "EngineContract":
        return cls(meta.get("tracker", "siammask"), tuple(meta.get("graphs") or ()),
                   dict(meta.get("options") or {}), meta.get("preset"), dict(meta.get("model") or {}))


def _io(trt: Any, engine: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(inputs, outputs) of an engine, in its own order."""
    names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
    is_input = [engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT for n in names]
    return (tuple(n for n, i in zip(names, is_input) if i), tuple(n for n, i in zip(names, is_input) if not i))


class TensorRTRunner(RunnerBase):
    """GraphRunner over the engines `masktrt build` wrote into one folder."""

    def __init__(self, engine_dir: str | Path) -> None:
        self.dir = Path(engine_dir)
        self.engines = load_folder(self.dir)  # checks metadata, TensorRT and GPU first
        first = next(iter(self.engines.values())).meta
        self.name = f"{first['tensorrt']['module']}-{first['precision']}"
        self.tracker, self.preset = first.get("tracker", "siammask"), first.get("preset")
        self.contract = EngineContract.of(first)
        self.memory = StreamMemory(_cudart())
        self._serial = 0
        try:
            self.graphs = {g: self._graph(g, loaded) for g, loaded in self.engines.items()
                           if not opens_lazily(self.tracker, g)}
        except BaseException:
            self.close()
            raise

    # -- setup ---------------------------------------------------------------------------------
    def _graph(self, name: str, loaded: LoadedEngine) -> EngineGraph:
        inputs, outputs = _io(loaded.trt, loaded.engine)
        context, cache = self._context(loaded)
        graph = EngineGraph(name, loaded, context, loaded.meta.get("runs", "frame"), inputs, outputs, {},
                            runtime_cache=cache, batch=profiles_of(loaded.engine, inputs))
        if graph.batch is not None:
            self._widest(graph)
        for tensor in inputs + outputs:
            graph.buffers[tensor] = self._buffer(graph, tensor)
            graph.bind(tensor, graph.buffers[tensor].ptr)
        if loaded.meta.get("refit"):
            graph.refit = EngineRefitter(loaded.trt, loaded)
        return graph

    @staticmethod
    def _context(loaded: LoadedEngine) -> tuple[Any, RuntimeCache | None]:
        """An execution context; TensorRT-RTX's with its runtime cache of compiled kernels."""
        if not flavour_of(loaded.trt).rtx:
            return loaded.engine.create_execution_context(), None
        config, cache = runtime_config(loaded.engine, loaded.meta, loaded.gpu)
        return loaded.engine.create_execution_context(runtime_config=config), cache

    def _widest(self, g: EngineGraph) -> None:
        """Set every batched input to its largest shape, so the context reports each tensor's
        largest shape: what the buffers are sized for, once."""
        widest = g.batch.widest
        g.select(widest, self.memory.handle)
        for tensor in g.batch.dynamic:
            g.set_shape(tensor, max_shape(g.loaded.engine, tensor, widest))

    def _spec(self, g: EngineGraph, tensor: str) -> tuple[tuple[int, ...], np.dtype]:
        engine = g.loaded.engine
        shape = self._shape(g, tensor) if g.batch else dims(engine.get_tensor_shape(tensor))
        return shape, np.dtype(g.loaded.trt.nptype(engine.get_tensor_dtype(tensor)))

    def _buffer(self, g: EngineGraph, tensor: str) -> DeviceTensor:
        shape, dtype = self._spec(g, tensor)
        return DeviceTensor(tensor, shape, dtype, self.memory.malloc(int(np.prod(shape)) * dtype.itemsize))

    @staticmethod
    def _shape(g: EngineGraph, tensor: str) -> tuple[int, ...]:
        """A tensor's shape as the context has it now (outputs: inferred from the inputs')."""
        shape = dims(g.context.get_tensor_shape(tensor))
        if any(d < 0 for d in shape):
            raise MasktrtError(f"the {g.name} engine left the shape of '{tensor}' unknown: {shape}",
                               "rebuild the engines with 'masktrt build' from the same export")
        return shape

    def _pinned(self, graph: EngineGraph, tensor: str) -> np.ndarray:
        if tensor not in graph.pinned:
            own = graph.buffers[tensor]
            graph.pinned[tensor] = self.memory.pin(own.shape, own.dtype)
        return graph.pinned[tensor]

    # -- run -----------------------------------------------------------------------------------
    def graph(self, name: str) -> EngineGraph:
        if self.closed:
            raise MasktrtError("the TensorRT runner was closed", "create a new one")
        if name not in self.engines:
            raise MasktrtError(f"the engines in '{self.dir}' have no graph '{name}'",
                               f"its graphs are: {', '.join(self.engines)}")
        if name not in self.graphs:  # one of a group of alternatives: context and buffers now
            self.graphs[name] = self._graph(name, self.engines[name])
        return self.graphs[name]

    def run(self, graph: str, feeds: Mapping[str, Any],
            keep_on_device: Collection[str] = ()) -> dict[str, Any]:
        """Run one graph's engine on the stream; kept outputs stay on the device (see module doc)."""
        g = self.graph(graph)
        missing_feeds(graph, g.inputs + (g.refit.names if g.refit else ()), feeds)
        keep = self._kept(g, keep_on_device)
        if g.refit is not None:
            g.refit.ensure({n: feeds[n] for n in g.refit.names}, self.memory)
        shapes = self._input_shapes(g, feeds)
        for tensor in g.inputs:
            self._feed(g, tensor, feeds[tensor], shapes[tensor])
        targets = {t: self._target(g, t, t in keep, self._output_shape(g, t)) for t in g.outputs}
        if not g.context.execute_async_v3(self.memory.handle):
            raise MasktrtError(f"the {graph} engine failed to run", "see TensorRT's message above")
        return self._collect(g, targets, keep)

    def _kept(self, g: EngineGraph, keep: Collection[str]) -> frozenset[str]:
        unknown = [n for n in keep if n not in g.outputs]
        if unknown:
            raise MasktrtError(f"graph '{g.name}' has no outputs {unknown} to keep on the device",
                               f"its outputs are: {', '.join(g.outputs)}")
        return frozenset(keep)

    # -- target counts (batched engines) ----------------------------------------------------------
    def _input_shapes(self, g: EngineGraph, feeds: Mapping[str, Any]) -> dict[str, tuple[int, ...]]:
        """This call's input shapes; on a batched engine, its profile chosen and shapes set."""
        if g.batch is None:
            return {t: g.buffers[t].shape for t in g.inputs}
        n = self._count(g, feeds)
        g.batch.check(g.name, n)
        g.select(g.batch.choose(n), self.memory.handle)
        shapes = {t: rows(g.buffers[t].shape, n) if t in g.batch.dynamic else g.buffers[t].shape
                  for t in g.inputs}
        for tensor in g.batch.dynamic:
            g.set_shape(tensor, shapes[tensor])
        return shapes

    @staticmethod
    def _count(g: EngineGraph, feeds: Mapping[str, Any]) -> int:
        """N: the batched feeds' common leading dimension (1 when only crops written in place)."""
        counts = {t: n for t in g.batch.dynamic if (n := _leading(feeds[t])) is not None}
        if len(set(counts.values())) > 1:
            raise MasktrtError(f"graph '{g.name}' was fed different target counts {counts}",
                               "feed every batched input one row per target")
        return next(iter(counts.values()), 1)

    def _output_shape(self, g: EngineGraph, tensor: str) -> tuple[int, ...]:
        return self._shape(g, tensor) if g.batch else g.buffers[tensor].shape

    # -- feeds ---------------------------------------------------------------------------------
    def _feed(self, g: EngineGraph, tensor: str, value: Any, shape: tuple[int, ...]) -> None:
        """Bind a device value by address, gather device rows, or upload a host value."""
        own = g.buffers[tensor]
        if isinstance(value, DeviceTensor):
            self._check_device_value(g, own, value, shape)
            g.bind(tensor, value.ptr)
            return
        g.bind(tensor, own.ptr)
        if _device_rows(value):
            self._gather(g, own, list(value), shape)
            return
        if isinstance(value, DeviceInput):
            if value.ptr != own.ptr:
                raise MasktrtError(f"the {g.name} input '{tensor}' was cropped into another buffer",
                                   "build the device ops from this runner's device_buffer()")
            return
        self.memory.upload(own.ptr, _prefix(self._pinned(g, tensor), shape), value)

    def _gather(self, g: EngineGraph, own: DeviceTensor, values: list[DeviceTensor],
                shape: tuple[int, ...]) -> None:
        """Stack per-target device values into the own buffer, one device copy each, in order."""
        offset = 0
        for value in values:
            self._check_device_value(g, own, value, rows(shape, value.shape[0]))
            self.memory.copy_device(own.ptr + offset, value.ptr, value.nbytes)
            offset += value.nbytes

    def _check_device_value(self, g: EngineGraph, own: DeviceTensor, value: DeviceTensor,
                            shape: tuple[int, ...]) -> None:
        if not self.memory.owns(value.ptr):
            raise MasktrtError(f"the {g.name} input '{own.name}' was fed a device value of another runner",
                               "feed outputs of this runner's own run() calls")
        if value.nbytes != _nbytes(shape, own.dtype) or np.dtype(value.dtype) != own.dtype:
            raise MasktrtError(f"the {g.name} input '{own.name}' takes {shape} {own.dtype}, "
                               f"it was fed {value.shape} {np.dtype(value.dtype)}",
                               "rebuild the engines together from one export with 'masktrt build'")

    def _target(self, g: EngineGraph, tensor: str, kept: bool, shape: tuple[int, ...]) -> DeviceTensor:
        """Where an output is written: a fresh buffer for a kept per-target output, else the own."""
        own = g.buffers[tensor]
        ptr = self.memory.malloc(_nbytes(shape, own.dtype)) if (kept and g.per_target) else own.ptr
        g.bind(tensor, ptr)
        self._serial += 1
        return DeviceTensor(tensor, shape, own.dtype, ptr, self._serial)

    def _collect(self, g: EngineGraph, targets: dict[str, DeviceTensor], keep: frozenset[str]) -> dict[str, Any]:
        """Kept outputs as they are; the others downloaded, only the rows this call wrote."""
        host = {t: _prefix(self._pinned(g, t), targets[t].shape) for t in g.outputs if t not in keep}
        for tensor, view in host.items():
            self.memory.download(view, targets[tensor].ptr)
        if host:
            self.memory.sync()
        return {t: targets[t] if t in keep else host[t].copy() for t in g.outputs}

    # -- device seams for the pixel kernels ------------------------------------------------------
    @property
    def stream(self) -> int:
        """The stream's handle value (int(cudaStream_t)), for kernels launched around the engines."""
        return self.memory.handle

    def device_buffer(self, graph: str, tensor: str) -> DeviceTensorSpec:
        """This runner's own buffer of one engine tensor, which kernels may write or read in place."""
        g = self.graph(graph)
        if tensor not in g.buffers:
            raise MasktrtError(f"graph '{graph}' has no tensor '{tensor}'",
                               f"its tensors are: {', '.join(g.buffers)}")
        own = g.buffers[tensor]
        return DeviceTensorSpec(own.ptr, own.dtype, own.shape)

    # -- release -------------------------------------------------------------------------------
    def close(self) -> None:
        """Synchronise, then free device and pinned memory and the stream, and save TensorRT-RTX's
        runtime caches for the next process; unusable afterwards."""
        if getattr(self, "memory", None) is not None:
            self.memory.close()
        for g in getattr(self, "graphs", {}).values():
            g.pinned.clear()  # no host view of freed pinned memory stays reachable
            if g.runtime_cache is not None and not self.closed:
                g.runtime_cache.save()
        super().close()


def _nbytes(shape: tuple[int, ...], dtype: np.dtype) -> int:
    return int(np.prod(shape)) * np.dtype(dtype).itemsize


def _prefix(pinned: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The leading rows of a buffer sized for the most targets, as `shape` (same address)."""
    return pinned if pinned.shape == shape else pinned.reshape(-1)[:int(np.prod(shape))].reshape(shape)


def _device_rows(value: Any) -> bool:
    """A list of per-target device values, to be stacked into a batched input on the device."""
    return isinstance(value, (list, tuple)) and bool(value) and all(isinstance(v, DeviceTensor) for v in value)


def _leading(value: Any) -> int | None:
    """A feed's target count (None: a crop written in place, which says nothing of it)."""
    if isinstance(value, DeviceInput):
        return None
    if _device_rows(value):
        return sum(int(v.shape[0]) for v in value)
    shape = value.shape if isinstance(value, DeviceTensor) else np.shape(value)
    return int(shape[0]) if len(shape) else None


def create(engine_dir: str | Path) -> TensorRTRunner:
    return TensorRTRunner(engine_dir)
