"""Device and pinned host memory on one CUDA stream, owned and freed together (cuda-python).

The TensorRT runner allocates everything here, so one `close()` synchronises the stream, frees
every device and pinned allocation, destroys the stream and drops the host views of the freed
pinned memory (nothing reachable points into freed memory afterwards).

Pinned buffers are reused across calls; the host writes into them, the copies run on the stream.
So a pinned buffer whose copy may still be pending is not rewritten until the stream has been
synchronised (`stage`), and host memory a pending operation reads (refit weights) is kept alive
until the next synchronisation (`keep_until_sync`).
"""
from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Any

import numpy as np

from masktrt.errors import MasktrtError


def cuda_check(cudart: Any, result: Any) -> Any:
    """cuda-python returns (error, values...): raise on error, return the values."""
    err, *values = result if isinstance(result, tuple) else (result,)
    if int(err) != 0:
        _, text = cudart.cudaGetErrorString(err)
        raise MasktrtError(f"CUDA call failed: {text.decode() if isinstance(text, bytes) else text}",
                           "check the GPU and driver (nvidia-smi)")
    return values[0] if len(values) == 1 else (tuple(values) or None)


@dataclass(frozen=True)
class DeviceTensor:
    """A runner's device buffer holding one tensor value.

    `serial` names the write that produced the value (unique per runner), so a consumer can tell
    two values in the same buffer apart (refit: refit again only for other weights).
    """

    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    ptr: int
    serial: int = 0

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape)) * np.dtype(self.dtype).itemsize


class StreamMemory:
    """One stream plus every allocation made for it; `close()` releases all of it."""

    def __init__(self, cudart: Any) -> None:
        self.cudart = cudart
        self.stream = self._call(cudart.cudaStreamCreate())
        self.device: set[int] = set()
        self.pinned: dict[int, np.ndarray] = {}  # pointer -> host view
        self._pending: set[int] = set()  # pinned buffers with copies that may be in flight
        self._keep: list[Any] = []  # host memory pending work reads

    @property
    def handle(self) -> int:
        """The stream's handle value (int(cudaStream_t)); getPtr() would be the wrapper's address."""
        return int(self.stream)

    def _call(self, result: Any) -> Any:
        return cuda_check(self.cudart, result)

    # -- allocation ----------------------------------------------------------------------------
    def malloc(self, nbytes: int) -> int:
        ptr = int(self._call(self.cudart.cudaMalloc(max(int(nbytes), 1))))
        self.device.add(ptr)
        return ptr

    def owns(self, ptr: int) -> bool:
        return ptr in self.device

    def pin(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """A NumPy view of page-locked host memory, so copies to and from the GPU are async."""
        nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
        ptr = int(self._call(self.cudart.cudaMallocHost(max(nbytes, 1))))
        view = np.frombuffer((ctypes.c_byte * nbytes).from_address(ptr), dtype=dtype).reshape(shape)
        self.pinned[ptr] = view
        return view

    # -- copies --------------------------------------------------------------------------------
    def _copy(self, dst: int, src: int, nbytes: int, kind: str) -> None:
        kind = getattr(self.cudart.cudaMemcpyKind, kind)
        self._call(self.cudart.cudaMemcpyAsync(dst, src, nbytes, kind, self.stream))

    def stage(self, pinned: np.ndarray) -> np.ndarray:
        """`pinned`, once no copy from or to it can still be pending (the host may write it)."""
        if pinned.ctypes.data in self._pending:
            self.sync()
        return pinned

    def upload(self, ptr: int, pinned: np.ndarray, value: Any) -> None:
        self.stage(pinned)[...] = np.asarray(value).reshape(pinned.shape)
        self._copy(ptr, pinned.ctypes.data, pinned.nbytes, "cudaMemcpyHostToDevice")
        self._pending.add(pinned.ctypes.data)

    def download(self, pinned: np.ndarray, ptr: int) -> None:
        """Enqueue a copy into `pinned`; its values are there after `sync()`."""
        self._copy(self.stage(pinned).ctypes.data, ptr, pinned.nbytes, "cudaMemcpyDeviceToHost")
        self._pending.add(pinned.ctypes.data)

    def copy_device(self, dst: int, src: int, nbytes: int) -> None:
        """Enqueue a device-to-device copy (stacking per-target values into a batched input)."""
        self._copy(dst, src, nbytes, "cudaMemcpyDeviceToDevice")

    def fetch(self, tensor: DeviceTensor) -> np.ndarray:
        """A synchronous copy of a device tensor into new (pageable) host memory."""
        out = np.empty(tensor.shape, np.dtype(tensor.dtype))
        self._copy(out.ctypes.data, tensor.ptr, out.nbytes, "cudaMemcpyDeviceToHost")
        self.sync()
        return out

    def keep_until_sync(self, value: Any) -> None:
        self._keep.append(value)

    def sync(self) -> None:
        self._call(self.cudart.cudaStreamSynchronize(self.stream))
        self._pending.clear()
        self._keep.clear()

    # -- release -------------------------------------------------------------------------------
    def close(self) -> None:
        """Wait for the stream's work, then free everything and destroy the stream (idempotent)."""
        if self.stream is None:
            return
        self.cudart.cudaStreamSynchronize(self.stream)  # nothing in flight touches what is freed
        for ptr in self.device:
            self.cudart.cudaFree(ptr)
        for ptr in self.pinned:
            self.cudart.cudaFreeHost(ptr)
        self.cudart.cudaStreamDestroy(self.stream)
        self.device, self.pinned, self._pending, self._keep = set(), {}, set(), []
        self.stream = None
