"""Kernel benchmark: each CUDA kernel against its CPU reference at 480p, 720p, 1080p and 4K.

`run_kernel_bench(sizes, repeats)` returns a JSON-ready dict with p50/p99 milliseconds per stage
and frame size. CPU figures time the official NumPy/OpenCV pipeline (the references that define
the results). GPU figures are wall time per call including launch overhead, synchronised after
each call; on a machine without a GPU they are absent and the report says
"GPU: not measured (no GPU)". Run: python -m masktrt.benchmarks.kernels_bench [--repeats N].
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from typing import Callable

import cv2
import numpy as np

from masktrt import registry
from masktrt.arg_types import COUNT
from masktrt.geometry import INSTANCE_SIZE, MASK_OUT_SIZE
from masktrt.kernels.loader import gpu_available
from masktrt.runtime.crop import crop_subwindow
from masktrt.runtime.mask import binarize, mask_polygon, paste_back, sigmoid

SIZES = {"480p": (480, 854), "720p": (720, 1280), "1080p": (1080, 1920), "4K": (2160, 3840)}
NO_GPU = "GPU: not measured (no GPU)"


def _percentiles(fn: Callable[[], object], repeats: int) -> dict[str, float]:
    fn()  # warm-up (first-use compilation, caches)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return {"p50_ms": float(np.percentile(times, 50)), "p99_ms": float(np.percentile(times, 99)),
            "repeats": repeats}


def scene(hw: tuple[int, int], seed: int = 0) -> dict:
    """A frame, a target a fifth of the frame wide, its search crop and plausible refine logits."""
    rng = np.random.default_rng(seed)
    h, w = hw
    frame = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    side = int(round(min(h, w) * 0.6))
    center = (w * 0.45, h * 0.55)
    crop_box = (center[0] - side / 2, center[1] - side / 2, float(side), float(side))
    yy, xx = np.mgrid[:MASK_OUT_SIZE, :MASK_OUT_SIZE]
    logits = (6.0 - 0.012 * ((yy - 63) ** 2 + 0.5 * (xx - 60) ** 2)).astype(np.float32)
    return {"frame": frame, "avg": frame.reshape(-1, 3).mean(0), "center": center, "side": side,
            "crop_box": crop_box, "pos": (12, 12), "logits": logits}


def davis_threshold() -> float:
    """The default tracker's DAVIS mask threshold: the binarisation the kernels are timed with."""
    return registry.spec(registry.DEFAULT_TRACKER).preset("davis").seg_thr


def cpu_stages(s: dict) -> dict[str, Callable[[], object]]:
    hw = s["frame"].shape[:2]
    thr = davis_threshold()
    mask = binarize(paste_back(sigmoid(s["logits"]), s["crop_box"], s["pos"], hw), thr)
    box = (s["center"][0], s["center"][1], s["side"] / 2, s["side"] / 2)
    return {
        "crop_resize": lambda: crop_subwindow(s["frame"], s["center"], INSTANCE_SIZE, s["side"], s["avg"]),
        "paste_mask": lambda: binarize(paste_back(sigmoid(s["logits"]), s["crop_box"], s["pos"], hw), thr),
        "mbr": lambda: mask_polygon(mask, box),
    }


def gpu_stages(s: dict) -> dict[str, Callable[[], object]]:
    """The same three stages on the device (inputs uploaded once, as with engine buffers)."""
    from masktrt.kernels import launch
    from masktrt.kernels.crop_reference import crop_params
    from masktrt.kernels.loader import _driver, ensure_context
    from masktrt.kernels.paste_reference import paste_params

    ensure_context(0)
    drv = _driver()
    h, w = s["frame"].shape[:2]
    frame = launch.DeviceBuffer(s["frame"].nbytes)
    frame.upload(s["frame"])
    out = launch.DeviceBuffer(3 * INSTANCE_SIZE ** 2 * 4)
    logits, prob = launch.DeviceBuffer(MASK_OUT_SIZE ** 2 * 4), launch.DeviceBuffer(MASK_OUT_SIZE ** 2 * 4)
    logits.upload(s["logits"])
    mask = launch.DeviceBuffer(h * w)
    mask.upload(np.zeros((h, w), np.uint8))
    ws = launch.MbrWorkspace.allocate(h, w)
    crop, paste, mbr = launch.CropResizeKernel(), launch.PasteMaskKernel(), launch.MbrKernel()
    cp = crop_params(s["center"], INSTANCE_SIZE, s["side"], s["avg"])
    pp = paste_params(s["crop_box"], s["pos"], (h, w))
    thr = davis_threshold()

    def sync(fn):
        def run():
            fn()
            drv.cuCtxSynchronize()
        return run

    return {
        "crop_resize": sync(lambda: crop.launch(frame.ptr, (h, w), w * 3, cp, out.ptr)),
        "paste_mask": sync(lambda: paste.launch(logits.ptr, prob.ptr, pp, thr, mask.ptr, w, pp.region)),
        "mbr": lambda: (mbr.launch(mask.ptr, w, pp.region, ws), mbr.read(ws)),
    }


def run_kernel_bench(sizes: dict[str, tuple[int, int]] | None = None, repeats: int = 50) -> dict:
    """{"device", "gpu", "results": {size: {stage: {"cpu": {...}, "gpu": {...} | None}}}}."""
    sizes = sizes or SIZES
    has_gpu = gpu_available()
    report: dict = {"cpu": platform.processor() or platform.machine(), "opencv": cv2.__version__,
                    "cv2_threads": cv2.getNumThreads(), "gpu": None if not has_gpu else "device 0",
                    "note": None if has_gpu else NO_GPU, "results": {}}
    for label, hw in sizes.items():
        s = scene(hw)
        cpu = {k: _percentiles(fn, repeats) for k, fn in cpu_stages(s).items()}
        gpu = {k: _percentiles(fn, repeats) for k, fn in gpu_stages(s).items()} if has_gpu else {}
        report["results"][label] = {k: {"cpu": cpu[k], "gpu": gpu.get(k)} for k in cpu}
    return report


def format_report(report: dict) -> str:
    lines = [f"kernels vs CPU references (OpenCV {report['opencv']}); " + (report["note"] or f"GPU: {report['gpu']}")]
    for label, stages in report["results"].items():
        for stage, r in stages.items():
            gpu = f"gpu p50 {r['gpu']['p50_ms']:.3f} p99 {r['gpu']['p99_ms']:.3f} ms" if r["gpu"] else "gpu -"
            lines.append(f"{label:>6} {stage:<12} cpu p50 {r['cpu']['p50_ms']:.3f} p99 {r['cpu']['p99_ms']:.3f} ms | {gpu}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=COUNT, default=50)
    parser.add_argument("--json", help="also write the report here")
    args = parser.parse_args(argv)
    report = run_kernel_bench(SIZES, args.repeats)
    print(format_report(report))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
