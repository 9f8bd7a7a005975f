"""TensorRT engines for the three exported graphs: build, metadata, cache, load.

An engine is valid only for the TensorRT (module and version) that built it and the GPUs it was
built for, so every `<name>.engine` has a `<name>.json` beside it that says so; loading checks it
first and fails with one line giving the exact `masktrt build` command that rebuilds it, instead of
TensorRT's deserialisation assertion. The metadata also records what the builder saw (I/O names,
shapes, dtypes from the parsed network), so a build checks the graphs against deploy.json and CI
can check engines without a GPU: TensorRT-RTX builds ahead of time on the CPU.

Module choice and every TensorRT/TensorRT-RTX difference live in `trt_module`; this module passes
the chosen module object around explicitly.

Refit (`--xcorr refit`): the search engine is built refittable with the three correlation kernels
as its named refittable weights (deploy.json's refit_weights); the build checks that the parsed
network has weights of exactly those names before building, and the metadata's "refit" entry
lists them for the runtime's Refitter. TensorRT-RTX 1.7 compiles refittable engines with CUDA
(Myelin's JIT), so unlike the other engines a refit search engine is built where a CUDA driver is.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Iterable

from masktrt.errors import MasktrtError
from masktrt.provenance import sha256_file

from .deploy import REFIT, Contract, TensorSpec, load_contract
from .trt_network import (Parsed, check_no_shape_inputs, error_logger, graph_precision, io_mismatches,
                          network_io, parse_onnx)
from .trt_module import (RTX_DEFAULT_MIN_CC, Flavour, PrecisionPlan, choose_xcorr, flavour_of,
                         import_trt, precision_plan)

GRAPHS = ("template", "search", "refine")
SCHEMA = "masktrt.engine/1"


# ----------------------------------------------------------------------------- deploy.json
def graph_io(deploy: Contract, graph: str) -> dict[str, list[dict[str, Any]]]:
    """deploy.json's I/O of one graph as the [{name, shape, dtype}] lists `network_io` returns."""
    spec = deploy.graph(graph)
    return {"inputs": [t.to_dict() for t in spec.inputs], "outputs": [t.to_dict() for t in spec.outputs]}


def checked_onnx(deploy: Contract, graph: str) -> tuple[Path, str]:
    """The graph's path and sha256, refusing a file changed since deploy.json was written."""
    spec = deploy.graph(graph)
    digest = sha256_file(spec.path)
    if spec.sha256 and digest != spec.sha256:
        raise MasktrtError(f"'{spec.path}' changed since deploy.json was written (sha256 differs)",
                           f"re-export the folder: masktrt export --out {deploy.root}")
    return spec.path, digest


# ----------------------------------------------------------------------------- GPU
@dataclass(frozen=True)
class Gpu:
    name: str
    compute_capability: tuple[int, int]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "compute_capability": f"{self.compute_capability[0]}.{self.compute_capability[1]}"}


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


def _cc_text(cc: tuple[int, int]) -> str:
    return f"{cc[0]}.{cc[1]}"


def _cc_tuple(text: str) -> tuple[int, int]:
    major, minor = str(text).split(".")
    return int(major), int(minor)


# ----------------------------------------------------------------------------- build
@dataclass
class BuildRequest:
    """Everything `masktrt build` decides; also what the metadata's rebuild command repeats."""

    onnx_dir: Path
    backend: str = "tensorrt-rtx"
    precision: str = "fp32"
    xcorr: str = "auto"
    out: Path | None = None
    workspace_mb: int | None = None
    timing_cache: Path | None = None
    compute_capabilities: tuple[str, ...] = ()  # TensorRT-RTX targets, e.g. ("8.6",)
    force: bool = False

    def out_dir(self) -> Path:
        return Path(self.out) if self.out else Path(self.onnx_dir) / f"engines-{self.backend}-{self.precision}"

    def command(self, backend: str | None = None) -> str:
        parts = ["masktrt build", f"--onnx {Path(self.onnx_dir).resolve()}",
                 f"--backend {backend or self.backend}", f"--precision {self.precision}",
                 f"--xcorr {self.xcorr}", f"--out {self.out_dir().resolve()}"]
        parts += [f"--compute-capability {cc}" for cc in self.compute_capabilities]
        return " ".join(parts)


@dataclass
class EngineRecord:
    """One built (or reused) engine: where it is and its metadata."""

    name: str
    engine_path: Path
    meta: dict[str, Any]
    cached: bool = False
    notes: list[str] = field(default_factory=list)




def _configure(parsed: Parsed, flavour: Flavour, plan: PrecisionPlan, request: BuildRequest,
               timing_cache: bytes | None) -> Any:
    trt = parsed.trt
    config = parsed.builder.create_builder_config()
    for name in plan.flags:
        config.set_flag(getattr(trt.BuilderFlag, name))
    for name in plan.clear_flags:
        if hasattr(trt.BuilderFlag, name):
            config.clear_flag(getattr(trt.BuilderFlag, name))
    if request.workspace_mb:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(request.workspace_mb) << 20)
    if flavour.uses_timing_cache:
        cache = config.create_timing_cache(timing_cache or b"")
        config.set_timing_cache(cache, False)
    if request.compute_capabilities:
        if not flavour.rtx:
            raise MasktrtError("--compute-capability is a TensorRT-RTX option (full TensorRT builds "
                               "for the GPU it runs on)", "drop it, or use --backend tensorrt-rtx")
        config.num_compute_capabilities = len(request.compute_capabilities)
        for i, cc in enumerate(request.compute_capabilities):
            major, minor = _cc_tuple(cc)
            target = getattr(trt.ComputeCapability, f"SM{major}{minor}", None)
            if target is None:
                raise MasktrtError(f"{flavour.module} {flavour.version} cannot target compute capability {cc}",
                                   "choose one of: " + ", ".join(
                                       n[2:-1] + "." + n[-1] for n in dir(trt.ComputeCapability) if n.startswith("SM")))
            config.set_compute_capability(target, i)
    return config


def _targets(flavour: Flavour, request: BuildRequest, gpu: Gpu | None) -> dict[str, Any]:
    """Which GPUs the engine may run on, for the metadata and the load-time check."""
    if flavour.rtx and request.compute_capabilities:
        return {"compute_capabilities": list(request.compute_capabilities), "kind": "explicit"}
    if flavour.rtx:
        return {"compute_capabilities": None, "kind": "ahead-of-time default",
                "min_compute_capability": _cc_text(RTX_DEFAULT_MIN_CC)}
    return {"compute_capabilities": [_cc_text(gpu.compute_capability)] if gpu else None,
            "kind": "build GPU"}


def mark_refittable(network: Any, flavour: Flavour, weights: Iterable[TensorSpec], path: Path) -> None:
    """Mark the correlation kernels refittable, refusing a network without weights of those names.

    The ONNX parser names each initializer's weights after it, so a refit graph's k_cls, k_loc and
    k_mask must be found here; an engine without them would build and then refuse every refit.
    Older TensorRT (no individual marking) makes every weight refittable: nothing to check here.
    """
    if not flavour.individual_refit:
        return
    missing = [w.name for w in weights
               if not (network.mark_weights_refittable(w.name) and network.are_weights_marked_refittable(w.name))]
    if missing:
        raise MasktrtError(f"'{path}' has no weights named {', '.join(missing)} for TensorRT to refit",
                           f"re-export with: masktrt export --xcorr refit --out {path.parent}")


def refit_entry(flavour: Flavour, weights: Iterable[TensorSpec]) -> dict[str, Any]:
    """The metadata the runtime's Refitter needs: which names, and their shapes and dtypes."""
    return {"flag": flavour.refit_flag, "weights": [w.to_dict() for w in weights],
            "source": "template engine outputs of the same names, one target at a time"}


def _build_failure(flavour: Flavour, onnx_path: Path, errors: list[str], refit: bool,
                   gpu: Gpu | None) -> MasktrtError:
    reason = "; ".join(errors[-3:] or ["no reason given"])
    if refit and gpu is None and any("CUDA" in e for e in errors):
        return MasktrtError(f"{flavour.module} {flavour.version} needs CUDA to build the refittable engine "
                            f"'{onnx_path}' and no GPU/driver was found ({reason})",
                            "build the refit search engine on a machine with an NVIDIA GPU, or export "
                            "and build with --xcorr dynamic (no GPU needed)")
    return MasktrtError(f"{flavour.module} {flavour.version} failed to build '{onnx_path}': {reason}",
                        "see the TensorRT error above; try --workspace with more MB")


def build_one(trt: ModuleType, name: str, onnx_path: Path, expected_io: dict[str, list],
              request: BuildRequest, xcorr: str, gpu: Gpu | None, timing_cache: bytes | None,
              others_quantized: bool = False, refit_weights: tuple[TensorSpec, ...] = ()
              ) -> tuple[bytes, dict[str, Any], bytes | None]:
    """Parse, check and build one graph; returns (engine bytes, metadata, updated timing cache).

    `refit_weights` (the refit search graph only): build refittable in exactly those weights.
    """
    flavour = flavour_of(trt)
    parsed = parse_onnx(trt, onnx_path)
    plan = precision_plan(flavour, request.precision, graph_precision(parsed.network),
                          str(request.onnx_dir), others_quantized)
    if plan.strongly_typed and not flavour.always_strongly_typed:
        parsed = parse_onnx(trt, onnx_path, strongly_typed=True)
    check_no_shape_inputs(parsed.network, onnx_path)
    io = network_io(parsed.network)
    problems = io_mismatches(io, expected_io)
    if problems:
        raise MasktrtError(f"'{onnx_path}' does not match deploy.json: " + "; ".join(problems),
                           f"re-export the graphs together: masktrt export --out {request.onnx_dir}")
    config = _configure(parsed, flavour, plan, request, timing_cache)
    flags = list(plan.flags)
    if refit_weights:
        mark_refittable(parsed.network, flavour, refit_weights, onnx_path)
        config.set_flag(getattr(trt.BuilderFlag, flavour.refit_flag))
        flags.append(flavour.refit_flag)
    start = time.perf_counter()
    serialized = parsed.builder.build_serialized_network(parsed.network, config)
    seconds = time.perf_counter() - start
    if serialized is None:
        raise _build_failure(flavour, onnx_path, parsed.logger.errors, bool(refit_weights), gpu)
    engine = bytes(serialized)
    new_cache = bytes(config.get_timing_cache().serialize()) if flavour.uses_timing_cache else None
    meta = {
        "schema": SCHEMA,
        "name": name,
        "engine_file": f"{name}.engine",
        "engine_bytes": len(engine),
        "engine_sha256": hashlib.sha256(engine).hexdigest(),
        "tensorrt": {"module": flavour.module, "version": flavour.version},
        "gpu": gpu.to_json() if gpu else {"name": None, "compute_capability": None},
        "targets": _targets(flavour, request, gpu),
        "precision": request.precision,
        "graph_precision": graph_precision(parsed.network),
        "strongly_typed": plan.strongly_typed,
        "builder_flags": flags,
        "xcorr": xcorr,
        "refit": refit_entry(flavour, refit_weights) if refit_weights else None,
        "onnx": {"file": onnx_path.name, "dir": str(Path(request.onnx_dir).resolve()),
                 "sha256": sha256_file(onnx_path)},
        "build_seconds": round(seconds, 3),
        "built_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "workspace_mb": request.workspace_mb,
        "timing_cache": str(_timing_cache_path(request, flavour, gpu)) if flavour.uses_timing_cache else None,
        **io,
        "rebuild": request.command(),
    }
    return engine, meta, new_cache


def _reusable(meta_path: Path, engine_path: Path, flavour: Flavour, request: BuildRequest,
              xcorr: str, onnx_sha: str, targets: dict[str, Any]) -> dict[str, Any] | None:
    """The stored metadata when the engine on disk was built from the same inputs, else None."""
    if request.force or not (meta_path.is_file() and engine_path.is_file()):
        return None
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError:
        return None
    same = (meta.get("schema") == SCHEMA
            and meta.get("tensorrt") == {"module": flavour.module, "version": flavour.version}
            and meta.get("precision") == request.precision and meta.get("xcorr") == xcorr
            and meta.get("onnx", {}).get("sha256") == onnx_sha and meta.get("targets") == targets
            and meta.get("engine_bytes") == engine_path.stat().st_size)
    return meta if same else None


def _timing_cache_path(request: BuildRequest, flavour: Flavour, gpu: Gpu | None) -> Path | None:
    if not flavour.uses_timing_cache:
        return None
    if request.timing_cache:
        return Path(request.timing_cache)
    tag = gpu.name.replace(" ", "_") if gpu else "nogpu"
    return request.out_dir() / f"timing-{flavour.module}-{flavour.version}-{tag}.cache"


def _build_or_reuse(trt: ModuleType, deploy: Contract, name: str, onnx_path: Path, digest: str,
                    request: BuildRequest, xcorr: str, gpu: Gpu | None, cache: bytes | None,
                    quantized: bool) -> tuple[EngineRecord, bytes | None]:
    """Reuse the engine on disk if it was built from the same inputs, else build and write it."""
    out = request.out_dir()
    engine_path, meta_path = out / f"{name}.engine", out / f"{name}.json"
    flavour = flavour_of(trt)
    meta = _reusable(meta_path, engine_path, flavour, request, xcorr, digest, _targets(flavour, request, gpu))
    if meta is not None:
        return EngineRecord(name, engine_path, meta, cached=True), cache
    refit = deploy.refit_weights if (name == "search" and xcorr == REFIT) else ()
    engine, meta, cache = build_one(trt, name, onnx_path, graph_io(deploy, name), request, xcorr,
                                    gpu, cache, others_quantized=quantized, refit_weights=refit)
    engine_path.write_bytes(engine)
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    return EngineRecord(name, engine_path, meta), cache


def build_engines(request: BuildRequest, graphs: Iterable[str] = GRAPHS,
                  trt: ModuleType | None = None) -> tuple[list[EngineRecord], list[str]]:
    """Build (or reuse) every graph's engine; returns the records and notes to show the user."""
    trt = trt or import_trt(request.backend)
    flavour = flavour_of(trt)
    deploy = load_contract(request.onnx_dir)
    xcorr, why = choose_xcorr(flavour, request.xcorr, deploy.correlation, str(request.onnx_dir))
    notes = [f"correlation: {why}"]
    gpu = probe_gpu()
    if not flavour.builds_without_gpu and gpu is None:
        raise MasktrtError(f"{flavour.module} builds engines for the GPU it runs on, and no NVIDIA GPU "
                           "was found", "build on the target machine, or use --backend tensorrt-rtx (ahead of time)")
    if request.timing_cache and not flavour.uses_timing_cache:
        notes.append("TensorRT-RTX ignores timing caches (it tunes on the target GPU at run time)")
    out = request.out_dir()
    out.mkdir(parents=True, exist_ok=True)
    cache_path = _timing_cache_path(request, flavour, gpu)
    cache = cache_path.read_bytes() if cache_path and cache_path.is_file() else None
    sources = {name: checked_onnx(deploy, name) for name in graphs}
    quantized = request.precision == "int8" and any(
        graph_precision(parse_onnx(trt, path).network) == "int8" for path, _ in sources.values())
    records = []
    for name, (onnx_path, digest) in sources.items():
        record, cache = _build_or_reuse(trt, deploy, name, onnx_path, digest, request, xcorr, gpu,
                                        cache, quantized)
        records.append(record)
    if cache_path and cache:
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        cache_path.write_bytes(cache)
        notes.append(f"timing cache: {cache_path}")
    return records, notes


def summary_table(records: Iterable[EngineRecord]) -> str:
    """Engine, size, precision, strategy, build time: the lines CI's log shows."""
    rows = [("engine", "size", "precision", "xcorr", "tensorrt", "build")]
    for r in records:
        m = r.meta
        rows.append((m["name"], f"{m['engine_bytes'] / 1e6:.1f} MB", m["precision"], m["xcorr"],
                     f"{m['tensorrt']['module']} {m['tensorrt']['version']}",
                     "cached" if r.cached else f"{m['build_seconds']:.2f} s"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)


def build_matrix(onnx_dirs: Iterable[Path], out_root: Path, backend: str = "tensorrt-rtx") -> list[EngineRecord]:
    """CI: build every exported graph of each export folder (one per strategy x precision, as
    their deploy.json says) and print one table; any parse, build or I/O mismatch raises."""
    records = []
    for onnx_dir in onnx_dirs:
        deploy = load_contract(onnx_dir)
        precision, xcorr = deploy.precision, deploy.correlation
        request = BuildRequest(Path(onnx_dir), backend=backend, precision=precision, xcorr=xcorr,
                               out=Path(out_root) / f"{Path(onnx_dir).name}-{backend}-{precision}-{xcorr}",
                               force=True)
        records += build_engines(request)[0]
    print(summary_table(records), flush=True)
    return records


# ----------------------------------------------------------------------------- load
def read_metadata(engine_path: Path) -> dict[str, Any]:
    meta_path = Path(engine_path).with_suffix(".json")
    if not meta_path.is_file():
        raise MasktrtError(f"'{engine_path}' has no metadata file '{meta_path.name}' beside it",
                           "rebuild it with: masktrt build --onnx DIR --backend tensorrt-rtx")
    meta = json.loads(meta_path.read_text())
    if meta.get("schema") != SCHEMA:
        raise MasktrtError(f"'{meta_path}' is not masktrt engine metadata ({SCHEMA})",
                           f"rebuild with: {meta.get('rebuild', 'masktrt build --onnx DIR')}")
    return meta


def _rebuild(meta: dict[str, Any], backend: str | None) -> str:
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
    built = meta["tensorrt"]
    name = meta.get("name", "engine")
    if flavour is None:
        raise MasktrtError(f"the {name} engine was built with {built['module']} {built['version']}, "
                           "which is not installed here", _rebuild(meta, None) + " (after installing a TensorRT)")
    here = f"{flavour.module} {flavour.version}"
    if flavour.module != built["module"] or flavour.version != built["version"]:
        raise MasktrtError(f"the {name} engine was built with {built['module']} {built['version']}, "
                           f"but this machine runs {here}", _rebuild(meta, flavour.backend))
    if gpu is None:
        raise MasktrtError(f"no NVIDIA GPU found to run the {name} engine ({here} needs one to "
                           "deserialise and execute)", "run on a machine with a GPU, or use --backend onnxruntime")
    targets = meta.get("targets", {})
    ccs = targets.get("compute_capabilities")
    if ccs is not None and _cc_text(gpu.compute_capability) not in ccs:
        raise MasktrtError(f"the {name} engine was built for compute capability {', '.join(ccs)}, but "
                           f"this GPU ({gpu.name}) is {_cc_text(gpu.compute_capability)}", _rebuild(meta, flavour.backend))
    minimum = targets.get("min_compute_capability")
    if ccs is None and minimum and gpu.compute_capability < _cc_tuple(minimum):
        raise MasktrtError(f"the {name} engine targets compute capability {minimum}+, but this GPU "
                           f"({gpu.name}) is {_cc_text(gpu.compute_capability)}",
                           _rebuild(meta, flavour.backend) + f" --compute-capability {_cc_text(gpu.compute_capability)}")


def _installed_flavour(module: str) -> Flavour | None:
    import importlib

    try:
        return flavour_of(importlib.import_module(module))
    except ImportError:
        return None


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
                           + "; ".join(logger.errors[-2:] or ["no reason given"]), _rebuild(meta, flavour.backend))
    return LoadedEngine(engine, runtime, logger, meta, trt)
