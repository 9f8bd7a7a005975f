"""What a benchmark ran on: CPU, GPU, driver, CUDA, library versions, Jetson power mode, memory.

A latency figure without the machine behind it cannot be compared or reproduced, so every report
carries this record. Nothing here imports torch, onnxruntime or TensorRT: versions come from the
installed distributions' metadata, GPU facts from nvidia-smi / cuda-python when present.
"""
from __future__ import annotations

import importlib.metadata
import os
import platform
import shutil
import subprocess
from pathlib import Path
from typing import Any

# report key -> distributions that provide it (first one installed wins)
LIBRARIES: dict[str, tuple[str, ...]] = {
    "numpy": ("numpy",),
    "opencv": ("opencv-python-headless", "opencv-python", "opencv-contrib-python"),
    "torch": ("torch",),
    "onnxruntime": ("onnxruntime", "onnxruntime-gpu"),
    "tensorrt_rtx": ("tensorrt_rtx_cu13", "tensorrt-rtx", "tensorrt_rtx"),
    "tensorrt": ("tensorrt", "tensorrt_cu12", "tensorrt_cu13"),
    "cuda_python": ("cuda-python", "cuda-bindings"),
}


def library_versions() -> dict[str, str | None]:
    """Installed versions (None where absent), without importing the libraries."""
    found: dict[str, str | None] = {"python": platform.python_version()}
    for key, dists in LIBRARIES.items():
        found[key] = None
        for dist in dists:
            try:
                found[key] = importlib.metadata.version(dist)
                break
            except importlib.metadata.PackageNotFoundError:
                continue
    return found


def cpu_model() -> str:
    """The 'model name' of /proc/cpuinfo (Linux), else what platform knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def usable_cores() -> int:
    """Cores this process may run on (the affinity mask), which is what timings depend on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def host_memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def load_average() -> list[float] | None:
    """1/5/15-minute load: on a shared machine, the first thing to read beside a timing."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def _command(args: list[str], timeout: float = 10.0) -> str | None:
    if shutil.which(args[0]) is None:
        return None
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def gpu_info() -> dict[str, Any] | None:
    """Name, driver, memory and CUDA versions of GPU 0, or None where there is none."""
    text = _command(["nvidia-smi", "--query-gpu=name,driver_version,memory.total",
                     "--format=csv,noheader,nounits"])
    if not text:
        return None
    name, driver, memory = (part.strip() for part in text.splitlines()[0].split(",")[:3])
    info: dict[str, Any] = {"name": name, "driver": driver, "memory_mib": _number(memory),
                            "count": len(text.splitlines())}
    info.update(cuda_versions())
    return info


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def cuda_versions() -> dict[str, str | None]:
    """CUDA driver API and runtime versions as 'major.minor' (cuda-python), None if unknown."""
    try:
        from cuda.bindings import runtime as cudart
    except ImportError:
        return {"cuda_driver_api": None, "cuda_runtime": None}

    def fmt(result: tuple) -> str | None:
        err, value = result
        return f"{value // 1000}.{value % 1000 // 10}" if int(err) == 0 else None

    return {"cuda_driver_api": fmt(cudart.cudaDriverGetVersion()),
            "cuda_runtime": fmt(cudart.cudaRuntimeGetVersion())}


def jetson_power_mode() -> str | None:
    """`nvpmodel -q` on a Jetson (the power mode changes latency by 2x or more), else None."""
    text = _command(["nvpmodel", "-q"])
    return " ".join(text.split()) if text else None


def machine_info() -> dict[str, Any]:
    return {
        "hostname": platform.node(),
        "os": platform.platform(),
        "cpu": cpu_model(),
        "cpu_cores": os.cpu_count(),
        "usable_cores": usable_cores(),
        "host_memory_gib": host_memory_gib(),
        "load_average": load_average(),
        "gpu": gpu_info(),
        "jetson_power_mode": jetson_power_mode(),
        "libraries": library_versions(),
    }


def machine_label(info: dict[str, Any]) -> str:
    """One line naming the machine, for table captions."""
    gpu = info.get("gpu")
    device = f", GPU {gpu['name']} (driver {gpu['driver']})" if gpu else ", no GPU"
    return f"{info['cpu']} ({info['usable_cores']} usable of {info['cpu_cores']} cores){device}"


# ---------------------------------------------------------------- memory
def _status_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def rss_mib() -> float | None:
    """Current resident set size of this process (Linux /proc/self/status VmRSS)."""
    kib = _status_kib("VmRSS")
    return None if kib is None else kib / 1024


def peak_rss_mib() -> float | None:
    """Peak resident set size since start or since the last `reset_peak_rss()` (VmHWM)."""
    kib = _status_kib("VmHWM")
    return None if kib is None else kib / 1024


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0, `echo 5 > /proc/self/clear_refs`).

    This is what lets backends run one after another in one process and still get their own
    peak. Returns False where it is not possible (the peak then spans the whole process)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False
