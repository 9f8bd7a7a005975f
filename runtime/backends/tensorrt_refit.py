"""Refit: weights of an engine set from another graph's outputs, one set at a time.

A graph whose engine metadata lists refit weights (the contract's `refit`: SiamMask's search
under `--xcorr refit`, whose correlation kernels are the template's outputs) takes those weights
by name in `run()`'s feeds, like inputs. The weights then live IN the engine, so it holds one
set at a time: the refitter remembers which values it holds (the runner's serial of a device
value, a digest of a host one) and refits only when fed others (correct for many targets, but a
refit per switch: give each concurrently tracked target its own runner).

FP32 weights on TensorRT 10+ / TensorRT-RTX are refitted straight from their device buffers,
enqueued on the runner's stream (refit_cuda_engine_async); other dtypes go through a host copy
cast to the weights' dtype, kept alive until the stream is synchronised (the refitter reads it
asynchronously). Older TensorRT refits synchronously, with nothing pending on the engine.
"""
from __future__ import annotations

import hashlib
from typing import Any, Mapping

import numpy as np

from masktrt.errors import MasktrtError
from masktrt.runtime.trt_module import flavour_of

from .tensorrt_memory import DeviceTensor, StreamMemory


def _rebuild(meta: dict[str, Any]) -> str:
    return f"rebuild it with: {meta.get('rebuild', 'masktrt build --xcorr refit')}"


def value_key(value: Any) -> tuple:
    """Which values these are: a device value by the write that made it, a host one by content."""
    if isinstance(value, DeviceTensor):
        return ("device", value.ptr, value.serial)
    array = np.ascontiguousarray(value)
    return ("host", array.dtype.str, array.shape, hashlib.blake2b(array.tobytes(), digest_size=16).digest())


class EngineRefitter:
    """One engine's Refitter, its refittable weights, and which values it holds now."""

    def __init__(self, trt: Any, loaded: Any) -> None:
        meta = loaded.meta
        self.trt, self.graph = trt, meta.get("name", "engine")
        self.names = tuple(w["name"] for w in (meta.get("refit") or {}).get("weights", []))
        if not loaded.engine.refittable or not self.names:
            raise MasktrtError(f"the {self.graph} engine was not built refittable with named weights",
                               _rebuild(meta))
        self.refitter = trt.Refitter(loaded.engine, loaded.logger)
        missing = [n for n in self.names if n not in set(self.refitter.get_all_weights())]
        if missing:
            raise MasktrtError(f"the {self.graph} engine has no refittable weights {missing}", _rebuild(meta))
        self.prototypes = {n: self.refitter.get_weights_prototype(n) for n in self.names}
        # device-resident weights and stream-ordered refits: TensorRT 10+ and TensorRT-RTX
        self.on_device = flavour_of(trt).individual_refit and hasattr(self.refitter, "refit_cuda_engine_async")
        self.holds: tuple | None = None  # value_key of each weight now in the engine

    def ensure(self, weights: Mapping[str, Any], memory: StreamMemory) -> bool:
        """Refit with `weights` unless the engine holds them already; True if it refitted."""
        key = tuple(value_key(weights[n]) for n in self.names)
        if key == self.holds:
            return False
        self.holds = None  # a failed refit leaves the engine holding nothing known
        held = [self._set(name, weights[name], memory) for name in self.names]  # noqa: F841 (alive)
        self._check_complete()
        self._refit(memory)
        self.holds = key
        return True

    def _set(self, name: str, value: Any, memory: StreamMemory) -> np.ndarray | None:
        """Hand one weight to the refitter; returns the host copy it reads (None: device)."""
        trt, proto = self.trt, self.prototypes[name]
        count = int(np.prod(value.shape))
        if int(proto.size) != count:
            raise MasktrtError(f"refit weight '{name}' holds {proto.size} values, it was fed {count}",
                               "rebuild the engines together from one export with 'masktrt build'")
        host = None
        if self._from_device(value, proto):
            ok = self.refitter.set_named_weights(name, trt.Weights(trt.DataType.FLOAT, value.ptr, count),
                                                 trt.TensorLocation.DEVICE)
        else:
            host = self._host(value, proto, memory)
            ok = self.refitter.set_named_weights(name, trt.Weights(host))
        if not ok:
            raise MasktrtError(f"TensorRT refused the refit weights '{name}'",
                               "rebuild the engines together from one export with 'masktrt build'")
        return host

    def _from_device(self, value: Any, proto: Any) -> bool:
        return (self.on_device and isinstance(value, DeviceTensor) and proto.dtype == self.trt.DataType.FLOAT
                and np.dtype(value.dtype) == np.float32)

    def _host(self, value: Any, proto: Any, memory: StreamMemory) -> np.ndarray:
        """A host copy cast to the weights' dtype, alive until the stream is synchronised (an
        asynchronous refit reads it after set_named_weights returns)."""
        array = memory.fetch(value) if isinstance(value, DeviceTensor) else np.asarray(value)
        host = np.ascontiguousarray(array.astype(self.trt.nptype(proto.dtype)).reshape(-1))
        memory.keep_until_sync(host)
        return host

    def _check_complete(self) -> None:
        missing = self.refitter.get_missing_weights()
        if missing:
            raise MasktrtError(f"refitting the {self.graph} engine also needs weights {list(missing)}",
                               "rebuild it with 'masktrt build --xcorr refit' (TensorRT 10+ marks only "
                               "the contract's refit weights)")

    def _refit(self, memory: StreamMemory) -> None:
        if self.on_device:
            ok = self.refitter.refit_cuda_engine_async(memory.handle)
        else:  # older TensorRT: a synchronous refit, with nothing pending on the engine
            memory.sync()
            ok = self.refitter.refit_cuda_engine()
        if not ok:
            raise MasktrtError(f"TensorRT failed to refit the {self.graph} engine",
                               "see TensorRT's message above; rebuild with 'masktrt build --xcorr refit'")
