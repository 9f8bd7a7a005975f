"""The backends `masktrt bench` times, each a `Variant`: how to create it, its clock and memory.

The baseline is PyTorch eager FP32 behind the same tracker; on a GPU, eager FP16 and
torch.compile join it. ONNX Runtime graphs and TensorRT engines must come from the same weights
as the baseline (checked by the weights' sha256), or the ratios would compare different models.
"""
from __future__ import annotations

import copy
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from masktrt.benchmarks.bench_options import BenchOptions
from masktrt.benchmarks.clock import CudaRuntimeEvents, DeviceEvents, TorchCudaEvents
from masktrt.errors import MasktrtError

BASELINE = "torch-fp32"
NO_GPU = "not measured (no GPU)"


@dataclass
class Variant:
    """One line of the report: a backend in one configuration, or why it was not measured."""

    name: str
    label: str
    device: str = "cpu"
    make: Callable[[], Any] | None = None
    reason: str | None = None  # set when not measured
    events: Callable[[], DeviceEvents] | None = None
    device_memory: Callable[[], "DeviceMemory"] | None = None
    info: dict[str, Any] = field(default_factory=dict)
    # a runner on the batch=dynamic export of the same weights: the scaling run times N targets
    # tracked one by one and in one call (track_many) on it; None: sequential only
    batched: Callable[[], Any] | None = None


@dataclass
class DeviceMemory:
    """Peak (torch allocator) or in-use delta (cudaMemGetInfo) of device memory, in MiB."""

    read: Callable[[], float | None]
    method: str


def gpu_present() -> bool:
    from masktrt.kernels import gpu_available

    return gpu_available()


def torch_memory() -> DeviceMemory:
    import torch

    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    return DeviceMemory(lambda: torch.cuda.max_memory_allocated() / 2**20,
                        "torch.cuda.max_memory_allocated (caching allocator peak)")


def runtime_memory() -> DeviceMemory:
    from cuda.bindings import runtime as cudart

    free_before = cudart.cudaMemGetInfo()[1]
    return DeviceMemory(lambda: (free_before - cudart.cudaMemGetInfo()[1]) / 2**20,
                        "cudaMemGetInfo in-use delta after the run (not a peak)")


def torch_variants(model: Any, gpu: bool, tracker: str,
                   options: dict[str, str] | None = None) -> list[Variant]:
    """Eager FP32 (the baseline) always; eager FP16 and torch.compile on a GPU only. `options`:
    the export options the graphs would have (e.g. RTS's traced sizes)."""
    import torch

    from masktrt.runtime.backends import open_runner

    device = "cuda" if gpu and torch.cuda.is_available() else "cpu"
    cuda = device == "cuda"
    events = TorchCudaEvents if cuda else None
    memory = torch_memory if cuda else None
    info = {"threads": torch.get_num_threads(), "correlation": "grouped conv (eager PyTorch)"}
    fp32 = Variant(BASELINE, "torch eager FP32 (baseline)", device,
                   lambda: open_runner("torch", model=model, device=device, tracker=tracker,
                                      options=options), None,
                   events, memory,
                   info)
    reason = None if cuda else NO_GPU
    fp16 = Variant("torch-fp16", "torch eager FP16", device,
                   lambda: open_runner("torch", model=copy.deepcopy(model).half(), device=device,
                                       tracker=tracker, options=options),
                   reason, events, memory, info)
    compiled = Variant("torch-compile", "torch.compile FP32", device,
                       lambda: compiled_runner(model, device, tracker, options), reason, events,
                       memory, info)
    return [fp32, fp16, compiled]


def compiled_runner(model: Any, device: str, tracker: str,
                    options: dict[str, str] | None = None) -> Any:
    """The torch runner with each of the model's entry points wrapped in torch.compile
    (compiled on first use, i.e. during the warm-up frames). The entry points are the export
    side's `entry_points` where it names them, else the graph names (SiamMask's methods are
    named as its graphs)."""
    import torch

    from masktrt.runtime.backends import open_runner

    runner = open_runner("torch", model=copy.deepcopy(model), device=device, tracker=tracker,
                         options=options)
    for name in getattr(runner.side, "entry_points", runner.spec.graph_names):
        setattr(runner.model, name, torch.compile(getattr(runner.model, name)))
    return runner


def onnxruntime_variant(onnx_dir: Path, provider: str, gpu: bool) -> Variant:
    from masktrt.errors import require
    from masktrt.runtime.backends import open_runner
    from masktrt.runtime.backends.onnxruntime import choose_providers
    from masktrt.runtime.contract import load_contract

    deploy = load_contract(onnx_dir)
    cuda = choose_providers(require("onnxruntime", "onnxruntime"), provider)[0] == "CUDAExecutionProvider"
    device = "cuda" if cuda else "cpu"
    return Variant(f"onnxruntime-{deploy.precision}", f"ONNX Runtime {deploy.precision.upper()} "
                   f"({device})", device,
                   lambda: open_runner("onnxruntime", onnx_dir=onnx_dir, provider=provider), None,
                   CudaRuntimeEvents if cuda else None, runtime_memory if cuda else None,
                   {"onnx_dir": str(onnx_dir), "correlation": deploy.options.get("correlation"),
                    "precision": deploy.precision, "provider": provider,
                    "threads": "ONNX Runtime default (one per core)"})


def tensorrt_variant(engines_dir: Path | None, gpu: bool) -> Variant:
    variant = Variant("tensorrt", "TensorRT engines", "cuda")
    if not gpu:
        variant.reason = NO_GPU
    elif engines_dir is None:
        variant.reason = "not measured (no --engines DIR; build them with 'masktrt build')"
    else:
        from masktrt.runtime.backends import open_runner

        variant.make = lambda: open_runner("tensorrt", engine_dir=engines_dir)
        variant.events, variant.device_memory = CudaRuntimeEvents, runtime_memory
        variant.info = {"engines_dir": str(engines_dir)}
    return variant


# ---------------------------------------------------------------- weights and graphs
def load_weights(options: BenchOptions) -> tuple[Any, dict[str, Any], Path | None]:
    """(torch model, source record, ONNX folder or None). With --onnx the weights are rebuilt
    from its deploy.json, so both backends always run the same model."""
    from masktrt import registry
    from masktrt.export.model_source import load_tracker_model, model_for_deploy

    if options.onnx_dir is not None:
        from masktrt.runtime.contract import load_contract

        deploy = load_contract(options.onnx_dir)
        model = model_for_deploy(deploy, options.checkpoint).eval()
        return model, {**deploy.source, "width": deploy.model.get("width")}, Path(options.onnx_dir)
    model, source = load_tracker_model(options.tracker, options.checkpoint, seed=options.seed,
                                       width=options.width, variant=options.variant)
    width = registry.get(options.tracker).load_export().model_record(model).get("width")
    return model.eval(), {**source, "width": width}, None  # a checkpoint's own width


def cached_export(model: Any, source: dict[str, Any], options: BenchOptions,
                  batch: bool = False) -> Path:
    """Export the graphs once per (weights, width, precision, correlation) into the cache;
    `batch`: the batch=dynamic export (its correlation is the one that broadcasts per target)."""
    import hashlib
    import json
    import os
    import shutil
    import tempfile

    from masktrt.export.onnx_export import ExportOptions, export_onnx
    from masktrt.paths import cache_dir
    from masktrt.runtime.contract import load_contract

    from masktrt.specs.base import BATCH, BATCH_CORRELATION, BATCH_DYNAMIC

    tracker_options = ({**options.tracker_options(), "correlation": BATCH_CORRELATION,
                        BATCH: BATCH_DYNAMIC} if batch else options.tracker_options())
    key = json.dumps({"tracker": options.tracker, "source": source, "precision": options.precision,
                      "options": tracker_options, "preset": options.preset,
                      "code": export_code_digest(),
                      **({BATCH: BATCH_DYNAMIC} if batch else {})}, sort_keys=True)
    root = cache_dir("bench-onnx")
    folder = root / hashlib.sha256(key.encode()).hexdigest()[:16]
    try:
        load_contract(folder)
        return folder
    except MasktrtError:
        pass
    print(f"exporting ONNX graphs ({options.precision}, {tracker_options}) to {folder} "
          "(once) ...", file=sys.stderr)
    tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=root))
    try:
        record = {k: v for k, v in source.items() if k != "width"}
        export_onnx(model, tmp, record, ExportOptions(tracker=options.tracker,
                                                      options=tracker_options,
                                                      precision=options.precision,
                                                      preset=options.preset))
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def export_code_digest() -> str:
    """The exporter's and the networks' sources (masktrt.export): graphs exported by other code
    are not reused (an RTS decoder change once left a stale cached head in use)."""
    import masktrt.export
    from masktrt.provenance import source_digest

    return source_digest(Path(masktrt.export.__file__).parent)


def build_variants(options: BenchOptions, model: Any, source: dict[str, Any],
                   onnx_dir: Path | None, gpu: bool) -> list[Variant]:
    variants: list[Variant] = []
    if "torch" in options.backends:
        variants += torch_variants(model, gpu, options.tracker, options.tracker_options())
    if "onnxruntime" in options.backends:
        variants.append(onnxruntime_variant(onnx_dir or cached_export(model, source, options),
                                            options.provider, gpu))
        if wants_batched(options):
            variants[-1].batched = batched_runner(batched_export(model, source, options, onnx_dir),
                                                  options.provider)
    if "tensorrt" in options.backends:
        variants.append(tensorrt_variant(options.engines_dir, gpu))
    for folder in options.extra_onnx:
        extra = onnxruntime_variant(same_weights(folder, source), options.provider, gpu)
        if extra.name in {v.name for v in variants}:
            extra.name = f"{extra.name}-{distinction(folder, options.tracker)}"
        variants.append(extra)
    return variants


def distinction(folder: Path, tracker: str) -> str:
    """What tells a graph folder's row apart: its export options that differ from the spec's
    defaults (e.g. filtering=conv), else its parent folder's name (two INT8 variants)."""
    from masktrt import registry
    from masktrt.runtime.contract import load_contract

    defaults = registry.spec(tracker).options
    changed = {k: v for k, v in load_contract(folder).options.items() if defaults.get(k) != v}
    return ",".join(f"{k}={v}" for k, v in sorted(changed.items())) or Path(folder).resolve().parent.name


def wants_batched(options: BenchOptions) -> bool:
    """Batched calls are timed when more than one target is asked for and the tracker has
    batchable graphs."""
    from masktrt import registry

    return max(options.targets) > 1 and bool(registry.spec(options.tracker).batch_graphs)


def batched_export(model: Any, source: dict[str, Any], options: BenchOptions,
                   onnx_dir: Path | None) -> Path:
    """--onnx DIR itself when it was exported with batch=dynamic, else the cached batch export."""
    from masktrt.runtime.contract import load_contract
    from masktrt.specs.base import batched

    if onnx_dir is not None and batched(load_contract(onnx_dir).options):
        return Path(onnx_dir)
    return cached_export(model, source, options, batch=True)


def batched_runner(onnx_dir: Path, provider: str) -> Callable[[], Any]:
    """A factory of ONNX Runtime runners on the batched export."""
    from masktrt.runtime.backends import open_runner

    return lambda: open_runner("onnxruntime", onnx_dir=onnx_dir, provider=provider)


def same_weights(folder: Path, source: dict[str, Any]) -> Path:
    """An extra graph folder must come from the weights the baseline runs, or ratios lie."""
    from masktrt.runtime.contract import load_contract

    theirs = load_contract(folder).source.get("sha256")
    if theirs != source.get("sha256"):
        raise MasktrtError(f"'{folder}' was made from weights {theirs}, the baseline runs "
                           f"{source.get('sha256')}",
                           "pass graphs exported (or calibrated) from the same weights")
    return Path(folder)
