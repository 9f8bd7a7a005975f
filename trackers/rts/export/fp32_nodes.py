"""Which nodes of an RTS graph stay FP32 when the graph is converted to FP16.

Sums of squares overflow FP16 (max 65504): InstanceL2Norm sums x^2 over 512x30x52 values and
the GN step length needs ||g||^2 and ||h||^2 over whole filters and memories (§B6 problem 3).
So every ReduceSum stays FP32, with the squaring that feeds it (x^2 itself overflows for |x| >
256) and the shape-only ops in between, and so does the small arithmetic that follows a kept
node (eps, Div, Sqrt, the step length's Clip at 1e-8, which is 0 in FP16) until the result is
applied to a full map again. The map-sized products stay FP16: they are what FP16 is for.
The rule reads the graph, not node names, so it survives onnxslim's renaming and applies to
every graph of the tracker alike.
"""
from __future__ import annotations

import math

import onnx

REDUCTIONS = {"ReduceSum", "ReduceSumSquare", "ReduceL2"}
SHAPE_ONLY = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose"}
SMALL = 64  # a kept node's consumer stays FP32 when its outputs hold at most this many values


def element_counts(proto: onnx.ModelProto) -> dict[str, int]:
    """Values per tensor, from shape inference (unknown shapes are missing)."""
    inferred = onnx.shape_inference.infer_shapes(proto)
    infos = list(inferred.graph.value_info) + list(inferred.graph.output)
    counts = {}
    for info in infos:
        tensor = info.type.tensor_type
        if tensor.HasField("shape") and all(d.HasField("dim_value") for d in tensor.shape.dim):
            counts[info.name] = math.prod(d.dim_value for d in tensor.shape.dim)
    return counts


def is_square(node: onnx.NodeProto) -> bool:
    return (node.op_type == "Mul" and len(node.input) == 2 and node.input[0] == node.input[1]) \
        or node.op_type == "Pow"


def feeding_square(node: onnx.NodeProto, producers: dict[str, onnx.NodeProto]) -> list[str]:
    """The squaring Mul behind a reduction and the shape-only nodes between them."""
    chain, current = [], producers.get(node.input[0])
    while current is not None and current.op_type in SHAPE_ONLY:
        chain.append(current.name)
        current = producers.get(current.input[0])
    return chain + [current.name] if current is not None and is_square(current) else []


def fp32_nodes(proto: onnx.ModelProto) -> list[str]:
    """Names of the nodes to keep FP32 (all nodes must be named; the exporter names them)."""
    producers = {out: n for n in proto.graph.node for out in n.output}
    counts = element_counts(proto)
    kept: set[str] = set()
    for node in proto.graph.node:  # topological order: a consumer comes after its producers
        fed = any(producers[i].name in kept for i in node.input if i in producers)
        small = all(counts.get(o, SMALL + 1) <= SMALL for o in node.output)
        if node.op_type in REDUCTIONS:
            kept |= {node.name, *feeding_square(node, producers)}
        elif fed and small:
            kept.add(node.name)
    return sorted(kept)
