"""Tracing one torch module to ONNX with static shapes and the contract's tensor names.

Exporter: torch.onnx.export with dynamo=False (the TorchScript-based exporter). In torch 2.13 it
is deprecated but still the most predictable for these models: static shapes, one ONNX node per
torch op, BatchNorm folded into Conv by constant folding, and `index_select` with `arange +
stride*pos` kept as Gather on a runtime tensor. Its highest opset is 20.
"""
from __future__ import annotations

import io
import warnings

import numpy as np
import torch
from torch import nn

from masktrt.errors import MasktrtError

MIN_OPSET = 13  # Resize with nearest_mode/coordinate modes as used here, Slice/Pad as inputs, Gather


def max_opset() -> int:
    """The TorchScript exporter's highest opset in the installed torch (20 in 2.1..2.13)."""
    from torch.onnx import _constants

    return int(getattr(_constants, "ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET", 20))


def check_opset(opset: int) -> None:
    top = max_opset()
    if not MIN_OPSET <= opset <= top:
        raise MasktrtError(f"opset {opset} is not supported",
                           f"choose an opset from {MIN_OPSET} to {top} (17 is the tested default)")


def trace_to_onnx(module: nn.Module, feeds: dict[str, np.ndarray], opset: int,
                  inputs: tuple[str, ...], outputs: tuple[str, ...], batch: bool = False) -> bytes:
    """One graph as serialized ONNX (static shapes, the given tensor names). Batch 1, or with
    `batch` a symbolic leading dimension on every input and output (the target batch; trace
    such graphs with feeds of 2+ distinct targets so no op is specialised to a batch of 1)."""
    args = tuple(torch.from_numpy(np.ascontiguousarray(feeds[n])) for n in inputs)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # The TorchScript exporter's deprecation notice and tracer warnings about converting
        # tensor shapes to Python ints (intended: every shape here is static).
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), args, buffer, dynamo=False, opset_version=opset,
                          input_names=list(inputs), output_names=list(outputs),
                          do_constant_folding=True, dynamic_axes=batch_axes(inputs + outputs, batch))
    return buffer.getvalue()


BATCH_AXIS = "batch"  # the symbolic name of the target dimension in batched graphs


def batch_axes(names: tuple[str, ...], batch: bool) -> dict[str, dict[int, str]] | None:
    """torch.onnx's dynamic_axes for a batched graph: dimension 0 of every tensor (None: static)."""
    return {n: {0: BATCH_AXIS} for n in names} if batch else None
