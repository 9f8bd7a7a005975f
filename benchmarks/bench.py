"""`masktrt bench`: the real tracker on a real sequence, per stage, backends side by side.

Every backend runs the same runtime tracker through the same sequence loop (runtime/loop.py) on
the same frames, timed through the tracker's stage hook, so the numbers are those of the loop
users run, not of a re-implementation. The baseline is what users run today: the PyTorch model in eager FP32 behind
the same NumPy/OpenCV tracker ("torch-fp32"). On a GPU, PyTorch eager FP16 and torch.compile are
timed as well, so the report shows what TensorRT buys over each; without a GPU they are listed
as not measured, never estimated.

Method, stated in the report too: frames are decoded into memory before timing (disk I/O is not
a tracker cost); `warmup` frames run untimed after init (allocations, autotuning, compilation);
backends run one after another in this process, and peak host RSS is the kernel's high-water
mark (VmHWM) reset before each backend, so each peak is that backend's own while it ran (it
includes what earlier backends left resident, e.g. imported libraries; the delta over the RSS
before the backend was created is reported beside it).
"""
from __future__ import annotations

import gc
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from masktrt.benchmarks.clock import StageClock, summarize, timed_ms
from masktrt.benchmarks.machine import (load_average, machine_info, peak_rss_mib, reset_peak_rss,
                                        rss_mib)
from masktrt.benchmarks.bench_variants import (BASELINE, Variant, build_variants, gpu_present,
                                               load_weights)
from masktrt.benchmarks.bench_options import BenchOptions
from masktrt import registry
from masktrt.errors import MasktrtError
from masktrt.runtime import loop

SCHEMA = "masktrt.bench"
SCHEMA_VERSION = 1
TOTAL = "total"  # every tracker's whole init/track call, besides its own stages (spec.stages)
INIT_REPEATS = 5  # init runs once per target in use; repeat it so its figure is not one sample


@dataclass
class Workload:
    """The frames and boxes every backend sees, identical across backends."""

    name: str
    path: Path
    kind: str
    frames: list[np.ndarray]
    box: tuple[float, float, float, float]
    warmup: int
    mask: np.ndarray | None = None  # the first frame's mask, for trackers that init from one

    @property
    def timed(self) -> int:
        return len(self.frames) - 1 - self.warmup


# ---------------------------------------------------------------- inputs
def load_workload(options: BenchOptions) -> Workload:
    """Decode 1 + warmup + frames frames into memory (fewer if the sequence is shorter)."""
    from masktrt.runtime.sequences import load_sequence

    seq = load_sequence(options.sequence)
    wanted = 1 + options.warmup + options.frames
    if len(seq) < options.warmup + 2:
        raise MasktrtError(f"sequence '{seq.name}' has {len(seq)} frames, too few for "
                           f"--warmup {options.warmup}", "use a longer sequence or fewer warm-up frames")
    if len(seq) < wanted:
        print(f"warning: '{seq.name}' has {len(seq)} frames: timing {len(seq) - 1 - options.warmup}, "
              f"not {options.frames}", file=sys.stderr)
    frames = [seq.frame(i) for i in range(min(wanted, len(seq)))]
    box = tuple(float(v) for v in seq.init_box())
    return Workload(seq.name, Path(options.sequence), seq.kind, frames, box, options.warmup,
                    seq.init_mask())


def jittered_boxes(box: tuple[float, float, float, float], count: int,
                   frame_hw: tuple[int, int], seed: int = 0) -> list[tuple[float, float, float, float]]:
    """`count` initial boxes: the given one, then copies moved by up to 10 % of the size and
    resized by 0.9-1.1 (seeded), so extra targets cost what real nearby targets would."""
    rng = np.random.default_rng(seed + count)
    x, y, w, h = box
    boxes = [box]
    height, width = frame_hw
    for _ in range(count - 1):
        dx, dy = rng.uniform(-0.1, 0.1, 2) * (w, h)
        sw, sh = rng.uniform(0.9, 1.1, 2) * (w, h)
        nx = float(np.clip(x + dx, 0, width - 1))
        ny = float(np.clip(y + dy, 0, height - 1))
        boxes.append((nx, ny, float(sw), float(sh)))
    return boxes


# ---------------------------------------------------------------- timing one backend
def time_tracking(tracker: Any, clock: StageClock, work: Workload, desc: str,
                  progress: bool) -> Any:
    """Init (repeated), warm-up frames untimed, then the timed frames; returns the last state."""
    from tqdm import tqdm

    clock.phase = "init"
    for i in range(max(1, work.warmup) + INIT_REPEATS):
        clock.recording = i >= max(1, work.warmup)
        state, ms = timed_ms(loop.init_call(tracker, work.frames[0], work.box, work.mask))
        clock.add(TOTAL, ms)
        clock.end_frame()
    clock.phase = "track"
    last: list[Any] = [state]
    with tqdm(total=len(work.frames) - 1, desc=desc, unit="frame", file=sys.stderr,
              disable=not progress, leave=False) as bar:
        loop.run(tracker, work.frames[1:], state=state, around=_recording(clock, work.warmup),
                 on_step=_total(clock, last), progress=bar.update)
    return last[0]


def _recording(clock: StageClock, warmup: int) -> loop.CallWrapper:
    """Before each tracked frame: record only once the warm-up frames are done."""
    from contextlib import nullcontext

    def around(number: int) -> Any:
        clock.recording = number >= warmup
        return nullcontext()
    return around


def _total(clock: StageClock, last: list[Any]) -> Any:
    """After each tracked frame: its whole call as the 'total' stage, device events resolved."""
    def on_step(step: loop.Step, _: loop.LoopSummary) -> None:
        clock.add(TOTAL, step.seconds * 1e3)
        clock.end_frame()
        last[0] = step.state
    return on_step


def time_targets(tracker: Any, work: Workload, count: int, frames: int, desc: str,
                 progress: bool, many: bool = False) -> list[float]:
    """Per-frame milliseconds to track `count` targets one after another in the same frames
    (`many`: all of them in one `track_many` call per frame)."""
    from tqdm import tqdm

    boxes = jittered_boxes(work.box, count, work.frames[0].shape[:2])
    states = [tracker.init(work.frames[0], b) for b in boxes]  # box init: masks are for box 0
    samples = []
    todo = work.frames[1:1 + work.warmup + frames]
    for index, frame in enumerate(tqdm(todo, desc=desc, unit="frame", file=sys.stderr,
                                       disable=not progress, leave=False)):
        start_states = states
        step = ((lambda: tracker.track_many(frame, start_states)[0]) if many else
                (lambda: [tracker.track(frame, s)[0] for s in start_states]))
        (states, ms) = timed_ms(step)
        if index >= work.warmup:
            samples.append(ms)
    return samples


def scaling_rows(tracker: Any, work: Workload, options: BenchOptions, name: str,
                 one_target: list[float]) -> list[dict[str, Any]]:
    """Cost per frame vs number of targets; 1 target reuses the main run's frame totals."""
    frames = min(options.scaling_frames or work.timed, work.timed)
    rows = []
    for count in sorted(set(options.targets)):
        if count == 1:
            samples = one_target[:frames]
        else:
            samples = time_targets(tracker, work, count, frames, f"{name} x{count}", options.progress)
        stats = summarize(samples)
        rows.append({"targets": count, "frame": stats,
                     "per_target_ms": stats["mean_ms"] / count if stats["mean_ms"] else None})
    base = next((r["frame"]["mean_ms"] for r in rows if r["targets"] == 1), None)
    for row in rows:
        row["relative_to_one_target"] = row["frame"]["mean_ms"] / base if base else None
    return rows


def batched_rows(make: Any, work: Workload, options: BenchOptions, config: Any, name: str,
                 rows: list[dict[str, Any]]) -> None:
    """Add to each scaling row the batched export's cost for its N targets, one by one and in
    one call per frame, side by side (same graphs, same frames, same boxes)."""
    from masktrt.runtime.session import bind

    frames = min(options.scaling_frames or work.timed, work.timed)
    with bind(make(), options.tracker, config) as bound:  # closes the runner it was given
        for row in rows:
            row["batched"] = batched_row(bound.core, work, row["targets"], frames, name,
                                         options.progress)


def batched_row(tracker: Any, work: Workload, count: int, frames: int, name: str,
                progress: bool) -> dict[str, Any]:
    """Sequential and batched per-frame stats for `count` targets on the batched export."""
    one = summarize(time_targets(tracker, work, count, frames, f"{name} x{count} seq", progress))
    many = summarize(time_targets(tracker, work, count, frames, f"{name} x{count} batched",
                                  progress, many=True))
    return {"sequential": one, "batched": many,
            "sequential_per_target_ms": one["mean_ms"] / count if one["mean_ms"] else None,
            "batched_per_target_ms": many["mean_ms"] / count if many["mean_ms"] else None,
            "speedup": one["mean_ms"] / many["mean_ms"] if one["mean_ms"] and many["mean_ms"] else None}


def measure(variant: Variant, work: Workload, options: BenchOptions, config: Any) -> dict[str, Any]:
    """Open the variant's runner, time it, record memory; creation and run errors become the
    reason."""
    gc.collect()
    reset_ok = reset_peak_rss()
    before = rss_mib()
    device_memory = variant.device_memory() if variant.device_memory else None
    runner = variant.make()
    try:
        clock, scaling = _time_runner(runner, variant, work, options, config)
    finally:
        runner.close()  # the benchmark opened it, the benchmark closes it
    peak = peak_rss_mib()
    result = {
        "stages": clock.stats("track"), "init": clock.stats("init"),
        "device_stages": clock.stats("track", device=True) if variant.events else None,
        "device_init": clock.stats("init", device=True) if variant.events else None,
        "scaling": scaling,
        "samples_ms": {stage: list(v) for stage, v in clock.host["track"].items()},
        "memory": {"host_rss_before_mib": before, "host_peak_rss_mib": peak,
                   "host_peak_delta_mib": None if peak is None or before is None else peak - before,
                   "host_method": ("in-process, sequential; VmHWM reset before this backend"
                                   if reset_ok else "in-process; VmHWM not resettable: "
                                   "peak of the whole process so far"),
                   "device_mib": device_memory.read() if device_memory else None,
                   "device_method": device_memory.method if device_memory else None},
    }
    del runner
    gc.collect()
    return result


def _time_runner(runner: Any, variant: Variant, work: Workload, options: BenchOptions,
                 config: Any) -> tuple[StageClock, list[dict[str, Any]]]:
    """The stage clock of the main run and the target-scaling rows of one variant's runner."""
    from masktrt.runtime.session import bind

    clock = StageClock(variant.events() if variant.events else None)
    with bind(runner, options.tracker, config, owns_runner=False, timer=clock) as timed:
        time_tracking(timed.core, clock, work, variant.name, options.progress)
    with bind(runner, options.tracker, config, owns_runner=False) as untimed:
        scaling = scaling_rows(untimed.core, work, options, variant.name,
                               clock.host["track"][TOTAL])
    if variant.batched is not None:
        batched_rows(variant.batched, work, options, config, variant.name, scaling)
    return clock, scaling


# ---------------------------------------------------------------- the run
def run_bench(options: BenchOptions, variants: list[Variant] | None = None,
              command: str | None = None) -> dict[str, Any]:
    """The whole benchmark as a JSON-ready report (see `validate_report` for its schema).

    `variants` replaces the backends built from `options` (tests, custom backends)."""
    options.validate()
    machine = machine_info()  # before the run: its load average is the one timings suffered
    config = registry.spec(options.tracker).preset(options.preset)
    work = load_workload(options)
    gpu = gpu_present()
    weights: dict[str, Any] = {}
    if variants is None:
        model, weights, onnx_dir = load_weights(options)
        variants = build_variants(options, model, weights, onnx_dir, gpu)
    results = [run_variant(v, work, options, config) for v in variants]
    add_speedups(results)
    report = assemble(options, work, config, weights, gpu, results)
    report["command"] = command
    report["machine"] = {**machine, "load_average_after": load_average()}
    return report


def run_variant(variant: Variant, work: Workload, options: BenchOptions, config: Any) -> dict[str, Any]:
    entry = {"name": variant.name, "label": variant.label, "device": variant.device,
             "clock": "perf_counter" + (" + CUDA events" if variant.events else ""),
             "info": variant.info, "status": "not measured", "reason": variant.reason}
    if variant.reason is not None or variant.make is None:
        return entry
    try:
        entry.update(measure(variant, work, options, config))
    except MasktrtError:
        raise
    except Exception as exc:  # e.g. torch.compile unsupported here: report it, keep the others
        if variant.name == BASELINE:
            raise
        entry["reason"] = f"failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        return entry
    entry["status"] = "measured"
    entry["fps"] = entry["stages"]["total"]["fps"]
    return entry


def add_speedups(results: list[dict[str, Any]]) -> None:
    """speedup_vs_baseline = baseline p50 total / this p50 total (> 1: faster than baseline).

    Medians, not means, so that one descheduled frame on a shared machine moves neither side."""
    base = next((r for r in results if r["name"] == BASELINE and r["status"] == "measured"), None)
    for r in results:
        if r["status"] != "measured" or base is None:
            r["speedup_vs_baseline"] = None
            continue
        r["speedup_vs_baseline"] = base["stages"]["total"]["p50_ms"] / r["stages"]["total"]["p50_ms"]


def stages_of(tracker: str) -> dict[str, list[str]]:
    """The tracker's timer stages (its spec), each list ending with the whole call's total."""
    stages = registry.spec(tracker).stages
    return {phase: list(stages.get(phase, ())) + [TOTAL] for phase in ("track", "init")}


def assemble(options: BenchOptions, work: Workload, config: Any, weights: dict[str, Any],
             gpu: bool, results: list[dict[str, Any]]) -> dict[str, Any]:
    correlations = {r["name"]: r["info"].get("correlation") for r in results if r["info"].get("correlation")}
    return {
        "schema": SCHEMA, "schema_version": SCHEMA_VERSION,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": None,
        "machine": machine_info(),
        "sequence": {"name": work.name, "path": str(work.path), "kind": work.kind,
                     "frame_hw": list(work.frames[0].shape[:2]), "init_box": list(work.box),
                     "timed_frames": work.timed, "warmup_frames": work.warmup},
        "settings": {"precision": options.precision, "correlation": correlations,
                     "preset": config.name, "weights": weights, "gpu": gpu,
                     "targets": sorted(set(options.targets)), "init_repeats": INIT_REPEATS,
                     "stages": stages_of(options.tracker)},
        "method": {**METHOD, "stages": f"{registry.spec(options.tracker).stage_help}; "
                                       f"{TOTAL}: the whole tracker call"},
        "baseline": BASELINE,
        "backends": results,
    }


METHOD = {
    "clock": "time.perf_counter around each stage inside the runtime tracker (host time); CUDA events "
             "as well where a GPU runs the stage",
    "frames": "decoded into memory before timing; warm-up frames run untimed after init",
    "memory": "backends run sequentially in one process; host peak = VmHWM reset before each "
              "backend (includes libraries loaded earlier; see the delta)",
    "ratio": "speedup_vs_baseline = baseline p50 total / backend p50 total",
    "scaling": "N targets tracked one after another in the same frames with one backend; "
               "initial boxes = the ground-truth box and jittered copies",
    "batched": "where a backend has one (ONNX Runtime, trackers with batchable graphs), the same "
               "weights exported with batch=dynamic (unrolled correlation) track the N targets "
               "one by one ('sequential') and in one track_many call per frame ('batched'): same "
               "graphs, frames and boxes, so the ratio is what batching alone buys",
}


# ---------------------------------------------------------------- schema
REQUIRED: dict[str, type | tuple[type, ...]] = {
    "schema": str, "schema_version": int, "created": str, "machine": dict, "sequence": dict,
    "settings": dict, "method": dict, "baseline": str, "backends": list,
}
STATS_KEYS = ("n", "p50_ms", "p90_ms", "p99_ms", "mean_ms", "fps")


def validate_report(report: dict[str, Any]) -> list[str]:
    """Problems with a report's structure (empty list: valid). CI runs this on the smoke run."""
    problems = [f"'{k}' missing or not {t}" for k, t in REQUIRED.items()
                if not isinstance(report.get(k), t)]
    if problems:
        return problems
    if report["schema"] != SCHEMA or report["schema_version"] != SCHEMA_VERSION:
        problems.append(f"schema {report['schema']} v{report['schema_version']} is not {SCHEMA} v{SCHEMA_VERSION}")
    for key in ("cpu", "cpu_cores", "libraries"):
        if key not in report["machine"]:
            problems.append(f"machine.{key} missing")
    stages = report["settings"].get("stages")
    if not isinstance(stages, dict) or not all(isinstance(stages.get(p), list) for p in ("track", "init")):
        return problems + ["settings.stages missing"]
    for entry in report["backends"]:
        problems += _backend_problems(entry, stages)
    return problems


def _backend_problems(entry: dict[str, Any], stages: dict[str, list[str]]) -> list[str]:
    name = entry.get("name", "?")
    if entry.get("status") not in ("measured", "not measured"):
        return [f"{name}: bad status {entry.get('status')!r}"]
    if entry["status"] == "not measured":
        return [] if isinstance(entry.get("reason"), str) else [f"{name}: not measured without a reason"]
    problems = _stage_problems(name, entry.get("stages", {}), stages["track"], "stage")
    problems += _stage_problems(name, entry.get("init", {}), stages["init"], "init stage")
    if not isinstance(entry.get("memory"), dict) or "host_peak_rss_mib" not in entry["memory"]:
        problems.append(f"{name}: memory missing")
    if not isinstance(entry.get("scaling"), list) or not entry["scaling"]:
        return problems + [f"{name}: scaling missing"]
    return problems + [p for row in entry["scaling"] for p in _batched_problems(name, row)]


def _stage_problems(name: str, measured: dict[str, Any], declared: list[str],
                    what: str) -> list[str]:
    """The whole call's total must be measured; a declared stage may be absent (a tracker's
    conditional step that never ran, e.g. OceanPlus's template update, or the cyclic-init
    search of a box-only start when the sequence starts from a mask), but not incomplete."""
    problems = [] if TOTAL in measured else [f"{name}: {what} '{TOTAL}' missing"]
    for stage in (s for s in declared if s in measured):
        stats = measured[stage]
        if not isinstance(stats, dict) or any(k not in stats for k in STATS_KEYS):
            problems.append(f"{name}: {what} '{stage}' incomplete")
    return problems


BATCHED_KEYS = ("sequential", "batched", "sequential_per_target_ms", "batched_per_target_ms",
                "speedup")


def _batched_problems(name: str, row: Any) -> list[str]:
    """A scaling row's optional `batched` record must hold both sides and the per-target costs."""
    batched = row.get("batched") if isinstance(row, dict) else None
    if batched is None:
        return []
    if not isinstance(batched, dict) or any(k not in batched for k in BATCHED_KEYS):
        return [f"{name}: batched scaling row for {row.get('targets')} targets incomplete"]
    return []
