"""The TensorRT builder config of one build: precision flags, workspace, timing cache, targets."""
from __future__ import annotations

from typing import Any

from masktrt.runtime.trt_module import Flavour

from .network import Parsed
from .precision import PrecisionPlan
from .request import BuildRequest
from .targets import set_compute_capabilities


def configure(parsed: Parsed, flavour: Flavour, plan: PrecisionPlan, request: BuildRequest,
              timing_cache: bytes | None) -> Any:
    trt = parsed.trt
    config = parsed.builder.create_builder_config()
    _set_flags(trt, config, plan)
    if request.workspace_mb:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(request.workspace_mb) << 20)
    if flavour.uses_timing_cache:
        config.set_timing_cache(config.create_timing_cache(timing_cache or b""), False)
    set_compute_capabilities(trt, config, flavour, tuple(request.compute_capabilities))
    return config


def _set_flags(trt: Any, config: Any, plan: PrecisionPlan) -> None:
    for name in plan.flags:
        config.set_flag(getattr(trt.BuilderFlag, name))
    for name in plan.clear_flags:
        if hasattr(trt.BuilderFlag, name):
            config.clear_flag(getattr(trt.BuilderFlag, name))
