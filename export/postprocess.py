"""Checking and simplifying an exported graph, and proving the simplification changed nothing.

Simplifier: onnxslim. It is maintained (the older onnx-simplifier lags new onnx/Python
releases), a pure-Python wheel, and it does not pin or pull onnxruntime, so it never fights the
onnxruntime/onnxruntime-gpu a user installed. It folds the exporter's leftover constant
subgraphs, removes identities and topologically sorts the graph (the float16 converter appends
its input casts at the end, which the ONNX checker rejects until sorted).

Every graph must pass `onnx.checker` (full_check) and strict shape inference with only static
dimensions: TensorRT engines and the runtime's I/O binding are built from those shapes.
"""
from __future__ import annotations

import numpy as np
import onnx

from masktrt.errors import MasktrtError, require
from masktrt.export.onnx_run import cpu_session, max_rel_range_err, run_session

# Slimming only folds constants and removes no-ops; anything beyond float32 rounding means a
# rewrite changed the computation.
SLIM_TOLERANCE = 1e-5  # max abs error relative to each output's range


def checked(model: onnx.ModelProto, name: str, static: bool = True,
            batch: bool = False) -> onnx.ModelProto:
    """Run the full checker and strict shape inference; with `static`, every I/O shape must
    be static (the raw trace computes some Pad/Resize sizes with Shape ops that only the
    simplifier folds, so the raw trace is checked without it), except, with `batch`, the
    leading target dimension of a batched graph."""
    try:
        onnx.checker.check_model(model, full_check=True)
        model = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        raise MasktrtError(f"{name}.onnx fails the ONNX checker ({str(exc).splitlines()[0]})",
                           "report this with the model width and torch/onnx versions") from exc
    if not static:
        return model
    for value in list(model.graph.input) + list(model.graph.output):
        dims = list(value.type.tensor_type.shape.dim)
        if not dims or any(not d.HasField("dim_value") for d in dims[int(batch):]):
            raise MasktrtError(f"{name}.onnx: '{value.name}' has a non-static shape",
                               "export with static shapes (batch 1)")
    return model


def slim(model: onnx.ModelProto) -> onnx.ModelProto:
    onnxslim = require("onnxslim", "export")
    return onnxslim.slim(model)


def verify_same(before: onnx.ModelProto, after: onnx.ModelProto, feeds: dict[str, np.ndarray],
                name: str, tolerance: float = SLIM_TOLERANCE, what: str = "simplifying",
                fix: str = "report this with the onnxslim version") -> float:
    """Run both graphs in ONNX Runtime; fail when any output moved beyond `tolerance`."""
    ref = run_session(cpu_session(before), feeds)
    out = run_session(cpu_session(after), feeds)
    if set(ref) != set(out):
        raise MasktrtError(f"{what} {name}.onnx changed its outputs {sorted(ref)} -> "
                           f"{sorted(out)}", "report this with the onnxslim version")
    bad = [k for k in ref if not np.isfinite(ref[k]).all()]
    if bad:  # an inf/NaN reference makes every comparison NaN: say what is actually wrong
        raise MasktrtError(f"{name}.onnx gives non-finite {', '.join(bad)} on its tracing feeds, "
                           f"so {what} cannot be checked", "trace with feeds that keep the "
                           "network finite (real-looking crops, fitted BatchNorm statistics)")
    errors = [max_rel_range_err(out[k], ref[k])[1] for k in ref]
    worst = float(np.nanmax(errors)) if not np.isnan(errors).any() else float("nan")
    if not worst <= tolerance:  # NaN (a finite reference against NaN/inf output) fails too
        raise MasktrtError(f"{what} {name}.onnx changed its results (max error / range "
                           f"{worst:.2e} > {tolerance:.0e})", fix)
    return worst


def slim_verified(model: onnx.ModelProto, feeds: dict[str, np.ndarray], name: str,
                  batch: bool = False) -> onnx.ModelProto:
    """Simplify, re-check, and prove on `feeds` that the outputs are unchanged."""
    slimmed = slim(model)
    slimmed = checked(pin_target_dims(slimmed, feeds) if batch else slimmed, name, batch=batch)
    verify_same(model, slimmed, feeds, name)
    return slimmed


def verify_per_target(model: onnx.ModelProto, feeds: dict[str, np.ndarray], name: str) -> float:
    """Prove a batched graph keeps targets apart: each target of the traced batch run alone
    (batch 1) gives its rows of the batch run. A kernel or state mixed across the batch (a
    folded reshape, a grouped conv frozen at the traced batch) fails here, at export."""
    session = cpu_session(model)
    whole = run_session(session, feeds)
    count = len(next(iter(feeds.values())))
    worst = 0.0
    for k in range(count):
        alone = run_session(session, {n: v[k:k + 1] for n, v in feeds.items()})
        for out, value in alone.items():
            worst = max(worst, max_rel_range_err(value, whole[out][k:k + 1])[1])
    if not worst <= SLIM_TOLERANCE:
        raise MasktrtError(f"{name}.onnx mixes targets: a target alone differs from its rows of "
                           f"the batch by {worst:.2e} of the range", "report this export bug; "
                           "export without --batch meanwhile")
    return worst


def pin_target_dims(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> onnx.ModelProto:
    """A batched graph's outputs with every dimension but the target one made static again.

    With a dynamic batch the exporter computes Resize sizes as Concat(Shape(x)[:2], sizes), so
    shape inference loses the (constant) spatial sides of what follows; they are read from a run
    on `feeds` and written into the output declarations (in place), which the checker then
    reconciles with the graph."""
    results = run_session(cpu_session(model), feeds)
    for value in model.graph.output:
        for dim, side in zip(value.type.tensor_type.shape.dim[1:], results[value.name].shape[1:]):
            if not dim.HasField("dim_value"):
                dim.dim_value = int(side)
    return model
