"""Writing deploy.json (the schema and its validating reader are in masktrt.runtime.contract).

Everything a runtime needs besides the graphs goes in: the tracker's name and export options,
preprocessing, the preset's hyper-parameters, the tracker's own section (geometry, anchors, ...,
from its spec), the weights' origin (sha256 of the checkpoint file, or "random:<seed>"), the
model record, precision, and the versions of every tool that shaped the graphs. No timestamp:
the same inputs give the same file, so exports can be compared and cached by content.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import onnx

from masktrt.provenance import package_versions, sha256_file
from masktrt.runtime.contract import DEPLOY_FILE, SCHEMA, SCHEMA_VERSION
from masktrt.specs.base import TrackerSpec

VERSIONED = ("masktrt", "torch", "onnx", "onnxslim", "onnxruntime", "numpy")
ONNX_DTYPES = {onnx.TensorProto.FLOAT: "float32", onnx.TensorProto.FLOAT16: "float16",
               onnx.TensorProto.INT64: "int64", onnx.TensorProto.INT32: "int32"}


def checkpoint_source(path: str | Path) -> dict[str, Any]:
    from masktrt.export.checkpoints import checkpoint_sha256

    return {"kind": "checkpoint", "path": str(path), "sha256": checkpoint_sha256(path)}


def random_source(seed: int, pairs: int | None = None) -> dict[str, Any]:
    """The seeded random model; `pairs` (BN-fitting crop pairs) when not the default."""
    record = {"kind": "random", "seed": int(seed), "sha256": f"random:{int(seed)}"}
    if pairs is not None:
        record["pairs"] = int(pairs)
    return record


def versions() -> dict[str, str]:
    return package_versions(VERSIONED)


def tensor_table(values: Any) -> list[dict[str, Any]]:
    """[{name, shape, dtype}] from ONNX value infos or initializers (static shapes). A batched
    graph's symbolic target dimension is recorded as 1: the contract lists one target's shapes,
    and its options (batch=dynamic) say that dimension 0 of the batch graphs takes N."""
    table = []
    for value in values:
        if isinstance(value, onnx.TensorProto):
            shape, dtype = list(value.dims), value.data_type
        else:
            t = value.type.tensor_type
            shape = [d.dim_value if d.HasField("dim_value") else 1 for d in t.shape.dim]
            dtype = t.elem_type
        table.append({"name": value.name, "shape": shape, "dtype": ONNX_DTYPES.get(dtype, str(dtype))})
    return table


def graph_entry(model: onnx.ModelProto, file: Path, compute_dtype: str,
                refit: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    entry = {"file": file.name, "sha256": sha256_file(file), "compute_dtype": compute_dtype,
             "inputs": tensor_table(model.graph.input),
             "outputs": tensor_table(model.graph.output)}
    if refit:
        entry["refit"] = refit
    return entry


def deploy_document(*, spec: TrackerSpec, graphs: dict[str, dict[str, Any]], model: dict[str, Any],
                    source: dict[str, Any], options: Mapping[str, Any], precision: str, opset: int,
                    preset: str | None) -> dict[str, Any]:
    """The version 2 contract of one export."""
    return {
        "schema": SCHEMA, "schema_version": SCHEMA_VERSION,
        "tracker": spec.name, "options": dict(options),
        "precision": precision, "opset": opset,
        "graphs": graphs,
        "preprocessing": spec.preprocessing.to_dict(),
        "preset": spec.preset(preset).to_dict(),
        "source": source, "model": model,
        spec.name: spec.section(options),
        "versions": versions(),
    }


def write_deploy(folder: Path, document: dict[str, Any]) -> Path:
    path = folder / DEPLOY_FILE
    from masktrt.files import write_json

    return write_json(path, document)
