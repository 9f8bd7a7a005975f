"""An engine's `<graph>.json`: what built it, for which GPUs, from which graph and contract.

The loader (runtime.engine_loader) refuses an engine this TensorRT or GPU cannot run from it, the
runner learns the contract's graphs, how often each runs and its refit weights from it, CI checks
engines without a GPU from it, and a rebuild is skipped when it says the engine on disk was built
from the same inputs.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
from pathlib import Path
from typing import Any

from masktrt import strict_json
from masktrt.runtime.engine_loader import SCHEMA
from masktrt.runtime.trt_module import Flavour

from .request import BuildRequest


def contract_entry(contract: Any, graph: str) -> dict[str, Any]:
    """What the runner needs from the contract, recorded with the engine (no export folder needed)."""
    return {"tracker": contract.tracker, "graphs": list(contract.graph_names),
            "runs": contract.graph(graph).runs, "options": dict(contract.options),
            "preset": contract.preset.to_dict()}


def engine_entry(name: str, engine: bytes) -> dict[str, Any]:
    return {"schema": SCHEMA, "name": name, "engine_file": f"{name}.engine",
            "engine_bytes": len(engine), "engine_sha256": hashlib.sha256(engine).hexdigest()}


def built_at() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def reusable(meta_path: Path, engine_path: Path, flavour: Flavour, request: BuildRequest,
             xcorr: str | None, onnx_sha: str, targets: dict[str, Any]) -> dict[str, Any] | None:
    """The stored metadata when the engine on disk was built from the same inputs, else None."""
    if request.force or not (meta_path.is_file() and engine_path.is_file()):
        return None
    try:
        meta = strict_json.loads(meta_path.read_bytes())
    except (OSError, ValueError):  # unreadable, not JSON, a key twice, nested too deeply
        return None
    if not isinstance(meta, dict) or not isinstance(meta.get("onnx"), dict):
        return None  # not metadata this code wrote: rebuild rather than trust it
    same = (meta.get("schema") == SCHEMA
            and meta.get("tensorrt") == {"module": flavour.module, "version": flavour.version}
            and meta.get("precision") == request.precision and meta.get("xcorr") == xcorr
            and meta.get("onnx", {}).get("sha256") == onnx_sha and meta.get("targets") == targets
            and meta.get("engine_bytes") == engine_path.stat().st_size)
    return meta if same else None


def write_engine(out: Path, name: str, engine: bytes, meta: dict[str, Any]) -> tuple[Path, Path]:
    """Engine first, metadata last, each written whole (temp file + rename): an interrupted build
    leaves no half-written engine, and never metadata vouching for an engine that is not there."""
    from masktrt.files import write_bytes, write_json

    engine_path, meta_path = out / f"{name}.engine", out / f"{name}.json"
    write_bytes(engine_path, engine)
    write_json(meta_path, meta)
    return engine_path, meta_path
