"""TensorRT-RTX's runtime cache: the kernels it compiles just in time, kept across processes.

TensorRT-RTX builds engines ahead of time without a GPU and compiles their kernels for the GPU
on first use, so a process's first frames wait for that compilation. Its runtime cache
(IRuntimeConfig.create_runtime_cache / set_runtime_cache, IRuntimeCache.serialize / deserialize)
holds the compiled kernels; the runner gives every execution context a runtime config with a
cache loaded from a file on start, and saves the cache back on close(), so the next process
starts with the kernels compiled.

One file per engine and GPU, in masktrt's cache folder (`$MASKTRT_CACHE/rtx-runtime`), named by
the engine's sha256 and the GPU: an engine folder may be read-only or shared by several GPUs, and
a cache is valid only for one GPU and TensorRT-RTX version. TensorRT-RTX checks that itself:
deserialize() rejects a blob from another GPU, version, driver or OS and leaves the cache empty,
which is then filled and saved over the stale file. Full TensorRT has no runtime cache (it
chooses kernels at build time): nothing here applies to it.
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from masktrt.paths import cache_dir

SUFFIX = ".rtxcache"


@dataclass
class RuntimeCache:
    """One engine's runtime cache and the file it is loaded from and saved to."""

    config: Any  # the IRuntimeConfig the context was made with (kept alive with it)
    cache: Any  # the IRuntimeCache
    path: Path | None  # None: the engine has no recorded sha256 to key a file by
    loaded: bool  # a file was there and TensorRT-RTX accepted it

    def save(self) -> None:
        """Write the cache (atomically: a concurrent reader never sees half a file); a failure
        costs only the next start's compilation, so it warns instead of raising."""
        if self.path is None:
            return
        try:
            _write_atomic(self.path, bytes(self.cache.serialize()))
        except OSError as exc:
            warnings.warn(f"could not save TensorRT-RTX's runtime cache to {self.path}: {exc}", stacklevel=2)


def cache_path(meta: dict[str, Any], gpu: Any) -> Path | None:
    """`<engine sha256>-<GPU name>-<compute capability>.rtxcache` in masktrt's cache folder."""
    digest = meta.get("engine_sha256")
    if not digest:
        return None
    gpu_tag = f"{gpu.name}-sm{gpu.compute_capability[0]}{gpu.compute_capability[1]}" if gpu else "gpu"
    return cache_dir("rtx-runtime") / f"{digest[:32]}-{re.sub(r'[^A-Za-z0-9.]+', '_', gpu_tag)}{SUFFIX}"


def runtime_config(engine: Any, meta: dict[str, Any], gpu: Any) -> tuple[Any, RuntimeCache]:
    """A runtime config whose cache holds what earlier processes compiled for this engine and GPU."""
    config = engine.create_runtime_config()
    cache = config.create_runtime_cache()
    path = cache_path(meta, gpu)
    loaded = bool(path and path.is_file() and cache.deserialize(path.read_bytes()))
    config.set_runtime_cache(cache)
    return config, RuntimeCache(config, cache, path, loaded)


def _write_atomic(path: Path, blob: bytes) -> None:
    from masktrt.files import write_bytes

    write_bytes(path, blob)
