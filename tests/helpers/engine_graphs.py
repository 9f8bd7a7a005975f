"""Tiny stand-ins for the exported template/search/refine graphs, made with onnx's helper API.

Same roles and the same traps as the real ones, at toy sizes so each TensorRT-RTX build takes a
fraction of a second: the search graph's correlation is a grouped Conv whose weights are a graph
input (`dynamic`) or shifted slices times taps (`unrolled`); refine gathers a window at an int64
`pos` (or, for the trap, pads and slices at it). `write_export` writes a folder shaped like
`masktrt export`'s output, deploy.json included.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
C, K = 4, 3  # channels, correlation kernel side
KERNELS = ("k_cls", "k_loc", "k_mask")


def _init(name: str, array) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(array), name)


def _model(nodes, name, inputs, outputs, inits) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, name, inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


def _vi(name, shape, dtype=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dtype, shape)


def template_graph(rng) -> onnx.ModelProto:
    """z 1x3x5x5 -> k_cls, k_loc, k_mask 1xCxKxK."""
    nodes, inits, outs = [], [], []
    for name in KERNELS:
        inits.append(_init(f"w_{name}", rng.standard_normal((C, 3, 3, 3)).astype(np.float32)))
        nodes.append(helper.make_node("Conv", ["z", f"w_{name}"], [name]))
        outs.append(_vi(name, [1, C, K, K]))
    return _model(nodes, "template", [_vi("z", [1, 3, K + 2, K + 2])], outs, inits)


def _xcorr(feat: str, kernel: str, out: str, xcorr: str) -> tuple[list, list]:
    """Depth-wise KxK correlation of feat (1xCx7x7) with kernel (1xCxKxK) -> out 1xCx5x5."""
    if xcorr == "dynamic":  # a grouped Conv whose weights are a graph input
        return ([helper.make_node("Reshape", [kernel, "kshape"], [f"{out}_w"]),
                 helper.make_node("Conv", [feat, f"{out}_w"], [out], group=C)], [])
    nodes, inits, parts = [], [], []
    for dy in range(K):  # unrolled: sum over taps of (shifted 5x5 slice) x (per-channel tap)
        for dx in range(K):
            t = f"{out}{dy}{dx}"
            nodes += [helper.make_node("Slice", [feat, f"{t}s", f"{t}e", "axes"], [f"{t}sl"]),
                      helper.make_node("Slice", [kernel, f"{t}s", f"{t}u", "axes"], [f"{t}tap"]),
                      helper.make_node("Mul", [f"{t}sl", f"{t}tap"], [f"{t}m"])]
            inits += [_init(f"{t}s", np.array([dy, dx], np.int64)),
                      _init(f"{t}e", np.array([dy + 5, dx + 5], np.int64)),
                      _init(f"{t}u", np.array([dy + 1, dx + 1], np.int64))]
            parts.append(f"{t}m")
    nodes.append(helper.make_node("Sum", parts, [out]))
    return nodes, inits


def search_graph(rng, xcorr: str) -> onnx.ModelProto:
    """x 1x3x9x9 + k_cls, k_loc, k_mask -> cls, loc, corr 1xCx5x5 and p0, p1, p2 1xCx7x7."""
    nodes = [helper.make_node("Conv", ["x", "w"], ["p0"]), helper.make_node("Relu", ["p0"], ["p1"]),
             helper.make_node("Sigmoid", ["p0"], ["p2"])]
    inits = [_init("w", rng.standard_normal((C, 3, 3, 3)).astype(np.float32)),
             _init("kshape", np.array([C, 1, K, K], np.int64)), _init("axes", np.array([2, 3], np.int64))]
    for kernel, out in zip(KERNELS, ("cls", "loc", "corr")):
        more_nodes, more_inits = _xcorr("p0", kernel, out, xcorr)
        nodes += more_nodes
        inits += more_inits
    return _model(nodes, f"search_{xcorr}", [_vi("x", [1, 3, 9, 9])] + [_vi(k, [1, C, K, K]) for k in KERNELS],
                  [_vi(n, [1, C, 5, 5]) for n in ("cls", "loc", "corr")]
                  + [_vi(n, [1, C, 7, 7]) for n in ("p0", "p1", "p2")], inits)


def refine_graph(naive: bool = False) -> onnx.ModelProto:
    """p0, p1, p2 1xCx7x7, corr 1xCx5x5, pos int64 (row, col) -> mask: 3x3 windows at 2*pos.

    naive=True cuts p0's window by pad-then-slice at 2*pos: the trap that makes TensorRT treat
    `pos` as a shape tensor and freeze it. Otherwise every window is a Gather at arange + 2*pos.
    """
    inits = [_init("two", np.int64(2)), _init("i0", np.int64(0)), _init("i1", np.int64(1)),
             _init("ar", np.arange(3, dtype=np.int64)), _init("raxes", np.array([2, 3], np.int64))]
    nodes = [helper.make_node("Gather", ["pos", "i0"], ["py"], axis=0),
             helper.make_node("Gather", ["pos", "i1"], ["px"], axis=0),
             helper.make_node("Mul", ["py", "two"], ["sy"]), helper.make_node("Mul", ["px", "two"], ["sx"]),
             helper.make_node("Add", ["ar", "sy"], ["rows"]), helper.make_node("Add", ["ar", "sx"], ["cols"])]
    for p in ("p0", "p1", "p2"):
        if naive and p == "p0":
            nodes += [helper.make_node("Pad", ["p0", "pads"], ["p0pad"]),
                      helper.make_node("Mul", ["pos", "two"], ["st"]),
                      helper.make_node("Add", ["st", "three"], ["en"]),
                      helper.make_node("Slice", ["p0pad", "st", "en", "raxes"], ["p0win"])]
            inits += [_init("pads", np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64)), _init("three", np.int64(3))]
            continue
        nodes += [helper.make_node("Gather", [p, "rows"], [f"{p}g"], axis=2),
                  helper.make_node("Gather", [f"{p}g", "cols"], [f"{p}win"], axis=3)]
    nodes += [helper.make_node("Sum", ["p0win", "p1win", "p2win"], ["wins"]),
              helper.make_node("ReduceSum", ["corr", "raxes"], ["cm"], keepdims=1),
              helper.make_node("Add", ["wins", "cm"], ["mask"])]
    return _model(nodes, "refine", [_vi(p, [1, C, 7, 7]) for p in ("p0", "p1", "p2")]
                  + [_vi("corr", [1, C, 5, 5]), _vi("pos", [2], TensorProto.INT64)],
                  [_vi("mask", [1, C, 3, 3])], inits)


def to_fp16(model: onnx.ModelProto) -> onnx.ModelProto:
    """FP16 inside, FP32 at the edges (keep_io_types), as the FP16 export does."""
    from onnxruntime.transformers.float16 import convert_float_to_float16

    return convert_float_to_float16(model, keep_io_types=True)


def to_qdq(model: onnx.ModelProto, folder: Path, seed: int = 0) -> onnx.ModelProto:
    """A QDQ graph as deployment.md says TensorRT accepts: S8S8, symmetric, biases unquantized."""
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType,
                                          quantize_static)

    rng = np.random.default_rng(seed)
    shapes = {i.name: [d.dim_value for d in i.type.tensor_type.shape.dim] for i in model.graph.input}

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter([{n: rng.standard_normal(s).astype(np.float32) for n, s in shapes.items()}
                               for _ in range(4)])

        def get_next(self):
            return next(self.items, None)

    src, dst = folder / "_float.onnx", folder / "_qdq.onnx"
    onnx.save(model, src)
    quantize_static(str(src), str(dst), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                    extra_options={"QuantizeBias": False, "ActivationSymmetric": True,
                                   "WeightSymmetric": True})
    out = onnx.load(dst)
    src.unlink()
    dst.unlink()
    return out


def write_export(folder: Path, xcorr: str = "dynamic", precision: str = "fp32", naive_refine: bool = False,
                 seed: int = 0) -> Path:
    """An export folder with a deploy.json written by the exporter's own writer.

    precision 'int8' quantizes the template graph only (QDQ), as a calibration may leave parts
    in float; its deploy.json says fp32 (the QDQ nodes, not deploy.json, make it INT8).
    """
    from masktrt.export.deploy import deploy_document, graph_entry, random_source, write_deploy
    from masktrt.trackers.siammask.spec import SPEC

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    graphs = {"template": template_graph(rng), "search": search_graph(rng, xcorr),
              "refine": refine_graph(naive_refine)}
    if precision == "fp16":
        graphs = {name: to_fp16(m) for name, m in graphs.items()}
    elif precision == "int8":
        graphs["template"] = to_qdq(graphs["template"], folder, seed)
    entries = {}
    for name, model in graphs.items():
        onnx.save(model, folder / f"{name}.onnx")
        entries[name] = graph_entry(model, folder / f"{name}.onnx",
                                    "float16" if precision == "fp16" else "float32")
    write_deploy(folder, deploy_document(
        spec=SPEC, graphs=entries, model={"name": "toy", "width": 0.0}, source=random_source(seed),
        options={"correlation": xcorr}, precision="fp16" if precision == "fp16" else "fp32",
        opset=OPSET, preset="davis"))
    return folder
