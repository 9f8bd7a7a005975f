"""Running an ONNX graph in ONNX Runtime on the CPU, for export checks and tensor parity.

CPU only and single-threaded by default: the checks compare numbers, not speed, and the
machines that run them (CI, laptops) are small. Graph optimisations are left at ONNX Runtime's
default so that parity measures what a user's ONNX Runtime session computes.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from masktrt.errors import MasktrtError, require


def cpu_session(model: Any, threads: int = 1) -> Any:
    """An ONNX Runtime CPU session from a path, serialized bytes or a ModelProto."""
    ort = require("onnxruntime", "onnxruntime")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # no warnings about unused initializers on stderr
    if hasattr(model, "SerializeToString"):
        model = model.SerializeToString()
    elif isinstance(model, Path):
        model = str(model)
    try:
        return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # ONNX Runtime's pybind errors (InvalidProtobuf, ...) share no base
        from masktrt.runtime.backends.onnxruntime import first_line

        what = f"'{model}'" if isinstance(model, str) else "the graph"
        raise MasktrtError(f"ONNX Runtime cannot load {what} ({first_line(exc)})",
                           "re-export the folder: masktrt export --out DIR") from exc


def run_session(session: Any, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Outputs by name; feeds are restricted to the session's inputs."""
    names = [i.name for i in session.get_inputs()]
    missing = [n for n in names if n not in feeds]
    if missing:  # a graph file swapped with another graph of the export
        raise MasktrtError(f"the graph takes inputs {missing} that were not given (given: "
                           f"{sorted(feeds)}): the .onnx file is not the graph deploy.json names",
                           "re-export the folder: masktrt export --out DIR")
    results = session.run(None, {n: feeds[n] for n in names})
    return {o.name: r for o, r in zip(session.get_outputs(), results)}


def max_rel_range_err(test: np.ndarray, ref: np.ndarray) -> tuple[float, float]:
    """(max |test - ref|, that divided by the reference's range): the tensor-parity metric.

    Dividing by the range (not elementwise by |ref|) keeps near-zero elements from dominating,
    and makes one budget serve outputs of very different scales (logits, features, masks).
    """
    test = np.asarray(test, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    err = float(np.max(np.abs(test - ref))) if ref.size else 0.0
    span = float(ref.max() - ref.min()) if ref.size else 0.0
    return err, err / span if span > 0 else (0.0 if err == 0 else float("inf"))
