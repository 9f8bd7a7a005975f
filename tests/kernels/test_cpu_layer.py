"""The CPU execution layer itself: it catches broken kernels, its barrier, atomics and intrinsics follow
CUDA's rules, its libraries are cached safely, ThreadSanitizer finds no race (slow); and the
loader's one-line error for GPUs NVRTC cannot target and its race-free cache writes (issue 21)."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from masktrt.errors import MasktrtError
from masktrt.kernels import launch, loader
from masktrt.kernels.host_module import (TSAN_SUPPRESSIONS, HostBuffer, HostKernelModule, build_library,
                                         lockstep_kernels, source_path)

from tests.helpers.kernel_cases import check_mbr, check_paste, paste_sequence
from tests.helpers.mbr_cases import random_masks
from test_cpu_kernels import module, run_mbr, run_paste_sequence

HERE = Path(__file__).parent


def broken_copy(tmp_path: Path, name: str, old: str, new: str) -> Path:
    """A copy of kernels/<name>.cu with one edit (what a careless change would do)."""
    text = source_path(name).read_text()
    assert old in text, old
    out = tmp_path / f"{name}.cu"
    out.write_text(text.replace(old, new))
    return out


def test_off_by_one_paste_back_fails_the_comparison(tmp_path):
    src = broken_copy(tmp_path, "paste_mask", "__fmaf_rn(m0, (float)x, m2)", "__fmaf_rn(m0, (float)(x + 1), m2)")
    kernel = launch.PasteMaskKernel(HostKernelModule(src, cache_root=tmp_path))
    with pytest.raises(AssertionError):
        run_paste_sequence(kernel, paste_sequence((240, 320), 6, 3), check_paste)


def test_missing_syncthreads_in_hull_mbr_fails_the_comparison(tmp_path):
    src = broken_copy(tmp_path, "mbr", "    __syncthreads();\n    int k = count;", "    int k = count;")
    kernel = launch.MbrKernel(HostKernelModule(src, cache_root=tmp_path, thread0_last=True))
    for angle in (20, 35, 60):  # rotated boxes: one hull edge alone is never the answer
        mask = rotated_box(angle)
        check_mbr(mask, run_mbr(launch.MbrKernel(module("mbr")), mask))
        with pytest.raises(AssertionError):  # every time: thread 0 runs after the others read `count`
            check_mbr(mask, run_mbr(kernel, mask))


def rotated_box(angle: float) -> np.ndarray:
    import cv2

    mask = np.zeros((200, 240), np.uint8)
    corners = cv2.boxPoints(((120.0, 100.0), (150.0, 60.0), angle))
    cv2.fillPoly(mask, [np.round(corners).astype(np.int32)], 1)
    return mask


PROBE = r'''
extern "C" __global__ void rotate_shared(int* out) {
    __shared__ int s[256];
    int t = threadIdx.x + blockDim.x * threadIdx.y;
    int n = blockDim.x * blockDim.y;
    s[t] = t * 3 + blockIdx.x;
    __syncthreads();
    out[blockIdx.x * n + t] = s[(t + 1) % n];
}
extern "C" __global__ void count_and_ids(unsigned long long* total, int* ids, int* lo, int* hi) {
    atomicAdd(total, 1ULL);
    int g = blockIdx.x * blockDim.x + threadIdx.x;
    atomicMin(lo, g);
    atomicMax(hi, g);
    ids[g] = (int)(gridDim.x * 1000 + blockDim.x);
}
extern "C" __global__ void intrinsics(const float* x, int* r, float* f) {
    int i = threadIdx.x;
    r[i] = __float2int_rn(x[i]);
    f[i] = __saturatef(x[i]);
    if (i == 0) { r[8] = __clz(0); r[9] = __clz(1); r[10] = atomicCAS(&r[11], 0, 7); r[12] = atomicExch(&r[13], 5); }
}
'''


@pytest.fixture(scope="module")
def probe(tmp_path_factory):
    root = tmp_path_factory.mktemp("probe")
    (root / "probe.cu").write_text(PROBE)
    return HostKernelModule(root / "probe.cu", cache_root=root)


def test_the_thread0_last_schedule_passes_correct_kernels():
    kernel = launch.MbrKernel(HostKernelModule("mbr", thread0_last=True))
    for mask in random_masks(5, 6, [(120, 160), (240, 320)]):
        check_mbr(mask, run_mbr(kernel, mask))


def test_lockstep_is_decided_from_the_source():
    assert lockstep_kernels(PROBE) == {"rotate_shared"}
    assert lockstep_kernels(source_path("mbr").read_text()) == {"hull_mbr"}
    assert lockstep_kernels(source_path("crop_resize").read_text()) == set()


def test_syncthreads_is_a_barrier_and_shared_memory_is_per_block(probe):
    out = np.zeros(3 * 64, np.int32)
    probe.launch("rotate_shared", (3, 1, 1), (16, 4, 1), [(out.ctypes.data, launch.c_ptr)])
    t = np.arange(64)
    want = np.concatenate([((t + 1) % 64) * 3 + b for b in range(3)])
    np.testing.assert_array_equal(out, want)


def test_atomics_and_builtins_across_a_grid(probe):
    total, lo, hi = np.zeros(1, np.uint64), np.full(1, 1 << 30, np.int32), np.full(1, -1, np.int32)
    ids = np.zeros(7 * 96, np.int32)
    probe.launch("count_and_ids", (7, 1, 1), (96, 1, 1), [(a.ctypes.data, launch.c_ptr) for a in (total, ids, lo, hi)])
    assert int(total[0]) == 7 * 96 and lo[0] == 0 and hi[0] == 7 * 96 - 1
    assert set(ids.tolist()) == {7096}


def test_intrinsics_round_like_the_gpu(probe):
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, 1e10, np.nan, 0.7], np.float32)
    r, f = np.zeros(14, np.int32), np.zeros(8, np.float32)
    r[11] = 0
    r[13] = 9
    probe.launch("intrinsics", (1, 1, 1), (8, 1, 1), [(a.ctypes.data, launch.c_ptr) for a in (x, r, f)])
    assert r[:8].tolist() == [0, 2, 2, 0, -2, 2**31 - 1, 0, 1]  # round half to even, saturate, NaN -> 0
    assert f.tolist()[:6] == [0.5, 1.0, 1.0, 0.0, 0.0, 1.0] and f[6] == 0.0
    assert r[8:14].tolist() == [32, 31, 0, 7, 9, 5]


def test_bad_launches_are_one_line_errors(probe):
    with pytest.raises(MasktrtError, match="no such __global__ function"):
        probe.launch("nope", (1, 1, 1), (1, 1, 1), [])
    with pytest.raises(MasktrtError, match="invalid configuration"):
        probe.launch("rotate_shared", (1, 1, 1), (2048, 1, 1), [(0, launch.c_ptr)])


def test_libraries_are_cached_and_parallel_builds_agree(tmp_path):
    paths: list[Path] = []
    threads = [threading.Thread(target=lambda: paths.append(build_library(source_path("paste_mask"), tmp_path)))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(paths)) == 1 and paths[0].is_file()
    mtime = paths[0].stat().st_mtime_ns
    assert build_library(source_path("paste_mask"), tmp_path) == paths[0]
    assert paths[0].stat().st_mtime_ns == mtime
    assert sorted(p.name for p in tmp_path.iterdir()) == [paths[0].name]  # no temporaries left


def test_host_buffers_round_trip():
    buf = HostBuffer(24)
    buf.upload(np.arange(6, dtype=np.float32))
    np.testing.assert_array_equal(buf.download((2, 3), np.float32), np.arange(6, dtype=np.float32).reshape(2, 3))


# ---------------------------------------------------------------- ThreadSanitizer (slow)
def run_tsan(*args: str) -> subprocess.CompletedProcess:
    libtsan = subprocess.run(["g++", "-print-file-name=libtsan.so"], capture_output=True, text=True).stdout.strip()
    if not os.path.isfile(libtsan):
        pytest.skip("libtsan not installed (apt-get install g++ brings it)")
    env = {**os.environ, "LD_PRELOAD": libtsan,
           "TSAN_OPTIONS": f"suppressions={TSAN_SUPPRESSIONS} exitcode=66 report_signal_unsafe=0"}
    return subprocess.run([sys.executable, str(HERE / "tsan_run.py"), *args], capture_output=True, text=True,
                          env=env, timeout=600)


@pytest.mark.slow
def test_thread_sanitizer_reports_no_race():
    proc = run_tsan()
    assert "WARNING: ThreadSanitizer" not in proc.stderr, proc.stderr[-4000:]
    assert proc.returncode == 0 and "all kernels ran" in proc.stdout, proc.stderr[-2000:]


@pytest.mark.slow
def test_thread_sanitizer_finds_the_missing_syncthreads(tmp_path):
    src = broken_copy(tmp_path, "mbr", "    __syncthreads();\n    int k = count;", "    int k = count;")
    proc = run_tsan(str(src))
    assert "WARNING: ThreadSanitizer: data race" in proc.stderr and "hull_mbr" in proc.stderr


# ---------------------------------------------------------------- loader (issue 21 defects 7 and 8)
def test_gpu_older_than_nvrtc_targets_is_a_one_line_error(monkeypatch):
    monkeypatch.setattr(loader, "ensure_context", lambda device=0: None)
    monkeypatch.setattr(loader, "device_arch", lambda device=0: 70)  # Volta / Xavier
    monkeypatch.setattr(loader, "supported_archs", lambda: [75, 80, 86, 87, 89, 90, 100, 120])
    monkeypatch.setattr(loader, "nvrtc_version", lambda: (13, 0))
    with pytest.raises(MasktrtError) as err:
        loader.KernelModule("mbr")
    message = str(err.value)
    assert "NVRTC 13.0" in message and "compute capability 7.0" in message and "7.5" in message
    assert "\n" not in message


def test_image_target_prefers_an_exact_cubin_then_older_ptx():
    assert loader.image_target(87, [75, 87, 90], (13, 0)) == ("cubin", 87)
    assert loader.image_target(91, [75, 87, 90], (13, 0)) == ("ptx", 90)


def _hammer(path: str, seed: int) -> None:
    payload = bytes([seed]) * (1 << 21)
    for _ in range(20):
        loader.store_atomically(Path(path), payload)


def test_cache_writes_never_expose_a_partial_file(tmp_path):
    """Four processes store different whole images under one name while this one reads it."""
    import multiprocessing as mp

    path = tmp_path / "image.ptx"
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_hammer, args=(str(path), i + 1)) for i in range(4)]
    for p in procs:
        p.start()
    seen = set()
    while any(p.is_alive() for p in procs):
        if path.is_file():
            data = path.read_bytes()
            assert len(data) == 1 << 21 and data.count(data[:1]) == len(data), "partial image"
            seen.add(data[0])
    for p in procs:
        p.join()
        assert p.exitcode == 0
    assert seen and [q.name for q in tmp_path.iterdir()] == ["image.ptx"]
