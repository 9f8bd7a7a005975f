"""The calibration cache and its provenance: reuse measured ranges only for the same inputs.

Ranges (ONNX Runtime's own cache format, one JSON per graph) and the sensitivity results are
stored under `<out>/cache/<method>/` beside `provenance.json`: the sequences and the exact frame
files used (name and size), the method and its parameters, the sha256 of each FP32 source graph
and the versions of the tools. A later run reuses them only when its provenance is identical;
anything else (another frame count, a re-exported graph, a new onnxruntime) recalibrates.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from masktrt import strict_json
from masktrt.files import write_json
from masktrt.provenance import package_versions, sha256_file
from masktrt.runtime.contract import Contract
from masktrt.runtime.sequences import load_sequence

from .quantize import CHUNK, PERCENTILE

PROVENANCE = "provenance.json"
VERSIONED = ("masktrt", "onnxruntime", "onnx", "numpy", "opencv-python-headless")


def versions() -> dict[str, str]:
    return package_versions(VERSIONED)


def sequence_record(path: Path, frames: int) -> dict[str, Any]:
    seq = load_sequence(path)
    used = seq.frame_paths[:frames]
    return {"name": seq.name, "path": str(Path(path).resolve()), "kind": seq.kind,
            "frames": len(used), "files": [[p.name, p.stat().st_size] for p in used]}


def provenance(deploy: Contract, sequences: list[Path], frames: int, method: str) -> dict[str, Any]:
    """Everything the ranges depend on; equal provenance <=> reusable cache."""
    params = {"percentile": PERCENTILE} if method == "percentile" else {}
    return {"method": method, "method_params": params, "chunk": CHUNK,
            "frames_per_sequence": frames,
            "sequences": [sequence_record(p, frames) for p in sequences],
            "source": deploy.source,
            "graphs": {g: sha256_file(deploy.graph(g).path) for g in deploy.graph_names},
            "versions": versions()}


def method_dir(out: Path, method: str) -> Path:
    return out / "cache" / method


def matches(folder: Path, record: dict[str, Any]) -> bool:
    path = folder / PROVENANCE
    try:
        return strict_json.loads(path.read_bytes()) == json.loads(json.dumps(record))
    except (OSError, ValueError):  # unreadable, not JSON, a key twice, nested too deeply
        return False


def cached_sensitivity(folder: Path) -> list[dict] | None:
    """The cached sensitivity rows, or None when the file is missing or not what this code
    writes (a list of objects): the caller then recomputes instead of trusting it."""
    try:
        rows = strict_json.loads(sensitivity_path(folder).read_bytes())
    except (OSError, ValueError):
        return None
    return rows if isinstance(rows, list) and all(isinstance(r, dict) for r in rows) else None


def ranges_path(folder: Path, graph: str) -> Path:
    return folder / f"{graph}.ranges.json"


def sensitivity_path(folder: Path) -> Path:
    return folder / "sensitivity.json"


def complete(folder: Path, graphs: tuple[str, ...]) -> bool:
    """Ranges of every graph (the contract's `graph_names`) and the sensitivity results exist."""
    return all(ranges_path(folder, g).is_file() for g in graphs) and sensitivity_path(folder).is_file()


def write_provenance(folder: Path, record: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / PROVENANCE, record)


def invalidate(folder: Path, graphs: tuple[str, ...]) -> None:
    """Drop a stale cache before recomputing, so a crash half-way never leaves a mixed one."""
    (folder / PROVENANCE).unlink(missing_ok=True)
    for graph in graphs:
        ranges_path(folder, graph).unlink(missing_ok=True)
    sensitivity_path(folder).unlink(missing_ok=True)
