"""One runnable QDQ folder per flavour: the contract's graphs plus a deploy.json the runtimes load.

The QDQ graphs keep the FP32 graphs' float32 inputs and outputs, so everything in the source
deploy.json stays true except the files, their hashes and the precision; a `quantization` record
says how they were made (flavour, method, blocks kept in float and why, the calibration's
provenance). deploy.json `precision` is "int8" once masktrt.runtime.contract accepts it; until
then "fp32" with the `quantization` record (graph precision is read from the graphs by
`masktrt build` anyway: QuantizeLinear nodes mean INT8).
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from masktrt.files import write_json
from masktrt.runtime.contract import DEPLOY_FILE, Contract, load_contract

from .cache import sha256_file
from .quantize import Flavour, count_qdq, quantize_graph


def write_flavour(source: Contract, folder: Path, flavour: Flavour, method: str,
                  ranges: dict[str, Path], exclude: dict[str, list[str]],
                  record: dict[str, Any]) -> Contract:
    """Quantise every graph of `source` into `folder` and write its deploy.json."""
    folder.mkdir(parents=True, exist_ok=True)
    doc = copy.deepcopy(source.raw)
    for graph in source.graph_names:
        path = quantize_graph(source.graph(graph).path, folder / f"{graph}.onnx", flavour, method,
                              ranges[graph], exclude=exclude.get(graph))
        entry = doc["graphs"][graph]
        entry["file"] = path.name
        entry["sha256"] = sha256_file(path)
        entry["compute_dtype"] = "int8" if count_qdq(path) else entry.get("compute_dtype", "float32")
    doc["precision"] = "int8"
    doc["quantization"] = {**flavour.describe(), "method": method, **record,
                           "source_precision": source.precision,
                           "library": "onnxruntime.quantization (quantize_static, QDQ)"}
    write_json(folder / DEPLOY_FILE, doc)
    return load_contract(folder)
