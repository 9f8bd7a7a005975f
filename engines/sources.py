"""The graphs a build reads, as the contract describes them: path, hash and I/O."""
from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any, Iterable

from masktrt.errors import MasktrtError
from masktrt.provenance import sha256_file
from masktrt.runtime.contract import Contract

from .network import graph_precision, parse_onnx


def graph_io(contract: Contract, graph: str) -> dict[str, list[dict[str, Any]]]:
    """The contract's I/O of one graph as the [{name, shape, dtype}] lists `network_io` returns."""
    spec = contract.graph(graph)
    return {"inputs": [t.to_dict() for t in spec.inputs], "outputs": [t.to_dict() for t in spec.outputs]}


def checked_onnx(contract: Contract, graph: str) -> tuple[Path, str]:
    """The graph's path and sha256, refusing a file changed since deploy.json was written."""
    spec = contract.graph(graph)
    digest = sha256_file(spec.path)
    if spec.sha256 and digest != spec.sha256:
        raise MasktrtError(f"'{spec.path}' changed since deploy.json was written (sha256 differs)",
                           f"re-export the folder: masktrt export --out {contract.root}")
    return spec.path, digest


def any_quantized(trt: ModuleType, paths: Iterable[Path]) -> bool:
    """Whether any graph has Q/DQ nodes: then a float graph beside it was left out of INT8 on
    purpose by the calibration (and is built in FP16 where the flavour allows)."""
    return any(graph_precision(parse_onnx(trt, path).network) == "int8" for path in paths)
