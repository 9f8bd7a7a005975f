"""The backends (inference libraries, by name) and `open_runner`, which opens one's runner.

A backend is a name ("torch", "onnxruntime", "tensorrt"); a runner is the object it opens
(`GraphRunner`). Trackers are bound to runners in one place: runtime.session.

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


def open_runner(backend: str, **options: Any) -> GraphRunner:
    """Open `backend`'s runner; options are its factory's keyword arguments."""
    if backend not in BACKENDS:
        raise MasktrtError(f"unknown backend '{backend}'", f"choose one of: {', '.join(BACKENDS)}")
    module_name, factory, extra = BACKENDS[backend]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise MasktrtError(f"backend '{backend}' is unavailable ({exc})",
                           f"install it with: pip install 'masktrt[{extra}]'") from exc
    return getattr(module, factory)(**options)


__all__ = ["GraphRunner", "RunnerBase", "BACKENDS", "open_runner"]

