"""Writing deploy.json (the schema and its reader are in masktrt.runtime.contract).

Everything a runtime needs besides the graphs goes in: preprocessing, the preset's
hyper-parameters and the geometry constants, anchors and window, the weights' origin (sha256 of
the checkpoint file, or "random:<seed>"), channel counts, correlation strategy, precision and
the versions of every tool that shaped the graphs. No timestamp: the same inputs give the same
file, so exports can be compared and cached by content.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import onnx

from masktrt.provenance import package_versions, sha256_file
from masktrt.runtime import config
from masktrt.runtime.contract import DEPLOY_FILE, IO_NAMES, SCHEMA, SCHEMA_VERSION, geometry

MODEL_NAME = "siammask_sharp"
KERNEL_INPUTS = IO_NAMES["template"][1]  # search.onnx takes them as inputs in both strategies
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
    """[{name, shape, dtype}] from ONNX value infos (static shapes checked by the exporter)."""
    table = []
    for value in values:
        t = value.type.tensor_type
        table.append({"name": value.name, "shape": [d.dim_value for d in t.shape.dim],
                      "dtype": ONNX_DTYPES.get(t.elem_type, str(t.elem_type))})
    return table


def graph_entry(model: onnx.ModelProto, file: Path, compute_dtype: str) -> dict[str, Any]:
    return {"file": file.name, "sha256": sha256_file(file), "compute_dtype": compute_dtype,
            "inputs": tensor_table(model.graph.input),
            "outputs": tensor_table(model.graph.output)}


def deploy_document(*, graphs: dict[str, dict[str, Any]], model_channels: dict[str, Any],
                    source: dict[str, Any], correlation: str, precision: str, opset: int,
                    preset: str) -> dict[str, Any]:
    tracker = config.preset(preset)
    return {
        "schema": SCHEMA, "schema_version": SCHEMA_VERSION,
        "model": {"name": MODEL_NAME, "width": model_channels.get("width", 1.0),
                  "channels": model_channels, "mask_head": "omitted (unused with Refine)"},
        "source": source,
        "correlation": {"strategy": correlation, "kernel_inputs": list(KERNEL_INPUTS)},
        "precision": precision, "opset": opset,
        "graphs": graphs,
        "preprocessing": {"color_order": "BGR", "value_range": [0, 255], "mean": [0.0, 0.0, 0.0],
                          "std": [1.0, 1.0, 1.0], "layout": "NCHW", "dtype": "float32",
                          "template_size": config.EXEMPLAR_SIZE,
                          "search_size": config.INSTANCE_SIZE},
        "tracker": {"preset": tracker.to_dict(), "geometry": geometry()},
        "anchors": {"stride": config.TOTAL_STRIDE, "ratios": list(config.ANCHOR_RATIOS),
                    "scales": list(config.ANCHOR_SCALES), "anchor_num": config.ANCHOR_NUM,
                    "score_size": config.SCORE_SIZE,
                    "index_order": "anchor*score_size^2 + row*score_size + col"},
        "window": {"kind": "cosine", "score_size": config.SCORE_SIZE, "tiled": config.ANCHOR_NUM},
        "versions": versions(),
    }


def write_deploy(folder: Path, document: dict[str, Any]) -> Path:
    path = folder / DEPLOY_FILE
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path
