"""The parsed TensorRT network of one ONNX graph, and what can be checked on it without a GPU.

Parsing needs no GPU (TensorRT-RTX even builds ahead of time on the CPU), so every property the
runtime relies on is checked here, at build time and in CI: parser errors collected into one line,
the I/O the network really has against the contract, and no input used as a shape tensor (the
pad-then-slice trap, which would freeze one value of an input, such as a crop position, into the
engine).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from masktrt.errors import MasktrtError

from masktrt.runtime.trt_module import error_logger, flavour_of

_DTYPES = {"FLOAT": "float32", "HALF": "float16", "BF16": "bfloat16", "INT8": "int8",
           "UINT8": "uint8", "INT32": "int32", "INT64": "int64", "BOOL": "bool"}


@dataclass
class Parsed:
    """Builder, network and parser kept together: the network dies with its builder."""

    trt: ModuleType
    logger: Any
    builder: Any
    network: Any
    parser: Any


def parse_onnx(trt: ModuleType, path: Path, strongly_typed: bool = False) -> Parsed:
    """Parse one ONNX file; every parser error is collected into one MasktrtError."""
    flavour = flavour_of(trt)
    logger = error_logger(trt)
    builder = trt.Builder(logger)
    flags = 0
    creation = trt.NetworkDefinitionCreationFlag
    if flavour.needs_explicit_batch_flag:
        flags |= 1 << int(creation.EXPLICIT_BATCH)
    if strongly_typed and not flavour.always_strongly_typed and hasattr(creation, "STRONGLY_TYPED"):
        flags |= 1 << int(creation.STRONGLY_TYPED)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(path)):
        errors = [f"{parser.get_error(i).node_name() or 'node ' + str(parser.get_error(i).node())}: "
                  f"{parser.get_error(i).desc()}" for i in range(parser.num_errors)]
        raise MasktrtError(f"{flavour.module} {flavour.version} cannot parse '{path}': "
                           + "; ".join(errors or logger.errors or ["unknown error"]),
                           "check the export (masktrt export) or use a newer TensorRT")
    return Parsed(trt, logger, builder, network, parser)


def dtype_name(dtype: Any) -> str:
    return _DTYPES.get(str(dtype).split(".")[-1], str(dtype).split(".")[-1].lower())


def network_io(network: Any) -> dict[str, list[dict[str, Any]]]:
    """I/O names, shapes and dtypes as the parsed network reports them (no GPU needed)."""

    def one(t: Any) -> dict[str, Any]:
        return {"name": t.name, "shape": [int(d) for d in t.shape], "dtype": dtype_name(t.dtype)}

    return {"inputs": [one(network.get_input(i)) for i in range(network.num_inputs)],
            "outputs": [one(network.get_output(i)) for i in range(network.num_outputs)]}


def graph_precision(network: Any) -> str:
    """'int8' with Q/DQ layers, 'fp16' with half tensors inside, else 'fp32' (read, not assumed)."""
    half = False
    for i in range(network.num_layers):
        layer = network.get_layer(i)
        if str(layer.type).split(".")[-1] in ("QUANTIZE", "DEQUANTIZE"):
            return "int8"
        half = half or any(dtype_name(layer.get_output(j).dtype) == "float16"
                           for j in range(layer.num_outputs))
    return "fp16" if half else "fp32"


def shape_tensor_inputs(network: Any) -> list[str]:
    """Inputs TensorRT uses as shape tensors. Our graphs have static shapes, so any such input
    (e.g. a crop position that drives a Slice) would be frozen at build time: always a bug."""
    return [network.get_input(i).name for i in range(network.num_inputs)
            if network.get_input(i).is_shape_tensor]


def check_no_shape_inputs(network: Any, path: Path) -> None:
    baked = shape_tensor_inputs(network)
    if baked:
        raise MasktrtError(
            f"'{path}': input(s) {', '.join(baked)} are used as shape tensors, so TensorRT would "
            "bake one value into the engine (the pad-then-slice trap)",
            "export the windows with Gather over arange + stride*pos so the input stays data")


def io_mismatches(actual: dict[str, list], expected: dict[str, list]) -> list[str]:
    """Differences between the network's I/O and the contract's, as readable phrases."""
    problems = []
    for kind in ("inputs", "outputs"):
        have = {t["name"]: t for t in actual[kind]}
        want = {t["name"]: t for t in expected[kind]}
        for name in sorted(set(want) - set(have)):
            problems.append(f"{kind[:-1]} '{name}' missing")
        for name in sorted(set(have) - set(want)):
            problems.append(f"unexpected {kind[:-1]} '{name}'")
        for name in sorted(set(have) & set(want)):
            for key in ("shape", "dtype"):
                if have[name][key] != want[name][key]:
                    problems.append(f"{name} {key} {have[name][key]} != deploy.json {want[name][key]}")
    return problems
