"""Which GPUs an engine may run on: recorded in its metadata, checked when it is loaded.

TensorRT-RTX builds ahead of time for a set of compute capabilities (its default set, or those
given with --compute-capability); full TensorRT builds for the GPU it runs on.
"""
from __future__ import annotations

from typing import Any

from masktrt.errors import MasktrtError
from masktrt.runtime.engine_loader import Gpu, cc_text, cc_tuple
from masktrt.runtime.trt_module import RTX_DEFAULT_MIN_CC, Flavour

from .request import BuildRequest


def targets(flavour: Flavour, request: BuildRequest, gpu: Gpu | None) -> dict[str, Any]:
    """The metadata's `targets`: what the load-time check compares the GPU with."""
    if flavour.rtx and request.compute_capabilities:
        return {"compute_capabilities": list(request.compute_capabilities), "kind": "explicit"}
    if flavour.rtx:
        return {"compute_capabilities": None, "kind": "ahead-of-time default",
                "min_compute_capability": cc_text(RTX_DEFAULT_MIN_CC)}
    return {"compute_capabilities": [cc_text(gpu.compute_capability)] if gpu else None,
            "kind": "build GPU"}


def set_compute_capabilities(trt: Any, config: Any, flavour: Flavour, wanted: tuple[str, ...]) -> None:
    """Ask TensorRT-RTX for explicit targets; an unknown one names those it knows."""
    if not wanted:
        return
    if not flavour.rtx:
        raise MasktrtError("--compute-capability is a TensorRT-RTX option (full TensorRT builds "
                           "for the GPU it runs on)", "drop it, or use --backend tensorrt-rtx")
    config.num_compute_capabilities = len(wanted)
    for i, cc in enumerate(wanted):
        config.set_compute_capability(_target(trt, flavour, cc), i)


def _target(trt: Any, flavour: Flavour, cc: str) -> Any:
    major, minor = cc_tuple(cc)
    target = getattr(trt.ComputeCapability, f"SM{major}{minor}", None)
    if target is None:
        known = [n[2:-1] + "." + n[-1] for n in dir(trt.ComputeCapability) if n.startswith("SM")]
        raise MasktrtError(f"{flavour.module} {flavour.version} cannot target compute capability {cc}",
                           "choose one of: " + ", ".join(known))
    return target
