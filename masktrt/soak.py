"""Soak: track many frames through the Python API and through `masktrt track`, sampling memory.

A tracker that leaks a few KiB per frame passes every short test and dies after a day on a
camera. This runs N synthetic frames (a textured target moving forever over fresh noise, so
nothing is cached between frames) with ONNX Runtime on a small export and samples the resident
set size (VmRSS) every `every` frames: in-process for the API, from /proc/<pid>/status of the
child for the CLI (its frame count read from the boxes.txt it is writing).

    python -m masktrt.soak --frame-count 10000 --every 500 [--onnx DIR] [--json PATH]

Without --onnx it exports the width-0.125 random model once (needs the export extras). Prints
one JSON document and the docs/reliability.md line. The budget (FLAT_BUDGET_MIB) is what the
slow test asserts: RSS growth after warm-up.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from masktrt.arg_types import COUNT

FRAME_HW = (240, 320)
TARGET = (40, 30)  # w, h
WARMUP_FRAMES = 1000  # allocator pools, ONNX Runtime arenas and caches settle by then
FLAT_BUDGET_MIB = 20.0  # growth allowed after warm-up: 2 KiB a frame over 10 000 frames


def rss_mib(pid: int | str = "self") -> float:
    """Resident set size of a process in MiB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return math.nan


def target_box(i: int) -> tuple[int, int, int, int]:
    """Where the target is in frame i: a slow Lissajous path that stays inside the frame."""
    h, w = FRAME_HW
    x = (w - TARGET[0]) / 2 + 0.35 * (w - TARGET[0]) * math.sin(i / 40)
    y = (h - TARGET[1]) / 2 + 0.35 * (h - TARGET[1]) * math.sin(i / 57)
    return int(round(x)), int(round(y)), TARGET[0], TARGET[1]


def synthetic_frames(count: int, seed: int = 0) -> Iterator[np.ndarray]:
    """Frames made on the fly: fresh dark noise, a bright checkered target at `target_box(i)`."""
    rng = np.random.default_rng(seed)
    patch = np.indices(TARGET[::-1]).sum(axis=0) % 8 < 4
    texture = np.where(patch[..., None], 230, 120).astype(np.uint8)
    for i in range(count):
        frame = rng.integers(0, 60, size=FRAME_HW + (3,), dtype=np.uint8)
        x, y, w, h = target_box(i)
        frame[y:y + h, x:x + w] = texture
        yield frame


def small_export(folder: Path) -> Path:
    """A width-0.125 seeded random SiamMask exported to `folder` (once; reused if present)."""
    if (folder / "deploy.json").is_file():
        return folder
    from masktrt.export.model_source import load_tracker_model
    from masktrt.export.onnx_export import ExportOptions, export_onnx
    from masktrt.registry import DEFAULT_TRACKER

    model, source = load_tracker_model(DEFAULT_TRACKER, None, seed=0, width=0.125, pairs=8)
    export_onnx(model, folder, source, ExportOptions(options={"correlation": "dynamic"}))
    return folder


def soak_api(onnx_dir: Path, frames: int, every: int) -> dict[str, Any]:
    """Track `frames` frames with masktrt.open_tracker; RSS sampled every `every` frames."""
    import masktrt

    samples, lost = [], 0
    source = synthetic_frames(frames)
    with masktrt.open_tracker(str(onnx_dir), backend="onnxruntime") as tracker:
        tracker.init(next(source), target_box(0))
        start = time.perf_counter()
        for i, frame in enumerate(source, start=1):
            lost += int(tracker.track(frame).lost)
            if (i + 1) % every == 0:
                samples.append((i + 1, round(rss_mib(), 1)))
        seconds = time.perf_counter() - start
    return _report("api", frames, seconds, samples, lost=lost)


def soak_api_isolated(onnx_dir: Path, frames: int, every: int) -> dict[str, Any]:
    """`soak_api` in a fresh interpreter: RSS measured in a process that already ran other
    work (a test session that loaded and freed large models) grows while the allocator
    re-touches pages freed earlier, which says nothing about the API's own memory."""
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(soak_api, (Path(onnx_dir), frames, every))


def write_video(path: Path, frames: int) -> Path:
    """The synthetic frames as an MP4 for `masktrt track --video` (no 10 000 image files)."""
    from masktrt.runtime.video import Mp4Writer

    with Mp4Writer(path, 30.0) as writer:
        for frame in synthetic_frames(frames):
            writer.write(frame)
    return path


def soak_cli(onnx_dir: Path, frames: int, every: int, work: Path) -> dict[str, Any]:
    """`masktrt track --video` in a child process; its RSS sampled as its boxes.txt grows."""
    video, out = write_video(work / "soak.mp4", frames), work / "track"
    x, y, w, h = target_box(0)
    command = [sys.executable, "-m", "masktrt.cli", "track", "--backend", "onnxruntime",
               "--onnx", str(onnx_dir), "--video", str(video), "--box", f"{x},{y},{w},{h}",
               "--out", str(out), "--overwrite", "--no-video"]
    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    samples = _watch(child, out / "boxes.txt", every)
    stdout, stderr = child.communicate()
    if child.returncode != 0:
        raise RuntimeError(f"masktrt track failed ({child.returncode}): {stderr.strip()[-500:]}")
    return _report("cli", frames, time.perf_counter() - start, samples, summary=stdout.strip())


def _watch(child: subprocess.Popen, boxes: Path, every: int) -> list[tuple[int, float]]:
    samples: list[tuple[int, float]] = []
    while child.poll() is None:
        done = _lines(boxes)
        if done >= (len(samples) + 1) * every:
            try:
                samples.append((done, round(rss_mib(child.pid), 1)))
            except OSError:
                break
        time.sleep(0.05)
    return samples


def _lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except OSError:
        return 0


def _report(kind: str, frames: int, seconds: float, samples: list, **extra: Any) -> dict[str, Any]:
    warm = [rss for n, rss in samples if n >= WARMUP_FRAMES]
    return {"kind": kind, "frames": frames, "seconds": round(seconds, 1),
            "fps": round(frames / seconds, 1), "samples": samples,
            "rss_warm_mib": warm[0] if warm else None, "rss_end_mib": samples[-1][1] if samples else None,
            "growth_after_warmup_mib": round(max(warm) - warm[0], 1) if warm else None, **extra}


def readme_line(report: dict[str, Any], machine: str) -> str:
    """The docs/reliability.md figures for one soak run."""
    return (f"{report['kind']}: {report['frames']} frames, {report['fps']} fps, RSS "
            f"{report['rss_warm_mib']} MiB after {WARMUP_FRAMES} frames -> {report['rss_end_mib']} MiB "
            f"at the end (growth {report['growth_after_warmup_mib']} MiB; budget "
            f"{FLAT_BUDGET_MIB:g}); {machine}")


def machine_text() -> str:
    load = os.getloadavg()[0]
    return f"{os.cpu_count()} CPUs, load average {load:.2f} at the end"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m masktrt.soak", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frame-count", type=COUNT, default=10_000, help="frames per soak")
    parser.add_argument("--every", type=COUNT, default=500, help="RSS sample period in frames")
    parser.add_argument("--onnx", type=Path, default=None, help="export folder (default: a small one)")
    parser.add_argument("--only", choices=["api", "cli"], default=None)
    parser.add_argument("--json", type=Path, default=None, help="also write the report here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="masktrt-soak-") as tmp:
        onnx_dir = args.onnx or small_export(Path(tmp) / "onnx")
        reports = [run(kind, onnx_dir, args.frame_count, args.every, Path(tmp))
                   for kind in ("api", "cli") if args.only in (None, kind)]
    machine = machine_text()
    document = {"machine": machine, "reports": reports}
    print(json.dumps(document, indent=1))
    for report in reports:
        print(readme_line(report, machine))
    if args.json:
        from masktrt.files import write_json

        write_json(args.json, document)
    return 0


def run(kind: str, onnx_dir: Path, frames: int, every: int, work: Path) -> dict[str, Any]:
    return soak_api(onnx_dir, frames, every) if kind == "api" else soak_cli(onnx_dir, frames, every, work)


if __name__ == "__main__":
    sys.exit(main())
