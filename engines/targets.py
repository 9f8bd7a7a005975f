"""Which GPUs an engine may run on: checked against the support matrix, recorded in its metadata,
checked again when it is loaded.

TensorRT-RTX builds ahead of time for a set of compute capabilities (its default set, or those
given with --compute-capability), each of which its support matrix must list
(runtime.trt_module.RTX_SUPPORT_MATRIX); full TensorRT builds for the GPU it runs on.
"""
from __future__ import annotations

from typing import Any

from masktrt.errors import MasktrtError
from masktrt.runtime.engine_loader import Gpu, cc_text, cc_tuple
from masktrt.runtime.trt_module import RTX_DEFAULT_TARGETS, Flavour, check_supported

from .request import BuildRequest

# the fix when a GPU or target is outside TensorRT-RTX's support matrix
OTHER_TENSORRT = ("use full TensorRT on that GPU (masktrt build --backend tensorrt there), or "
                  "--backend onnxruntime")


def targets(flavour: Flavour, request: BuildRequest, gpu: Gpu | None) -> dict[str, Any]:
    """The metadata's `targets`: what the load-time check compares the GPU with."""
    if flavour.rtx and request.compute_capabilities:
        return {"compute_capabilities": [normal_cc(c) for c in request.compute_capabilities],
                "kind": "explicit"}
    if flavour.rtx:
        return {"compute_capabilities": list(RTX_DEFAULT_TARGETS), "kind": "ahead-of-time default"}
    return {"compute_capabilities": [cc_text(gpu.compute_capability)] if gpu else None,
            "kind": "build GPU"}


def normal_cc(text: str) -> str:
    """'8.6' as the support matrix writes it; anything else is a one-line error."""
    try:
        return cc_text(cc_tuple(text))
    except ValueError:
        raise MasktrtError(f"--compute-capability '{text}' is not of the form MAJOR.MINOR",
                           "give it like 8.6 (RTX 30), 8.9 (RTX 40) or 12.0 (RTX 50)") from None


def check_targets(flavour: Flavour, request: BuildRequest, gpu: Gpu | None) -> None:
    """Refuse a TensorRT-RTX build for a GPU its support matrix does not list: each explicit
    target, or (building for the default set) the GPU of this machine, which the user would
    then expect the engines to run on."""
    if not flavour.rtx:
        return
    for cc in request.compute_capabilities:
        check_supported(flavour, normal_cc(cc), "the --compute-capability target", "drop it; " + OTHER_TENSORRT)
    if not request.compute_capabilities and gpu is not None:
        check_supported(flavour, cc_text(gpu.compute_capability), f"this GPU ({gpu.name})",
                        "build for other GPUs with --compute-capability X.Y, or " + OTHER_TENSORRT)


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
    major, minor = cc_tuple(normal_cc(cc))
    target = getattr(trt.ComputeCapability, f"SM{major}{minor}", None)
    if target is None:
        raise MasktrtError(f"{flavour.module} {flavour.version} cannot target compute capability {cc}",
                           "choose one of: " + ", ".join(flavour.supported_compute_capabilities or ()))
    return target
