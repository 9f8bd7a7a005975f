"""Build (or reuse) one engine per contract graph: parse, check, configure, build, record.

Graph names, tensor names and refit weights come from the contract (deploy.json), never from
literals, so any registered tracker's export builds. Each `<graph>.engine` gets the metadata of
engines.metadata beside it; an engine built from the same inputs is reused (`force` rebuilds).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Iterable

from masktrt.errors import MasktrtError
from masktrt.provenance import sha256_file
from masktrt.runtime.contract import Contract, load_contract
from masktrt.runtime.engine_loader import Gpu, probe_gpu
from masktrt.runtime.trt_module import Flavour, flavour_of, import_trt

from . import metadata, timing_cache
from .batch import add_profiles, batch_entry, is_batch_graph, per_target_io
from .builder_config import configure
from .correlation import contract_xcorr
from .network import Parsed, check_no_shape_inputs, graph_precision, io_mismatches, network_io, parse_onnx
from .precision import precision_plan
from .refit import mark_refittable, refit_entry
from .request import BuildRequest, EngineRecord
from .sources import any_quantized, checked_onnx, graph_io
from .targets import check_targets, targets


@dataclass(frozen=True)
class Build:
    """What every graph of one `masktrt build` shares."""

    trt: ModuleType
    contract: Contract
    request: BuildRequest
    xcorr: str | None
    gpu: Gpu | None
    quantized: bool  # another graph of this INT8 build has Q/DQ nodes

    @property
    def flavour(self) -> Flavour:
        return flavour_of(self.trt)


# ----------------------------------------------------------------------------- one graph
def _parsed(build: Build, graph: str) -> tuple[Parsed, Any]:
    """The checked network of `graph` and its precision plan (reparsed strongly typed if needed)."""
    path = build.contract.graph(graph).path
    parsed = parse_onnx(build.trt, path)
    plan = precision_plan(build.flavour, build.request.precision, graph_precision(parsed.network),
                          str(build.request.onnx_dir), build.quantized)
    if plan.strongly_typed and not build.flavour.always_strongly_typed:
        parsed = parse_onnx(build.trt, path, strongly_typed=True)
    check_no_shape_inputs(parsed.network, path)
    io = network_io(parsed.network)
    io = per_target_io(io) if is_batch_graph(build.contract, graph) else io
    problems = io_mismatches(io, graph_io(build.contract, graph))
    if problems:
        raise MasktrtError(f"'{path}' does not match deploy.json: " + "; ".join(problems),
                           f"re-export the graphs together: masktrt export --out {build.request.onnx_dir}")
    return parsed, plan


def _build_failure(build: Build, path: Path, errors: list[str], refit: bool) -> MasktrtError:
    flavour, reason = build.flavour, "; ".join(errors[-3:] or ["no reason given"])
    if refit and build.gpu is None and any("CUDA" in e for e in errors):
        return MasktrtError(f"{flavour.module} {flavour.version} needs CUDA to build the refittable "
                            f"engine '{path}' and no GPU/driver was found ({reason})",
                            "build the refittable engine on a machine with an NVIDIA GPU, or export "
                            "and build with --xcorr dynamic (no GPU needed)")
    return MasktrtError(f"{flavour.module} {flavour.version} failed to build '{path}': {reason}",
                        "see the TensorRT error above; try --workspace with more MB")


def build_one(build: Build, graph: str, cache: bytes | None) -> tuple[bytes, dict[str, Any], bytes | None]:
    """Parse, check and build one graph; returns (engine bytes, metadata, updated timing cache).

    A graph with refit weights in the contract is built refittable in exactly those weights.
    """
    parsed, plan = _parsed(build, graph)
    config = configure(parsed, build.flavour, plan, build.request, cache)
    if is_batch_graph(build.contract, graph):
        add_profiles(parsed, config)
    refit = build.contract.graph(graph).refit
    flags = list(plan.flags)
    if refit:
        mark_refittable(parsed.network, build.flavour, refit, build.contract.graph(graph).path)
        config.set_flag(getattr(build.trt.BuilderFlag, build.flavour.refit_flag))
        flags.append(build.flavour.refit_flag)
    start = time.perf_counter()
    serialized = parsed.builder.build_serialized_network(parsed.network, config)
    seconds = time.perf_counter() - start
    if serialized is None:
        raise _build_failure(build, build.contract.graph(graph).path, parsed.logger.errors, bool(refit))
    engine = bytes(serialized)
    new_cache = bytes(config.get_timing_cache().serialize()) if build.flavour.uses_timing_cache else None
    return engine, _metadata(build, graph, engine, parsed, plan, flags, seconds), new_cache


def _metadata(build: Build, graph: str, engine: bytes, parsed: Parsed, plan: Any, flags: list[str],
              seconds: float) -> dict[str, Any]:
    flavour, request, path = build.flavour, build.request, build.contract.graph(graph).path
    cache = timing_cache.cache_path(request, flavour, build.gpu)
    refit = build.contract.graph(graph).refit
    return {
        **metadata.engine_entry(graph, engine),
        "tensorrt": {"module": flavour.module, "version": flavour.version},
        "gpu": build.gpu.to_json() if build.gpu else {"name": None, "compute_capability": None},
        "targets": targets(flavour, request, build.gpu),
        "precision": request.precision, "graph_precision": graph_precision(parsed.network),
        "strongly_typed": plan.strongly_typed, "builder_flags": flags, "xcorr": build.xcorr,
        "refit": refit_entry(flavour, refit) if refit else None,
        "batch": batch_entry(build.contract, graph),
        **metadata.contract_entry(build.contract, graph),
        "onnx": {"file": path.name, "dir": str(Path(request.onnx_dir).resolve()), "sha256": sha256_file(path)},
        "build_seconds": round(seconds, 3), "built_at": metadata.built_at(),
        "workspace_mb": request.workspace_mb, "timing_cache": str(cache) if cache else None,
        **network_io(parsed.network),
        "rebuild": request.command(),
    }


def _build_or_reuse(build: Build, graph: str, digest: str, cache: bytes | None
                    ) -> tuple[EngineRecord, bytes | None]:
    """Reuse the engine on disk if it was built from the same inputs, else build and write it."""
    out = build.request.out_dir()
    engine_path, meta_path = out / f"{graph}.engine", out / f"{graph}.json"
    meta = metadata.reusable(meta_path, engine_path, build.flavour, build.request, build.xcorr, digest,
                             targets(build.flavour, build.request, build.gpu))
    if meta is not None:
        return EngineRecord(graph, engine_path, meta, cached=True), cache
    engine, meta, cache = build_one(build, graph, cache)
    engine_path, _ = metadata.write_engine(out, graph, engine, meta)
    return EngineRecord(graph, engine_path, meta), cache


# ----------------------------------------------------------------------------- a folder
def _prepare(request: BuildRequest, trt: ModuleType, graphs: Iterable[str] | None
             ) -> tuple[Build, dict[str, str], list[str]]:
    """Check the request against the contract and this TensorRT: (build, graph -> sha256, notes)."""
    flavour = flavour_of(trt)
    contract = load_contract(request.onnx_dir)
    xcorr, why = contract_xcorr(flavour, request.xcorr, contract.options, str(request.onnx_dir))
    notes = [f"correlation: {why}"] if why else []
    gpu = probe_gpu()
    if not flavour.builds_without_gpu and gpu is None:
        raise MasktrtError(f"{flavour.module} builds engines for the GPU it runs on, and no NVIDIA GPU "
                           "was found", "build on the target machine, or use --backend tensorrt-rtx (ahead of time)")
    check_targets(flavour, request, gpu)
    if request.timing_cache and not flavour.uses_timing_cache:
        notes.append("TensorRT-RTX ignores timing caches (it tunes on the target GPU at run time)")
    sources = {g: checked_onnx(contract, g) for g in (contract.graph_names if graphs is None else graphs)}
    quantized = request.precision == "int8" and any_quantized(trt, (p for p, _ in sources.values()))
    build = Build(trt, contract, request, xcorr, gpu, quantized)
    return build, {g: digest for g, (_, digest) in sources.items()}, notes


def build_engines(request: BuildRequest, graphs: Iterable[str] | None = None,
                  trt: ModuleType | None = None) -> tuple[list[EngineRecord], list[str]]:
    """Build (or reuse) the engine of every contract graph (or of `graphs`); returns the records
    and notes to show the user."""
    trt = trt or import_trt(request.backend)
    build, digests, notes = _prepare(request, trt, graphs)
    request.out_dir().mkdir(parents=True, exist_ok=True)
    path = timing_cache.cache_path(request, build.flavour, build.gpu)
    cache = timing_cache.read_cache(path)
    records = []
    for graph, digest in digests.items():
        record, cache = _build_or_reuse(build, graph, digest, cache)
        records.append(record)
    note = timing_cache.write_cache(path, cache)
    return records, notes + ([note] if note else [])


def summary_table(records: Iterable[EngineRecord]) -> str:
    """Engine, size, precision, strategy, build time: the lines CI's log shows."""
    rows = [("engine", "size", "precision", "xcorr", "tensorrt", "build")]
    for r in records:
        m = r.meta
        rows.append((m["name"], f"{m['engine_bytes'] / 1e6:.1f} MB", m["precision"], m["xcorr"] or "-",
                     f"{m['tensorrt']['module']} {m['tensorrt']['version']}",
                     "cached" if r.cached else f"{m['build_seconds']:.2f} s"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)


def build_matrix(onnx_dirs: Iterable[Path], out_root: Path, backend: str = "tensorrt-rtx") -> list[EngineRecord]:
    """CI: build every exported graph of each export folder (one per strategy x precision, as
    their deploy.json says) and print one table; any parse, build or I/O mismatch raises."""
    records = []
    for onnx_dir in onnx_dirs:
        contract = load_contract(onnx_dir)
        precision, xcorr = contract.precision, contract.options.get("correlation") or "auto"
        out = Path(out_root) / f"{Path(onnx_dir).name}-{backend}-{precision}-{xcorr}"
        request = BuildRequest(Path(onnx_dir), backend=backend, precision=precision, xcorr=xcorr,
                               out=out, force=True)
        records += build_engines(request)[0]
    print(summary_table(records), flush=True)
    return records
