"""Full TensorRT's timing cache: read before a build, written after it, one per GPU and version.

TensorRT-RTX has no timing cache (it tunes on the target GPU at run time), so these are no-ops
for it. Keyed by module, version and GPU name, because timings from another GPU mislead the
tactic choice.
"""
from __future__ import annotations

from pathlib import Path

from masktrt.runtime.engine_loader import Gpu
from masktrt.runtime.trt_module import Flavour

from .request import BuildRequest


def cache_path(request: BuildRequest, flavour: Flavour, gpu: Gpu | None) -> Path | None:
    if not flavour.uses_timing_cache:
        return None
    if request.timing_cache:
        return Path(request.timing_cache)
    tag = gpu.name.replace(" ", "_") if gpu else "nogpu"
    return request.out_dir() / f"timing-{flavour.module}-{flavour.version}-{tag}.cache"


def read_cache(path: Path | None) -> bytes | None:
    return path.read_bytes() if path and path.is_file() else None


def write_cache(path: Path | None, cache: bytes | None) -> str | None:
    """Store the updated cache; returns the note to show the user (None: nothing written)."""
    if not (path and cache):
        return None
    from masktrt.files import write_bytes

    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(path, cache)
    return f"timing cache: {path}"
