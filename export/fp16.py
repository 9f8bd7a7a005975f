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

from collections.abc import Sequence

import onnx

from masktrt.errors import require


def to_fp16(model: onnx.ModelProto, keep_fp32: Sequence[str] = ()) -> onnx.ModelProto:
    """Float tensors and weights to float16; graph inputs/outputs stay float32. `keep_fp32`:
    names of nodes left FP32, with Casts around them (reductions that overflow FP16, which the
    tracker's export side names through `fp32_nodes(graph, proto)`)."""
    float16 = require("onnxruntime.transformers.float16", "onnxruntime")
    half = float16.convert_float_to_float16(model, keep_io_types=True,
                                            node_block_list=list(keep_fp32) or None)
    return without_round_trips(half, set(keep_fp32)) if keep_fp32 else half


def cast_to(node: onnx.NodeProto) -> int | None:
    return next((a.i for a in node.attribute if a.name == "to"), None) if node.op_type == "Cast" \
        else None


def without_round_trips(model: onnx.ModelProto, kept: set[str]) -> onnx.ModelProto:
    """Feed kept nodes each other's FP32 outputs directly. The converter casts every kept node's
    output to FP16 and back even when the consumer is kept too, which would overflow exactly
    where FP32 was asked for (a sum of squares); Casts left without consumers are dropped."""
    nodes = model.graph.node
    producers = {out: n for n in nodes for out in n.output}
    direct = {}
    for node in nodes:
        up = producers.get(node.input[0]) if cast_to(node) == onnx.TensorProto.FLOAT else None
        source = producers.get(up.input[0]) if up is not None and cast_to(up) == onnx.TensorProto.FLOAT16 else None
        if source is not None and source.name in kept:
            direct[node.output[0]] = up.input[0]
    for node in nodes:
        node.input[:] = [direct.get(i, i) for i in node.input]
    while True:
        used = {i for n in nodes for i in n.input} | {o.name for o in model.graph.output}
        dead = [n for n in nodes if n.op_type == "Cast" and not set(n.output) & used]
        if not dead:
            return model
        for node in dead:
            nodes.remove(node)


def compute_dtype(model: onnx.ModelProto) -> str:
    """'float16' when any float initializer is FP16 (what the engine will compute in)."""
    half = any(t.data_type == onnx.TensorProto.FLOAT16 for t in model.graph.initializer)
    return "float16" if half else "float32"
