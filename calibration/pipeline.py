"""`masktrt calibrate` end to end: record, range, analyse, quantise (two flavours), gate, select.

Order and reuse: the FP32 tracker's inputs are recorded once (only if some method's cache is
stale); per method the ranges and the per-block sensitivity are computed once and cached with
their provenance; every keep-policy of that method then quantises from the same ranges, into both
flavours. With one method and one policy the graphs go straight to `<out>/trt` and `<out>/ort`;
with several, each combination is written under `<out>/variants/<method>-<policy>/` and the first
that passes the gate (in the order given) is copied to `<out>/trt` and `<out>/ort`.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import onnx

from masktrt.errors import MasktrtError
from masktrt.files import write_json
from masktrt.provenance import writable_folder
from masktrt.runtime.contract import Contract, load_contract

from . import cache
from .blocks import graph_blocks, resolve
from .dataset import CalibrationSet, check_feeds, record
from .gate import check_disjoint, cpu_runner, gate_variant, passed, references, summary_table
from .quantize import FLAVOURS, METHODS, compute_ranges
from .sensitivity import BlockError, analyse_graph, auto_keep, block_limit, from_json, to_json
from .write import write_flavour

Log = Callable[[str], None]


@dataclass
class CalibrateOptions:
    onnx_dir: Path
    sequences: list[Path]
    out: Path
    methods: list[str] = field(default_factory=lambda: ["minmax"])
    keep: list[str] = field(default_factory=lambda: ["none"])
    frames_per_sequence: int = 8
    gate: list[Path] = field(default_factory=list)
    gate_frames: int = 30
    threads: int = 0


@dataclass
class Variant:
    method: str
    policy: str
    kept: list[str]
    folder: Path
    rows: list = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.method}-{self.policy}"


@dataclass
class CalibrationReport:
    out: Path
    sensitivity: dict[str, list[BlockError]]
    variants: list[Variant]
    selected: Variant
    reused: dict[str, bool]
    gated: bool
    weights: dict[str, Any] = field(default_factory=dict)  # deploy.json `source` of the graphs

    @property
    def weights_name(self) -> str:
        """The weights every figure was measured with, as a person reads it."""
        if self.weights.get("kind") == "random":
            return (f"seeded random weights (seed {self.weights.get('seed')}, BatchNorm "
                    "statistics re-estimated on real crops)")
        return f"checkpoint {self.weights.get('path')} (sha256 {self.weights.get('sha256')})"

    @property
    def gate_passed(self) -> bool:
        return (not self.gated) or bool(self.selected.rows and passed(self.selected.rows))

    def gate_table(self) -> str:
        return summary_table([(v.method, v.policy, v.kept, v.rows) for v in self.variants])


def check_options(opts: CalibrateOptions) -> Contract:
    unknown = [m for m in opts.methods if m not in METHODS]
    if unknown:
        raise MasktrtError(f"unknown calibration method(s) {unknown}", f"choose from {', '.join(METHODS)}")
    if not opts.sequences:
        raise MasktrtError("no calibration sequences given", "pass --sequences DIR [DIR...]")
    if opts.frames_per_sequence < 2:
        raise MasktrtError(f"--frames-per-sequence {opts.frames_per_sequence} gives no tracked frame "
                           "to calibrate on", "pass 2 or more (frame 0 initialises the tracker)")
    deploy = load_contract(opts.onnx_dir)
    if deploy.precision != "fp32" or "quantization" in deploy.raw:
        raise MasktrtError(f"{opts.onnx_dir} holds {deploy.precision} graphs"
                           f"{' (already quantised)' if 'quantization' in deploy.raw else ''}",
                           "calibrate the FP32 export ('masktrt export --precision fp32')")
    check_disjoint(opts.sequences, opts.gate)
    return deploy


def all_blocks(deploy: Contract) -> dict[str, dict[str, list[str]]]:
    return {g: graph_blocks(g, onnx.load(str(deploy.graph(g).path), load_external_data=False))
            for g in deploy.graph_names}


def policies(keep: list[str], blocks: dict[str, list[str]]) -> list[tuple[str, list[str] | None]]:
    """'none', 'auto' (resolved later: None) and one explicit policy from the named blocks."""
    out: list[tuple[str, list[str] | None]] = []
    names = [k for k in keep if k not in ("none", "auto")]
    for k in dict.fromkeys(keep):
        if k == "none":
            out.append(("none", []))
        elif k == "auto":
            out.append(("auto", None))
    if names:
        out.append(("named", resolve(names, blocks)))
    return out or [("none", [])]


def calibrate_method(deploy: Contract, opts: CalibrateOptions, method: str, blocks, get_data,
                     log: Log) -> tuple[dict[str, Path], list[BlockError], bool]:
    """Ranges and sensitivity of one method, from the cache when its provenance matches."""
    folder = cache.method_dir(opts.out, method)
    record_ = cache.provenance(deploy, opts.sequences, opts.frames_per_sequence, method)
    ranges = {g: cache.ranges_path(folder, g) for g in deploy.graph_names}
    cached = cache.cached_sensitivity(folder) if cache.matches(folder, record_) and \
        cache.complete(folder, deploy.graph_names) else None
    results = from_json(cached) if cached is not None else None
    if results is not None:
        log(f"[{method}] reusing the calibration cache in {folder} (same provenance)")
        return ranges, results, True
    cache.invalidate(folder, deploy.graph_names)
    data: CalibrationSet = get_data()
    work = opts.out / "cache" / "work"
    results: list[BlockError] = []
    for graph in deploy.graph_names:
        log(f"[{method}] ranges of {graph} over {data.count(graph)} recorded inputs")
        compute_ranges(deploy.graph(graph).path, data.feeds[graph], method, ranges[graph], work)
    for graph in deploy.graph_names:
        log(f"[{method}] sensitivity of {graph}: {len(blocks[graph])} blocks, one at a time")
        results += analyse_graph(deploy.graph(graph).path, blocks[graph], method, ranges[graph],
                                 data.feeds[graph], work)
    shutil.rmtree(work, ignore_errors=True)
    write_json(cache.sensitivity_path(folder), to_json(results), indent=1)
    cache.write_provenance(folder, record_)
    return ranges, results, False


def excluded_nodes(kept: list[str], blocks: dict[str, dict[str, list[str]]]) -> dict[str, list[str]]:
    return {g: [n for name, nodes in graph.items() if name in kept for n in nodes]
            for g, graph in blocks.items()}


def write_variant(deploy: Contract, folder: Path, method: str, policy: str, kept: list[str],
                  ranges: dict[str, Path], blocks, results: list[BlockError], prov: dict) -> None:
    why = {r.block: f"{r.worst_output} noise/signal {r.worst:.3f} > {block_limit():g}"
           for r in results if r.block in kept}
    record_ = {"keep_policy": policy, "kept_float": {b: why.get(b, "named by --keep") for b in kept},
               "calibration": {"sequences": [s["name"] for s in prov["sequences"]],
                               "frames_per_sequence": prov["frames_per_sequence"],
                               "versions": prov["versions"]}}
    exclude = excluded_nodes(kept, blocks)
    for flavour in FLAVOURS.values():
        write_flavour(deploy, folder / flavour.name, flavour, method, ranges, exclude, record_)


def calibrate(opts: CalibrateOptions, log: Log = print) -> CalibrationReport:
    deploy = check_options(opts)
    writable_folder(opts.out)
    blocks = all_blocks(deploy)
    flat = {name: nodes for graph in blocks.values() for name, nodes in graph.items()}
    plans = policies(opts.keep, flat)
    recorded: list[CalibrationSet] = []

    def get_data() -> CalibrationSet:
        if not recorded:
            log(f"recording the FP32 tracker's inputs on {len(opts.sequences)} sequence(s), "
                f"{opts.frames_per_sequence} frames each")
            with cpu_runner(deploy.root, opts.threads) as runner:
                data = record(runner, deploy, opts.sequences, opts.frames_per_sequence)
            check_feeds(data, deploy)
            recorded.append(data)
        return recorded[0]

    sensitivity, reused, variants = {}, {}, []
    single = len(opts.methods) * len(plans) == 1
    for method in opts.methods:
        ranges, results, reused[method] = calibrate_method(deploy, opts, method, blocks, get_data, log)
        sensitivity[method] = results
        prov = cache.provenance(deploy, opts.sequences, opts.frames_per_sequence, method)
        for policy, kept in plans:
            kept = auto_keep(results) if kept is None else kept
            folder = opts.out if single else opts.out / "variants" / f"{method}-{policy}"
            log(f"[{method}] keep {policy}: {len(kept)} block(s) in float -> {folder}")
            write_variant(deploy, folder, method, policy, kept, ranges, blocks, results, prov)
            variants.append(Variant(method, policy, kept, folder))
    if opts.gate:
        log(f"gate: FP32 reference trajectories on {len(opts.gate)} sequence(s), "
            f"{opts.gate_frames} frames each")
        refs = references(deploy.root, opts.gate, deploy.preset, opts.gate_frames, opts.threads)
        for v in variants:
            log(f"gate: {v.label}")
            v.rows = gate_variant(v.folder / "ort", f"ort-int8 {v.label}", refs, deploy.preset,
                                  opts.threads)
    selected = next((v for v in variants if v.rows and passed(v.rows)), variants[0])
    if not single:
        for flavour in FLAVOURS:
            shutil.copytree(selected.folder / flavour, opts.out / flavour, dirs_exist_ok=True)
    report = CalibrationReport(opts.out, sensitivity, variants, selected, reused, bool(opts.gate),
                               dict(deploy.source))
    write_report(report)
    return report


def write_report(report: CalibrationReport) -> Path:
    doc: dict[str, Any] = {
        "weights": {**report.weights, "description": report.weights_name},
        "selected": report.selected.label,
        "gate": {"ran": report.gated, "passed": report.gate_passed},
        "variants": [{"label": v.label, "kept_float": v.kept,
                      "gate": [{"sequence": r.sequence, "passed": r.passed,
                                "checks": [{"budget": b.name, "measured": m, "ok": ok}
                                           for b, m, ok in r.checks()]} for r in v.rows]}
                     for v in report.variants],
        "sensitivity": {m: to_json(r) for m, r in report.sensitivity.items()},
        "cache_reused": report.reused,
    }
    path = report.out / "calibration-report.json"
    return write_json(path, doc, indent=1)
