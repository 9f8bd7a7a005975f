"""FP16 graphs with FP32 inputs and outputs.

Why FP16 graphs at all: TensorRT-RTX builds strongly typed networks, so an FP16 engine needs
FP16 tensors in the ONNX graph (full TensorRT could also take the FP32 graph with an FP16 flag;
the FP16 graph serves both).

Choice: ONNX Runtime's float16 converter (`onnxruntime.transformers.float16`, already installed
with onnxruntime, which export needs for its checks; it is the maintained fork of
onnxconverter-common's converter) with `keep_io_types=True`, rather than tracing a `.half()`
torch model: it converts the finished, verified FP32 graph (one export path, one set of checks),
keeps Resize's scales and every integer tensor (`pos`, Gather indices) untouched, and inserts the
Casts at the boundaries itself. The runtime then feeds and reads float32 whatever the precision,
so deploy.json's I/O tables and the runtime's buffers do not change with precision; the casts
cost a few microseconds against the convolutions. All three graphs are converted by default;
`--fp32-template` keeps the once-per-target template graph FP32 (onnx_export.ExportOptions), and
deploy.json records each graph's `compute_dtype`. Its output has the input casts appended after
their consumers, so the graph is topologically re-sorted by the simplifier afterwards.
"""
from __future__ import annotations

import onnx

from masktrt.errors import require


def to_fp16(model: onnx.ModelProto) -> onnx.ModelProto:
    """Float tensors and weights to float16; graph inputs/outputs stay float32."""
    float16 = require("onnxruntime.transformers.float16", "onnxruntime")
    return float16.convert_float_to_float16(model, keep_io_types=True)


def compute_dtype(model: onnx.ModelProto) -> str:
    """'float16' when any float initializer is FP16 (what the engine will compute in)."""
    half = any(t.data_type == onnx.TensorProto.FLOAT16 for t in model.graph.initializer)
    return "float16" if half else "float32"
