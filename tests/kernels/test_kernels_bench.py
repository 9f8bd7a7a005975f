"""The kernel benchmark runs, reports p50/p99 per stage and size, and never claims GPU numbers it lacks."""
from __future__ import annotations

from masktrt.benchmarks.kernels_bench import NO_GPU, format_report, run_kernel_bench
from masktrt.kernels.loader import gpu_available


def test_bench_structure_on_a_small_frame():
    report = run_kernel_bench({"tiny": (120, 160)}, repeats=3)
    stages = report["results"]["tiny"]
    assert set(stages) == {"crop_resize", "paste_mask", "mbr"}
    for r in stages.values():
        assert 0 < r["cpu"]["p50_ms"] <= r["cpu"]["p99_ms"] and r["cpu"]["repeats"] == 3
        assert (r["gpu"] is None) == (not gpu_available())
    if not gpu_available():
        assert report["note"] == NO_GPU and NO_GPU in format_report(report)
