"""Tiny stand-ins for the exported template/search/refine graphs, made with onnx's helper API.

Same roles and the same traps as the real ones, at toy sizes so each TensorRT-RTX build takes a
fraction of a second: the search graph's correlation is a grouped Conv whose weights are a graph
input (`dynamic`) or shifted slices times taps (`unrolled`); refine gathers a window at an int64
`pos` (or, for the trap, pads and slices at it). `write_export` writes a folder shaped like
`masktrt export`'s output, deploy.json included.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
C, K = 4, 3  # channels, correlation kernel side


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
    w = rng.standard_normal((C, 3, 3, 3)).astype(np.float32)
    return _model([helper.make_node("Conv", ["z", "w"], ["kernel"])], "template",
                  [_vi("z", [1, 3, K + 2, K + 2])], [_vi("kernel", [1, C, K, K])], [_init("w", w)])


def search_graph(rng, xcorr: str) -> onnx.ModelProto:
    """x 1x3x9x9 + kernel 1xCxKxK -> corr 1xCx5x5 and feat 1xCx7x7."""
    w = rng.standard_normal((C, 3, 3, 3)).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w"], ["feat"])]
    inits = [_init("w", w)]
    if xcorr == "dynamic":
        nodes += [helper.make_node("Reshape", ["kernel", "kshape"], ["kw"]),
                  helper.make_node("Conv", ["feat", "kw"], ["corr"], group=C)]
        inits.append(_init("kshape", np.array([C, 1, K, K], np.int64)))
    else:  # unrolled: sum over taps of (shifted 5x5 slice of feat) x (per-channel tap)
        parts = []
        for dy in range(K):
            for dx in range(K):
                tag = f"{dy}{dx}"
                nodes += [helper.make_node("Slice", ["feat", f"s{tag}", f"e{tag}", "axes"], [f"sl{tag}"]),
                          helper.make_node("Slice", ["kernel", f"t{tag}", f"u{tag}", "axes"], [f"tap{tag}"]),
                          helper.make_node("Mul", [f"sl{tag}", f"tap{tag}"], [f"m{tag}"])]
                inits += [_init(f"s{tag}", np.array([dy, dx], np.int64)),
                          _init(f"e{tag}", np.array([dy + 5, dx + 5], np.int64)),
                          _init(f"t{tag}", np.array([dy, dx], np.int64)),
                          _init(f"u{tag}", np.array([dy + 1, dx + 1], np.int64))]
                parts.append(f"m{tag}")
        inits.append(_init("axes", np.array([2, 3], np.int64)))
        nodes.append(helper.make_node("Sum", parts, ["corr"]))
    return _model(nodes, f"search_{xcorr}", [_vi("x", [1, 3, 9, 9]), _vi("kernel", [1, C, K, K])],
                  [_vi("corr", [1, C, 5, 5]), _vi("feat", [1, C, 7, 7])], inits)


def refine_graph(naive: bool = False) -> onnx.ModelProto:
    """feat 1xCx7x7, corr 1xCx5x5, pos int64 (row, col) -> mask 1xCx3x3 window at 2*pos (+ corr).

    naive=True writes the window as pad-then-slice at 2*pos: the trap that makes TensorRT treat
    `pos` as a shape tensor and freeze it.
    """
    inits = [_init("two", np.int64(2)), _init("i0", np.int64(0)), _init("i1", np.int64(1))]
    if naive:
        nodes = [helper.make_node("Pad", ["feat", "pads"], ["fp"]),
                 helper.make_node("Mul", ["pos", "two"], ["st"]),
                 helper.make_node("Add", ["st", "three"], ["en"]),
                 helper.make_node("Slice", ["fp", "st", "en", "axes"], ["win"])]
        inits += [_init("pads", np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64)),
                  _init("three", np.int64(3)), _init("axes", np.array([2, 3], np.int64))]
    else:
        nodes = [helper.make_node("Gather", ["pos", "i0"], ["py"], axis=0),
                 helper.make_node("Gather", ["pos", "i1"], ["px"], axis=0),
                 helper.make_node("Mul", ["py", "two"], ["sy"]), helper.make_node("Mul", ["px", "two"], ["sx"]),
                 helper.make_node("Add", ["ar", "sy"], ["rows"]), helper.make_node("Add", ["ar", "sx"], ["cols"]),
                 helper.make_node("Gather", ["feat", "rows"], ["g"], axis=2),
                 helper.make_node("Gather", ["g", "cols"], ["win"], axis=3)]
        inits.append(_init("ar", np.arange(3, dtype=np.int64)))
    nodes += [helper.make_node("ReduceSum", ["corr", "raxes"], ["cm"], keepdims=1),
              helper.make_node("Add", ["win", "cm"], ["mask"])]
    inits.append(_init("raxes", np.array([2, 3], np.int64)))
    return _model(nodes, "refine", [_vi("feat", [1, C, 7, 7]), _vi("corr", [1, C, 5, 5]),
                                    _vi("pos", [2], TensorProto.INT64)],
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


def _io(values) -> list[dict]:
    names = {TensorProto.FLOAT: "float32", TensorProto.FLOAT16: "float16", TensorProto.INT64: "int64"}
    return [{"name": v.name, "shape": [d.dim_value for d in v.type.tensor_type.shape.dim],
             "dtype": names[v.type.tensor_type.elem_type]} for v in values]


def write_export(folder: Path, xcorr: str = "dynamic", precision: str = "fp32", naive_refine: bool = False,
                 seed: int = 0) -> Path:
    """An export folder: template/search/refine.onnx + deploy.json (the fields the build reads)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    graphs = {"template": template_graph(rng), "search": search_graph(rng, xcorr),
              "refine": refine_graph(naive_refine)}
    if precision == "fp16":
        graphs = {name: to_fp16(m) for name, m in graphs.items()}
    elif precision == "int8":
        graphs["template"] = to_qdq(graphs["template"], folder, seed)
    deploy = {"xcorr": xcorr, "precision": precision, "graphs": {}}
    for name, model in graphs.items():
        onnx.save(model, folder / f"{name}.onnx")
        deploy["graphs"][name] = {"file": f"{name}.onnx", "inputs": _io(model.graph.input),
                                  "outputs": _io(model.graph.output)}
    (folder / "deploy.json").write_text(json.dumps(deploy, indent=2))
    return folder
