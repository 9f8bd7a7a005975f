"""Graph runners by name, as lazily imported factories.

Nothing heavy is imported until a runner is asked for, so a Jetson with only TensorRT and
cuda-python can run the tracker, and a missing optional backend is a one-line error.
"""
from __future__ import annotations

import importlib
from typing import Any

from masktrt.errors import MasktrtError

from .base import GraphRunner, RunnerBase

# name -> (module, factory, pip extra that provides it)
BACKENDS: dict[str, tuple[str, str, str]] = {
    "torch": ("masktrt.export.torch_backend", "create", "export"),
    "onnxruntime": ("masktrt.runtime.backends.onnxruntime", "create", "onnxruntime"),
    "tensorrt": ("masktrt.runtime.backends.tensorrt", "create", "tensorrt-rtx"),
}


def get_backend(name: str, **options: Any) -> GraphRunner:
    """Create runner `name`; options are the factory's keyword arguments."""
    if name not in BACKENDS:
        raise MasktrtError(f"unknown backend '{name}'", f"choose one of: {', '.join(BACKENDS)}")
    module_name, factory, extra = BACKENDS[name]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise MasktrtError(f"backend '{name}' is unavailable ({exc})",
                           f"install it with: pip install 'masktrt[{extra}]'") from exc
    return getattr(module, factory)(**options)


__all__ = ["GraphRunner", "RunnerBase", "BACKENDS", "get_backend"]

