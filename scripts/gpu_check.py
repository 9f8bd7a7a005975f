#!/usr/bin/env python3
"""`make gpu-check`: masktrt's whole GPU verification as ONE prepared command (../shared/GPU.md).

A GPU is lent here for minutes at a time, so everything it should verify runs from this script in
under 8 minutes on an H100/H200: (1) install TensorRT-RTX and onnxruntime-gpu from wheels carried
in .gpu/ (`make gpu-wheels` splits them into parts small enough to carry), (2) the GPU-marked
tests, (3) the CUDA kernels against their OpenCV references, (4) `masktrt bench` with every GPU
backend and precision side by side (PyTorch eager FP32 baseline, FP16, torch.compile, ONNX Runtime
CUDA FP32/FP16), (5) TensorRT-RTX engines FP32/FP16 timed and given the accuracy verdict
(`parity --level accuracy`: ONNX Runtime CUDA and TensorRT against the ground truth) where they
run, (6) RTS's two filtering forms (MatMul, Conv) side by side on ONNX Runtime CUDA, if time is left.
Every step runs in a subprocess with a time limit; a step that cannot run says why, with the
exact error text. Writes gpu-check.json and gpu-check.md into --out ($OUT, else out/gpu-check)
and prints a short table last. Without a GPU it says "no GPU" and exits 0. The figures in the
report come only from this script's own runs.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEADLINE_S = 450.0  # 7.5 minutes of steps; the report is written whatever happens
BUDGET_S = {"install": 90, "pytest-gpu": 150, "kernels-bench": 45, "export": 60, "bench": 120,
            "tensorrt-build": 60, "tensorrt-bench": 60, "tensorrt-parity": 60,
            "batched-export": 45, "batched-build": 90, "batched-compare": 60,
            "rts-export-conv": 90, "rts-bench": 150}
NO_GPU = "no GPU: no CUDA driver or device found (nvidia-smi / cuDeviceGetCount)"
PACKAGES = ("torch", "cuda-python", "cuda-bindings", "cuda-core", "cupy-cuda12x", "cupy-cuda13x",
            "onnx", "onnxruntime", "onnxruntime-gpu", "opencv-python-headless", "numpy", "pytest",
            "tensorrt-rtx-cu13-bindings", "tensorrt-rtx-cu13-libs")


class Clock:
    """The global deadline: each step gets min(its budget, what is left)."""

    def __init__(self, total: float) -> None:
        self.start, self.total = time.monotonic(), total

    def left(self) -> float:
        return self.total - (time.monotonic() - self.start)


def tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def first_error(text: str) -> str:
    """The most telling line of a failure: the last 'Error'/'error:' line, else the last line."""
    lines = [l.strip() for l in text.strip().splitlines() if l.strip()]
    hits = [l for l in lines if "Error" in l or "error:" in l or "refus" in l or "not supported" in l]
    return (hits or lines or [""])[-1][:400]


def run(name: str, cmd: list[str], clock: Clock, env: dict[str, str], log_dir: Path) -> dict[str, Any]:
    """One step in a subprocess under min(budget, deadline); output kept in log_dir/<name>.log."""
    limit = min(BUDGET_S.get(name, 60), clock.left())
    if limit < 5:
        return {"name": name, "status": "skipped", "reason": "no time left before the 8-minute deadline"}
    t0 = time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=limit)
        out, rc = proc.stdout + proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as exc:
        out, rc = f"{exc.stdout or ''}{exc.stderr or ''}\nTIMEOUT after {limit:.0f} s", None
        out = out if isinstance(out, str) else out.decode(errors="replace")
    (log_dir / f"{name}.log").write_text(f"$ {' '.join(cmd)}\n{out}")
    step = {"name": name, "command": " ".join(cmd), "rc": rc, "seconds": round(time.monotonic() - t0, 1),
            "status": "ok" if rc == 0 else "failed", "output_tail": tail(out)}
    if rc != 0:
        step["reason"] = "timed out" if rc is None else first_error(out)
    return step


# ---------------------------------------------------------------- environment
def versions() -> dict[str, str | None]:
    from importlib import metadata

    found = {}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def command_output(cmd: list[str]) -> str | None:
    if shutil.which(cmd[0]) is None:
        return None
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    return (proc.stdout or proc.stderr).strip() or None


def environment() -> dict[str, Any]:
    smi = command_output(["nvidia-smi", "--query-gpu=name,driver_version,memory.total,compute_cap",
                          "--format=csv,noheader"])
    nvcc = command_output(["nvcc", "--version"])
    return {"python": sys.version.split()[0], "platform": platform.platform(), "cpus": os.cpu_count(),
            "nvidia_smi": smi, "nvcc": nvcc.splitlines()[-1] if nvcc else None, "packages": versions()}


def gpu_present() -> bool:
    sys.path.insert(0, str(REPO))
    try:
        from masktrt.kernels import gpu_available
    except Exception:
        return False
    return gpu_available()


# ---------------------------------------------------------------- carried wheels
def carried_parts(name: str, search: list[Path]) -> Path | None:
    for folder in search:
        if (folder / name).is_file():
            return folder / name
    return None


def assemble_wheels(gpu_dir: Path, work: Path, search: list[Path]) -> tuple[list[Path], list[str]]:
    """Rebuild each wheel listed in gpu_dir/manifest.json from its parts (checked by sha256),
    found in .gpu/ or in folders earlier calls copied them to. (wheels, problems)."""
    manifest_path = gpu_dir / "manifest.json"
    if not manifest_path.is_file():
        return [], [f"no {manifest_path.relative_to(REPO) if manifest_path.is_relative_to(REPO) else manifest_path}"
                    " (run 'make gpu-wheels' here and carry .gpu/manifest.json)"]
    wheels, problems = [], []
    work.mkdir(parents=True, exist_ok=True)
    for wheel in json.loads(manifest_path.read_text())["wheels"]:
        parts = [carried_parts(p, search) for p in wheel["parts"]]
        missing = [p for p, found in zip(wheel["parts"], parts) if found is None]
        if missing:
            problems.append(f"{wheel['name']}: parts not carried: {', '.join(missing)}")
            continue
        out = work / wheel["name"]
        with out.open("wb") as f:
            for part in parts:
                f.write(part.read_bytes())
        if hashlib.sha256(out.read_bytes()).hexdigest() != wheel["sha256"]:
            problems.append(f"{wheel['name']}: sha256 mismatch after joining its parts")
            continue
        wheels.append(out)
    return wheels, problems


def install_wheels(clock: Clock, env: dict[str, str], out: Path) -> dict[str, Any]:
    """pip install --no-index --no-deps --target /tmp/site: the carried wheels, nothing from a network."""
    search = [REPO / ".gpu", Path("/tmp/gpu")]
    wheels, problems = assemble_wheels(REPO / ".gpu", Path("/tmp/gpu/whl"), search)
    step: dict[str, Any] = {"name": "install", "status": "skipped", "wheels": [w.name for w in wheels],
                            "problems": problems}
    if not wheels:
        step["reason"] = "; ".join(problems) or "no wheels"
        return step
    site = Path("/tmp/site")
    cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--upgrade",
           "--target", str(site), *map(str, wheels)]
    step.update(run("install", cmd, clock, env, out))
    step["problems"] = problems
    if step["status"] == "ok":
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    return step


# ---------------------------------------------------------------- the GPU steps
def pytest_counts(xml_path: Path) -> dict[str, int] | None:
    if not xml_path.is_file():
        return None
    root = ET.parse(xml_path).getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    keys = ("tests", "failures", "errors", "skipped")
    counts = {k: int(suite.get(k, 0)) for k in keys}
    counts["passed"] = counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"]
    return counts


def probe_providers(env: dict[str, str]) -> dict[str, Any]:
    """What ONNX Runtime and TensorRT-RTX say about this machine (exact text on failure)."""
    code = ("import json, sys\nr = {}\n"
            "try:\n import onnxruntime as ort\n r['onnxruntime'] = [ort.__version__, ort.get_available_providers()]\n"
            "except Exception as e:\n r['onnxruntime'] = repr(e)\n"
            "try:\n import tensorrt_rtx as trt\n b = trt.Builder(trt.Logger(trt.Logger.ERROR))\n"
            " r['tensorrt_rtx'] = [trt.__version__, 'builder ok' if b else 'no builder']\n"
            "except Exception as e:\n r['tensorrt_rtx'] = repr(e)\nprint(json.dumps(r))\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"error": tail(proc.stderr, 5)}


def gpu_steps(clock: Clock, env: dict[str, str], out: Path, quick: bool) -> list[dict[str, Any]]:
    py, masktrt, work = sys.executable, [sys.executable, "-m", "masktrt.cli"], out / "work"
    logs = out / "logs"
    frames = ["--timed-frames", "10", "--warmup", "2"] if quick else ["--timed-frames", "30", "--warmup", "3"]
    steps = [run("pytest-gpu", [py, "-m", "pytest", "-m", "gpu", "-q", "-rfEs", "-p", "no:cacheprovider",
                                f"--junitxml={out / 'pytest-gpu.xml'}"], clock, env, logs)]
    steps[-1]["counts"] = pytest_counts(out / "pytest-gpu.xml")
    steps.append(run("kernels-bench", [py, "-m", "masktrt.benchmarks.kernels_bench", "--repeats", "30",
                                       "--json", str(out / "kernels-bench.json")], clock, env, logs))
    fp32, fp16 = work / "onnx-fp32", work / "onnx-fp16"
    steps.append(run("export", [*masktrt, "export", "--out", str(fp32)], clock, env, logs))
    steps.append(run("export", [*masktrt, "export", "--precision", "fp16", "--out", str(fp16)], clock, env, logs))
    steps[-1]["name"] = "export-fp16"
    steps.append(run("bench", [*masktrt, "bench", "--backends", "torch,onnxruntime", "--provider", "cuda",
                               "--onnx", str(fp32), "--extra-onnx", str(fp16), *frames, "--targets", "1,4",
                               "--no-progress", "--out", str(out / "bench")], clock, env, logs))
    for precision, graphs in (("fp32", fp32), ("fp16", fp16)):
        steps += tensorrt_steps(precision, graphs, clock, env, out, frames)
    steps += batched_steps(clock, env, out)
    steps += rts_steps(clock, env, out, frames)
    steps.append({"name": "tensorrt-int8", "status": "skipped",
                  "reason": "INT8 engines need QDQ graphs from 'masktrt calibrate' (minutes of calibration): "
                            "not attempted within the 8-minute budget; run it where TensorRT-RTX FP32 runs"})
    return steps


def tensorrt_steps(precision: str, graphs: Path, clock: Clock, env: dict[str, str], out: Path,
                   frames: list[str]) -> list[dict[str, Any]]:
    """Build TensorRT-RTX engines, then time them and give them the accuracy verdict; stop at the first refusal."""
    masktrt, engines, logs = [sys.executable, "-m", "masktrt.cli"], out / "work" / f"engines-{precision}", out / "logs"
    build = run("tensorrt-build", [*masktrt, "build", "--onnx", str(graphs), "--backend", "tensorrt-rtx",
                                   "--precision", precision, "--out", str(engines)], clock, env, logs)
    steps = [build]
    if build["status"] == "ok":
        steps.append(run("tensorrt-bench", [*masktrt, "bench", "--backends", "tensorrt", "--engines", str(engines),
                                            "--onnx", str(graphs), *frames, "--targets", "1", "--no-progress",
                                            "--out", str(out / f"bench-tensorrt-{precision}")], clock, env, logs))
    if steps[-1]["status"] == "ok":
        # the precision verdict on the GPU (issue 26): ONNX Runtime CUDA and TensorRT, teacher-forced
        # against the ground truth; the CPU's FP16 figures cover FP16 storage only
        steps.append(run("tensorrt-parity", [*masktrt, "parity", "--level", "accuracy", "--onnx", str(graphs),
                                             "--engines", str(engines), "--max-frames", "40", "--report",
                                             str(out / f"parity-tensorrt-{precision}.json")], clock, env, logs))
    if precision == "fp16" and steps[-1]["status"] == "ok":
        # the one table (issue 26): torch, ONNX Runtime CUDA FP32/FP16 and these TensorRT FP16
        # engines side by side, true FP16 arithmetic, ms/frame from the same run
        steps.append(run("precision-table", [*masktrt, "precision", "--provider", "cuda", "--engines",
                                             str(engines), "--max-frames", "40", "--noise-runs", "1",
                                             "--out", str(out / "precision-gpu")], clock, env, logs))
    for s in steps:
        s["name"] = f"{s['name']}-{precision}"
    return steps


RTS_DEMO = "trackers/rts/demo.safetensors"  # what `masktrt export --tracker rts` uses by default


def rts_steps(clock: Clock, env: dict[str, str], out: Path, frames: list[str]) -> list[dict[str, Any]]:
    """RTS (demo weights) on ONNX Runtime CUDA, its filters applied by MatMul (the default export)
    and by Conv side by side in one bench: which form the GPU prefers is unmeasured
    (docs/trackers.md, RTS). Last, so it only takes time the SiamMask steps left."""
    masktrt, logs = [sys.executable, "-m", "masktrt.cli"], out / "logs"
    conv = out / "work" / "rts-onnx-conv"
    steps = [run("rts-export-conv", [*masktrt, "export", "--tracker", "rts", "--option", "filtering=conv",
                                     "--out", str(conv)], clock, env, logs)]
    if steps[-1]["status"] == "ok":
        steps.append(run("rts-bench", [*masktrt, "bench", "--tracker", "rts", "--checkpoint", RTS_DEMO,
                                       "--backends", "torch,onnxruntime",
                                       "--provider", "cuda", "--extra-onnx", str(conv), *frames, "--targets", "1",
                                       "--no-progress", "--out", str(out / "bench-rts")], clock, env, logs))
    return steps


# ---------------------------------------------------------------- batched engines (issue 18)
BATCHED_COUNTS = (1, 4)


def probe(env: dict[str, str], code: str) -> str | None:
    """The stdout of a small Python probe in a subprocess, None when it fails."""
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=60)
    return proc.stdout.strip() if proc.returncode == 0 else None


def batched_backend(env: dict[str, str]) -> tuple[str | None, str]:
    """The TensorRT flavour that runs here (full TensorRT; TensorRT-RTX only on a compute
    capability its RTX_SUPPORT_MATRIX lists, so not on Hopper), or None and why not."""
    if probe(env, "import tensorrt") is not None:
        return "tensorrt", "full TensorRT"
    cc = command_output(["nvidia-smi", "--query-gpu=compute_cap", "--format=csv,noheader"])
    listed = probe(env, "from masktrt.runtime.trt_module import flavour_of, import_trt; "
                        "print(' '.join(flavour_of(import_trt('tensorrt-rtx')).supported_compute_capabilities or ()))")
    cc = (cc or "").splitlines()[0].strip() if cc else None
    if listed and cc and cc in listed.split():
        return "tensorrt-rtx", f"TensorRT-RTX on compute capability {cc}"
    return None, (f"no full TensorRT module, and TensorRT-RTX {'is not installed' if listed is None else 'does not list'}"
                  f" compute capability {cc} (RTX_SUPPORT_MATRIX: {listed})")


def batched_steps(clock: Clock, env: dict[str, str], out: Path) -> list[dict[str, Any]]:
    """A batched SiamMask (width 0.125, random weights) built with profiles 1..16, then track_many on
    TensorRT against ONNX Runtime CPU for N = 1, 4; skipped with the reason where no TensorRT runs."""
    backend, why = batched_backend(env)
    if backend is None:
        return [{"name": "batched-tensorrt", "status": "skipped", "reason": why}]
    masktrt, work, logs = [sys.executable, "-m", "masktrt.cli"], out / "work", out / "logs"
    graphs, engines = work / "onnx-batched", work / "engines-batched"
    steps = [run("batched-export", [*masktrt, "export", "--random-weights", "--width", "0.125", "--xcorr",
                                    "unrolled", "--batch", "dynamic", "--out", str(graphs)], clock, env, logs)]
    if steps[-1]["status"] == "ok":
        steps.append(run("batched-build", [*masktrt, "build", "--onnx", str(graphs), "--backend", backend,
                                           "--out", str(engines)], clock, env, logs))
    if steps[-1]["status"] == "ok":
        steps.append(run("batched-compare", [sys.executable, str(Path(__file__).resolve()), "--compare-batched",
                                             str(graphs), str(engines), "--out", str(out)], clock, env, logs))
    steps[-1]["backend"] = why
    return steps


def compare_batched(graphs: Path, engines: Path, out: Path, frames: int = 5) -> int:
    """track_many on TensorRT vs ONNX Runtime CPU (host pixel ops on both), per N: the largest box
    difference in pixels over `frames` frames; writes batched-tensorrt.json, exits 1 over 1 px."""
    import numpy as np
    from masktrt.runtime.backends import open_runner
    from masktrt.runtime.gpu_ops import HostOps
    from masktrt.runtime.session import bind

    rng = np.random.default_rng(0)
    video = [rng.integers(0, 255, (480, 640, 3), dtype=np.uint8) for _ in range(frames + 1)]
    rows = []
    with bind(open_runner("onnxruntime", onnx_dir=graphs, provider="cpu"), ops=HostOps()) as ort, \
            bind(open_runner("tensorrt", engine_dir=engines), ops=HostOps()) as trt:
        for n in BATCHED_COUNTS:
            boxes = [(60 + 90 * k, 80 + 40 * k, 60, 50) for k in range(n)]
            got = [track_many_boxes(t.core, video, boxes) for t in (ort, trt)]
            rows.append({"targets": n, "max_box_diff_px": float(np.max(np.abs(got[0] - got[1])))})
    (out / "batched-tensorrt.json").write_text(json.dumps(rows, indent=2))
    print(json.dumps(rows))
    return 0 if all(r["max_box_diff_px"] <= 1.0 for r in rows) else 1


def track_many_boxes(tracker: Any, video: list[Any], boxes: list[tuple[int, int, int, int]]) -> Any:
    """Every target's (cx, cy, w, h) per frame, all targets in one track_many call per frame."""
    import numpy as np

    states = [tracker.init(video[0], box) for box in boxes]
    found = []
    for frame in video[1:]:
        states, results = tracker.track_many(frame, states)
        found.append([np.concatenate([r.center, r.size]) for r in results])
    return np.asarray(found, np.float64)


# ---------------------------------------------------------------- report
def bench_rows(out: Path) -> list[dict[str, Any]]:
    rows = []
    for path in sorted(out.glob("bench*/bench.json")):
        for b in json.loads(path.read_text()).get("backends", []):
            total = (b.get("stages") or {}).get("total") or {}
            rows.append({"backend": b.get("label", b.get("name")), "status": b.get("status"),
                         "p50_ms": total.get("p50_ms"), "fps": b.get("fps"),
                         "speedup": b.get("speedup_vs_baseline"), "reason": b.get("reason"), "from": path.parent.name})
    return rows


def kernel_rows(out: Path) -> list[dict[str, Any]]:
    path = out / "kernels-bench.json"
    if not path.is_file():
        return []
    rows = []
    for size, stages in json.loads(path.read_text())["results"].items():
        for stage, r in stages.items():
            rows.append({"size": size, "stage": stage, "cpu_p50_ms": r["cpu"]["p50_ms"],
                         "gpu_p50_ms": (r["gpu"] or {}).get("p50_ms")})
    return rows


def fmt(v: Any, spec: str = ".2f") -> str:
    return "-" if v is None else format(v, spec) if isinstance(v, (int, float)) else str(v)


def markdown(report: dict[str, Any]) -> str:
    env = report["environment"]
    lines = ["# masktrt gpu-check", "", f"- verdict: **{report['verdict']}**",
             f"- GPU: {env.get('nvidia_smi') or 'none'}", f"- created: {report['created']}, "
             f"{report['seconds']:.0f} s", "", "## Steps", "", "| step | status | s | note |", "|---|---|---|---|"]
    for s in report["steps"]:
        note = s.get("reason") or (json.dumps(s["counts"]) if s.get("counts") else "")
        lines.append(f"| {s['name']} | {s['status']} | {fmt(s.get('seconds'), '.0f')} | {note} |")
    if report["bench"]:
        lines += ["", "## Tracker (masktrt bench, p50 total per frame)", "",
                  "| backend | status | p50 ms | fps | speed-up vs torch FP32 | note |", "|---|---|---|---|---|---|"]
        for r in report["bench"]:
            lines.append(f"| {r['backend']} | {r['status']} | {fmt(r['p50_ms'])} | {fmt(r['fps'], '.1f')} | "
                         f"{fmt(r['speedup'])} | {r['reason'] or ''} |")
    if report["kernels"]:
        lines += ["", "## CUDA kernels vs CPU reference (p50 ms)", "", "| size | stage | CPU | GPU |", "|---|---|---|---|"]
        lines += [f"| {r['size']} | {r['stage']} | {fmt(r['cpu_p50_ms'], '.3f')} | {fmt(r['gpu_p50_ms'], '.3f')} |"
                  for r in report["kernels"]]
    lines += ["", "## Environment", "", "```", json.dumps(env, indent=1), "```", ""]
    return "\n".join(lines)


def short_table(report: dict[str, Any]) -> str:
    lines = [f"gpu-check: {report['verdict']} ({report['seconds']:.0f} s) -> {report['out']}"]
    for s in report["steps"]:
        extra = s.get("reason") or (s.get("counts") and json.dumps(s["counts"])) or ""
        lines.append(f"  {s['name']:<22} {s['status']:<8} {str(extra)[:110]}")
    for r in report["bench"]:
        lines.append(f"  bench {r['backend'][:34]:<34} p50 {fmt(r['p50_ms']):>8} ms  x{fmt(r['speedup'])}")
    return "\n".join(lines)


def verdict(gpu: bool, steps: list[dict[str, Any]]) -> str:
    if not gpu:
        return NO_GPU
    failed = [s["name"] for s in steps if s["status"] == "failed"]
    return "all steps ran" if not failed else f"ran; failed or refused: {', '.join(failed)}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.environ.get("OUT") or str(REPO / "out" / "gpu-check"))
    parser.add_argument("--quick", action="store_true", help="fewer timed frames (a smoke run)")
    parser.add_argument("--compare-batched", nargs=2, type=Path, metavar=("ONNX", "ENGINES"),
                        help="(a step of this script) track_many on TensorRT vs ONNX Runtime CPU")
    args = parser.parse_args(argv)
    out = Path(args.out).resolve()
    if args.compare_batched:
        return compare_batched(*args.compare_batched, out)
    (out / "logs").mkdir(parents=True, exist_ok=True)
    clock, env = Clock(DEADLINE_S), {**os.environ, "PYTHONUNBUFFERED": "1"}
    gpu = gpu_present()
    steps: list[dict[str, Any]] = []
    if gpu:
        steps.append(install_wheels(clock, env, out / "logs"))
        steps.append({"name": "providers", "status": "ok", "found": probe_providers(env)})
        steps += gpu_steps(clock, env, out, args.quick)
    else:
        steps.append({"name": "all GPU steps", "status": "skipped", "reason": NO_GPU})
    report = {"schema": "masktrt.gpu-check v1", "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
              "gpu": gpu, "verdict": verdict(gpu, steps), "seconds": round(time.monotonic() - clock.start, 1),
              "out": str(out), "environment": environment(), "steps": steps,
              "bench": bench_rows(out) if gpu else [], "kernels": kernel_rows(out) if gpu else []}
    (out / "gpu-check.json").write_text(json.dumps(report, indent=2))
    (out / "gpu-check.md").write_text(markdown(report))
    print(short_table(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
