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
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from masktrt import strict_json
from masktrt.errors import MasktrtError

from .trt_module import Flavour, check_supported, error_logger, flavour_of, import_trt

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
    try:
        meta = strict_json.loads(meta_path.read_bytes())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise MasktrtError(f"'{meta_path}' is not readable JSON ({type(exc).__name__})",
                           f"rebuild it with: {DEFAULT_REBUILD}") from exc
    if not isinstance(meta, dict) or meta.get("schema") != SCHEMA:
        raise MasktrtError(f"'{meta_path}' is not masktrt engine metadata ({SCHEMA})",
                           f"rebuild with: {_rebuild(meta)}")
    problem = metadata_problem(meta)
    if problem:
        raise MasktrtError(f"'{meta_path}' is damaged: {problem}", f"rebuild with: {_rebuild(meta)}")
    check_engine_hash(Path(engine_path), meta)
    return meta


# key -> the type every reader of engine metadata relies on (the rest is informative)
METADATA_TYPES = {"name": str, "tensorrt": dict, "graphs": list, "engine_sha256": str}


def metadata_problem(meta: dict[str, Any]) -> str | None:
    """Why `meta` cannot be used (a missing key or a wrong type), else None."""
    for key, kind in METADATA_TYPES.items():
        if not isinstance(meta.get(key), kind):
            return f"'{key}' is missing or not a {kind.__name__}"
    trt = meta["tensorrt"]
    if not all(isinstance(trt.get(k), str) for k in ("module", "version")):
        return "'tensorrt' needs module and version strings"
    if not meta["graphs"] or not all(isinstance(g, str) for g in meta["graphs"]):
        return "'graphs' must list the contract's graph names"
    if not isinstance(meta.get("targets", {}), dict):
        return "'targets' is not an object"
    file = meta.get("engine_file", f"{meta['name']}.engine")
    if not isinstance(file, str) or Path(file).name != file or file in ("", ".", ".."):
        return f"'engine_file' {file!r} is not a file name in the engine's own folder"
    return None


def _rebuild(meta: Any) -> str:
    command = meta.get("rebuild") if isinstance(meta, dict) else None
    return command if isinstance(command, str) else "masktrt build --onnx DIR"


def check_engine_hash(engine_path: Path, meta: dict[str, Any]) -> None:
    """Refuse an engine file whose bytes differ from those its metadata recorded at build time
    (a truncated copy, a swapped engine): TensorRT may deserialise such a file and run it."""
    from masktrt.provenance import sha256_file

    if engine_path.is_file() and sha256_file(engine_path) != meta["engine_sha256"]:
        raise MasktrtError(f"'{engine_path}' changed since it was built (sha256 differs from "
                           f"'{engine_path.with_suffix('.json').name}')",
                           f"rebuild with: {_rebuild(meta)} --force")


def rebuild_hint(meta: dict[str, Any], backend: str | None) -> str:
    """'rebuild with: <the command that built it>', for `backend` when given (full TensorRT
    builds for its own GPU, so TensorRT-RTX's --compute-capability targets are dropped for it)."""
    command = meta.get("rebuild", "masktrt build --onnx DIR")
    if backend:
        words = command.split()
        if "--backend" in words:
            words[words.index("--backend") + 1] = backend
        if backend == "tensorrt":
            words = _without_targets(words)
        command = " ".join(words)
    return f"rebuild with: {command}"


def _without_targets(words: list[str]) -> list[str]:
    keep = [True] * len(words)
    for i, word in enumerate(words[:-1]):
        if word == "--compute-capability":
            keep[i] = keep[i + 1] = False
    return [w for w, k in zip(words, keep) if k]


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
    check_supported(flavour, cc_text(gpu.compute_capability), f"this GPU ({gpu.name})",
                    rebuild_hint(meta, "tensorrt") + " for full TensorRT, or use --backend onnxruntime")
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
    """The GPU must be one the engine was built for (engines before the support-matrix check
    recorded TensorRT-RTX's default targets as a minimum; they are still read)."""
    name, here = meta.get("name", "engine"), cc_text(gpu.compute_capability)
    targets = meta.get("targets", {})
    ccs, minimum = targets.get("compute_capabilities"), targets.get("min_compute_capability")
    if ccs is not None:
        fits, built_for = here in ccs, ", ".join(ccs)
    elif minimum:
        fits, built_for = gpu.compute_capability >= cc_tuple(minimum), f"{minimum}+"
    else:
        return
    if not fits:
        extra = f" --compute-capability {here}" if flavour.rtx else ""
        raise MasktrtError(f"the {name} engine was built for compute capability {built_for}, but this "
                           f"GPU ({gpu.name}) is {here}", rebuild_hint(meta, flavour.backend) + extra)


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
    gpu: Gpu | None = None  # the GPU it was checked against (keys TensorRT-RTX's runtime cache)


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
    gpu = probe_gpu()
    check_compatible(meta, flavour, gpu)
    trt = import_trt(flavour.backend)
    logger = error_logger(trt)
    runtime = trt.Runtime(logger)
    engine = runtime.deserialize_cuda_engine(engine_path.read_bytes())
    if engine is None:
        raise MasktrtError(f"{flavour.module} could not deserialise '{engine_path}': "
                           + "; ".join(logger.errors[-2:] or ["no reason given"]),
                           rebuild_hint(meta, flavour.backend))
    return LoadedEngine(engine, runtime, logger, meta, trt, gpu)


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
