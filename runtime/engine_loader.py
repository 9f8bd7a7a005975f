"""Engine loading and metadata checks: the lean runtime's half of TensorRT (building is in
masktrt.engines).

An engine is valid only for the TensorRT (module and version) that built it and the GPUs it was
built for, so every `<graph>.engine` has a `<graph>.json` beside it that says so; loading checks it
first and fails with one line giving the exact `masktrt build` command that rebuilds it, instead of
TensorRT's deserialisation assertion. The metadata also records the contract the engine was built
from (tracker, every graph's name, how often this graph runs, its refittable weights), so a runner
serves an engine folder without the export folder or a literal graph name.
"""
from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from masktrt.errors import MasktrtError

from .trt_module import Flavour, error_logger, flavour_of, import_trt

# 2: records tracker, graphs (the contract's names), runs and refit weights (engines of schema 1
# predate them and are rebuilt)
SCHEMA = "masktrt.engine/2"
DEFAULT_REBUILD = "masktrt build --onnx DIR --backend tensorrt-rtx"


# ----------------------------------------------------------------------------- GPU
@dataclass(frozen=True)
class Gpu:
    name: str
    compute_capability: tuple[int, int]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "compute_capability": cc_text(self.compute_capability)}


def probe_gpu(device: int = 0) -> Gpu | None:
    """The GPU the engine would run on, through cuda-python; None without driver or device."""
    try:
        from cuda.bindings import runtime as cudart
    except ImportError:
        return None
    err, count = cudart.cudaGetDeviceCount()
    if int(err) != 0 or count <= device:
        return None
    err, prop = cudart.cudaGetDeviceProperties(device)
    if int(err) != 0:
        return None
    name = prop.name.split(b"\0", 1)[0].decode() if isinstance(prop.name, bytes) else str(prop.name)
    return Gpu(name, (int(prop.major), int(prop.minor)))


def cc_text(cc: tuple[int, int]) -> str:
    return f"{cc[0]}.{cc[1]}"


def cc_tuple(text: str) -> tuple[int, int]:
    major, minor = str(text).split(".")
    return int(major), int(minor)


# ----------------------------------------------------------------------------- metadata
def read_metadata(engine_path: Path) -> dict[str, Any]:
    """The `<graph>.json` beside an engine; a missing or foreign one names the rebuild command."""
    meta_path = Path(engine_path).with_suffix(".json")
    if not meta_path.is_file():
        raise MasktrtError(f"'{engine_path}' has no metadata file '{meta_path.name}' beside it",
                           f"rebuild it with: {DEFAULT_REBUILD}")
    meta = json.loads(meta_path.read_text())
    if meta.get("schema") != SCHEMA:
        raise MasktrtError(f"'{meta_path}' is not masktrt engine metadata ({SCHEMA})",
                           f"rebuild with: {meta.get('rebuild', 'masktrt build --onnx DIR')}")
    return meta


def rebuild_hint(meta: dict[str, Any], backend: str | None) -> str:
    """'rebuild with: <the command that built it>', for `backend` when given."""
    command = meta.get("rebuild", "masktrt build --onnx DIR")
    if backend:
        words = command.split()
        if "--backend" in words:
            words[words.index("--backend") + 1] = backend
        command = " ".join(words)
    return f"rebuild with: {command}"


def check_compatible(meta: dict[str, Any], flavour: Flavour | None, gpu: Gpu | None) -> None:
    """Refuse an engine this TensorRT or this GPU cannot run, before TensorRT tries to.

    `flavour` is the TensorRT actually importable here for the engine's backend (None: missing);
    `gpu` the device that would run it (None: no GPU).
    """
    _check_tensorrt(meta, flavour)
    here = f"{flavour.module} {flavour.version}"
    if gpu is None:
        raise MasktrtError(f"no NVIDIA GPU found to run the {meta.get('name', 'engine')} engine ({here} "
                           "needs one to deserialise and execute)",
                           "run on a machine with a GPU, or use --backend onnxruntime")
    _check_targets(meta, flavour, gpu)


def _check_tensorrt(meta: dict[str, Any], flavour: Flavour | None) -> None:
    built, name = meta["tensorrt"], meta.get("name", "engine")
    if flavour is None:
        raise MasktrtError(f"the {name} engine was built with {built['module']} {built['version']}, "
                           "which is not installed here",
                           rebuild_hint(meta, None) + " (after installing a TensorRT)")
    if flavour.module != built["module"] or flavour.version != built["version"]:
        raise MasktrtError(f"the {name} engine was built with {built['module']} {built['version']}, "
                           f"but this machine runs {flavour.module} {flavour.version}",
                           rebuild_hint(meta, flavour.backend))


def _check_targets(meta: dict[str, Any], flavour: Flavour, gpu: Gpu) -> None:
    name, here = meta.get("name", "engine"), cc_text(gpu.compute_capability)
    targets = meta.get("targets", {})
    ccs, minimum = targets.get("compute_capabilities"), targets.get("min_compute_capability")
    if ccs is not None and here not in ccs:
        raise MasktrtError(f"the {name} engine was built for compute capability {', '.join(ccs)}, but "
                           f"this GPU ({gpu.name}) is {here}", rebuild_hint(meta, flavour.backend))
    if ccs is None and minimum and gpu.compute_capability < cc_tuple(minimum):
        raise MasktrtError(f"the {name} engine targets compute capability {minimum}+, but this GPU "
                           f"({gpu.name}) is {here}",
                           rebuild_hint(meta, flavour.backend) + f" --compute-capability {here}")


def _installed_flavour(module: str) -> Flavour | None:
    try:
        return flavour_of(importlib.import_module(module))
    except ImportError:
        return None


# ----------------------------------------------------------------------------- load
@dataclass
class LoadedEngine:
    """A deserialised engine with the runtime and logger it must not outlive, and its metadata."""

    engine: Any
    runtime: Any
    logger: Any
    meta: dict[str, Any]
    trt: ModuleType


def load_engine(engine_path: Path) -> LoadedEngine:
    """Deserialise an engine after checking its metadata against this TensorRT and GPU.

    Needs a GPU; every failure is one line with the `masktrt build` command that fixes it.
    """
    engine_path = Path(engine_path)
    meta = read_metadata(engine_path)
    flavour = _installed_flavour(meta["tensorrt"]["module"])
    if flavour is None:  # maybe the other TensorRT is installed: suggest building for it
        other = "tensorrt" if meta["tensorrt"]["module"] == "tensorrt_rtx" else "tensorrt_rtx"
        flavour = _installed_flavour(other)
    check_compatible(meta, flavour, probe_gpu())
    trt = import_trt(flavour.backend)
    logger = error_logger(trt)
    runtime = trt.Runtime(logger)
    engine = runtime.deserialize_cuda_engine(engine_path.read_bytes())
    if engine is None:
        raise MasktrtError(f"{flavour.module} could not deserialise '{engine_path}': "
                           + "; ".join(logger.errors[-2:] or ["no reason given"]),
                           rebuild_hint(meta, flavour.backend))
    return LoadedEngine(engine, runtime, logger, meta, trt)


# ----------------------------------------------------------------------------- an engine folder
def folder_graphs(folder: Path) -> tuple[str, ...]:
    """The contract's graph names, as the engines in `folder` record them (no GPU needed)."""
    engines = sorted(Path(folder).glob("*.engine"))
    if not engines:
        raise MasktrtError(f"no engines in '{folder}'",
                           f"build them with: masktrt build --onnx DIR --out {folder}")
    return tuple(read_metadata(engines[0])["graphs"])


def load_folder(folder: Path) -> dict[str, LoadedEngine]:
    """Every graph's engine, in contract order; a missing or foreign engine is one line."""
    folder = Path(folder)
    names = folder_graphs(folder)
    loaded = {}
    for name in names:
        path = folder / f"{name}.engine"
        if not path.is_file():
            raise MasktrtError(f"'{folder}' has no engine for graph '{name}' (the contract lists "
                               f"{', '.join(names)})", f"build them all with: masktrt build --onnx DIR --out {folder}")
        loaded[name] = load_engine(path)
        if tuple(loaded[name].meta["graphs"]) != names:
            raise MasktrtError(f"the engines in '{folder}' come from different exports",
                               rebuild_hint(loaded[name].meta, None) + " --force")
    return loaded
