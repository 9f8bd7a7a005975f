"""How to get an engine of a precision from a graph of another on one TensorRT flavour.

TensorRT-RTX, TensorRT 11+ (which removed BuilderFlag.FP16/INT8 with weak typing) and strongly
typed networks take their types from the graph, so an FP16 engine needs an FP16 graph; TensorRT
8.5-10 takes an FP32 graph plus the FP16 flag. INT8 is explicit quantization only: QDQ graphs
written by `masktrt calibrate`. Decided from (flavour, precision,
graph precision) alone, so it is tested without either TensorRT or a GPU.
"""
from __future__ import annotations

from dataclasses import dataclass

from masktrt.errors import MasktrtError
from masktrt.runtime.trt_module import Flavour

PRECISIONS = ("fp32", "fp16", "int8")


@dataclass(frozen=True)
class PrecisionPlan:
    """How to get an engine of `precision` from a graph of `graph_precision` on one flavour."""

    strongly_typed: bool
    flags: tuple[str, ...]  # BuilderFlag names to set
    clear_flags: tuple[str, ...]  # BuilderFlag names to clear


def precision_plan(flavour: Flavour, precision: str, graph_precision: str,
                   onnx_dir: str = "DIR", others_quantized: bool = False) -> PrecisionPlan:
    """Decide typing and builder flags; an impossible pair is a one-line error with the fix.

    `graph_precision` is what the parsed graph holds: 'fp32', 'fp16' (half tensors) or 'int8'
    (QuantizeLinear/DequantizeLinear nodes). `others_quantized`: another graph of the same INT8
    build has Q/DQ nodes, so a float graph here was left unquantized on purpose (calibration keeps
    fragile parts out of INT8) and is built in FP16 where the flavour allows.
    """
    if precision not in PRECISIONS:
        raise MasktrtError(f"unknown precision '{precision}'", f"choose one of: {', '.join(PRECISIONS)}")
    if precision == "int8":
        if graph_precision != "int8" and others_quantized:
            if flavour.always_strongly_typed:
                return PrecisionPlan(True, (), ())
            return PrecisionPlan(graph_precision == "fp16", () if graph_precision == "fp16" else ("FP16",), ())
        if graph_precision != "int8":
            raise MasktrtError(
                f"--precision int8 needs a QDQ graph (QuantizeLinear/DequantizeLinear nodes), but "
                f"the graphs in {onnx_dir} have none",
                "make one with 'masktrt calibrate' (explicit quantization) and build from its folder")
        if flavour.always_strongly_typed:
            return PrecisionPlan(True, (), ())
        # Explicit quantization on full TensorRT: INT8 where the Q/DQ nodes say, FP16 elsewhere
        # (the correlation and heads stay out of INT8, spec deployment.md).
        return PrecisionPlan(False, ("INT8", "FP16"), ())
    if graph_precision == "int8":
        raise MasktrtError(f"the graphs in {onnx_dir} are quantized (QDQ) but --precision is {precision}",
                           "build them with --precision int8, or export float graphs with 'masktrt export'")
    if graph_precision == precision:
        # FP32 on full TensorRT: no TF32, so FP32 engines keep float32 parity budgets.
        clear = ("TF32",) if (precision == "fp32" and not flavour.rtx) else ()
        return PrecisionPlan(precision == "fp16" or flavour.always_strongly_typed, (), clear)
    if flavour.always_strongly_typed:
        raise MasktrtError(
            f"{flavour.module} {flavour.version} is strongly typed: an {precision.upper()} engine needs "
            f"{precision.upper()} graphs, but the graphs in {onnx_dir} are {graph_precision.upper()}",
            f"export them with: masktrt export --precision {precision} --out {onnx_dir}")
    if precision == "fp16" and graph_precision == "fp32":
        return PrecisionPlan(False, ("FP16",), ())
    raise MasktrtError(f"an FP32 engine cannot be built from the FP16 graphs in {onnx_dir}",
                       f"export FP32 graphs with: masktrt export --precision fp32 --out {onnx_dir}")
