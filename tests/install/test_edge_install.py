"""The edge install, proved: a fresh venv with only the runtime extras tracks and builds.

docs/edge-install.md promises that `pip install 'masktrt[onnxruntime]'`
(+ `tensorrt-rtx`) runs graphs exported elsewhere. This test makes that true on every CI run:

1. In this (dev) environment: export the small width-0.125 model (tests/export/export_helpers.py)
   into a tmp folder, and track davis-blackswan with it on ONNX Runtime (CPU), in this process.
2. Build a wheel of this checkout (`pip wheel --no-deps`, from a copy of the files git would
   commit, so stale `build/` contents never leak in) and install it with the runtime extras
   `[onnxruntime,tensorrt-rtx]` into a plain `python -m venv` (no `--system-site-packages`, which
   would expose this environment's torch). Versions of the runtime packages are pinned (a
   constraints file) to this environment's, so the two runs compare like with like.
3. In the venv: `pip show torch` / `pip show onnx` fail and `import torch` / `import onnx` raise;
   `masktrt track --backend onnxruntime` on the same graphs writes per-frame boxes, polygons,
   scores and masks identical (byte for byte) to step 1's; `masktrt build --backend tensorrt-rtx`
   writes the three engines and their metadata.

Measured here (2 CPU cores, registry reachable; pip keeps no cache on this machine, so every
install downloads, as on a fresh CI machine): wheel 2.4-3.4 s, venv creation + install of the wheel
with its runtime extras (a 574 MB venv: onnxruntime, tensorrt-rtx-cu13 and its libs,
opencv-python-headless, numpy) 7.7-11.1 s, export 1.2-1.4 s (also with an empty $MASKTRT_CACHE),
edge track 0.8 s, engine builds 0.6 s; the whole test 16-21 s. At that cost the venv is rebuilt on
every run rather than cached (keyed by the wheel's hash): a fresh one is always correct.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import pytest

from masktrt.paths import REPO_ROOT
from tests.conftest import real_sequence

pytestmark = [pytest.mark.slow, pytest.mark.data]

EXTRAS = "onnxruntime,tensorrt-rtx"
# Packages the runtime extras install, pinned to this environment's versions where present.
PINNED = ["numpy", "opencv-python-headless", "tqdm", "onnxruntime", "tensorrt-rtx-cu13",
          "tensorrt-rtx-cu13-bindings", "tensorrt-rtx-cu13-libs"]
PER_FRAME = ["boxes.txt", "polygons.txt", "scores.txt"]
GRAPHS = ["template", "search", "refine"]


def run(cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None,
        check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=1200, check=False)
    if check and proc.returncode != 0:
        pytest.fail(f"{' '.join(map(str, cmd))} exited {proc.returncode}\n"
                    f"--- stdout\n{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-4000:]}")
    return proc


def source_copy(dest: Path) -> Path:
    """The files git would commit (tracked + untracked, not ignored), else the tree minus junk."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=REPO_ROOT, capture_output=True, check=False)
    if listed.returncode == 0 and listed.stdout:
        for name in listed.stdout.decode().split("\0"):
            src = REPO_ROOT / name
            if name and src.is_file():
                (dest / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest / name)
    else:
        shutil.copytree(REPO_ROOT, dest, dirs_exist_ok=True, ignore=shutil.ignore_patterns(
            ".git", "build", "dist", "out", ".gpu", "*.egg-info", "__pycache__", ".*cache*"))
    return dest


def constraints(path: Path) -> Path:
    lines = []
    for name in PINNED:
        try:
            lines.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pass
    path.write_text("\n".join(lines) + "\n")
    return path


def clean_env(venv: Path, cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(venv)
    env["MASKTRT_CACHE"] = str(cache)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def first_box(sequence: Path) -> str:
    return (sequence / "groundtruth.txt").read_text().splitlines()[0].strip()


def test_runtime_only_venv_tracks_and_builds(tmp_path):
    pytest.importorskip("torch", reason="the export side (torch) exports the graphs first")
    pytest.importorskip("onnxruntime", reason="the reference run needs onnxruntime here")
    sequence = real_sequence("davis-blackswan")
    from masktrt.cli import main
    from tests.helpers.export_helpers import export_small, small_model

    timings: dict[str, float] = {}
    tick = time.perf_counter()

    # 1. Export and the reference run, in this process (torch and onnx present here).
    onnx_dir = tmp_path / "onnx"
    export_small(small_model(), onnx_dir)
    timings["export"] = time.perf_counter() - tick
    box = first_box(sequence)
    track_args = ["track", "--backend", "onnxruntime", "--onnx", str(onnx_dir), "--provider", "cpu",
                  "--frames", str(sequence / "frames"), "--box", box]
    assert main(track_args + ["--out", str(tmp_path / "ref"), "--no-video"]) == 0

    # 2. A plain venv with the wheel and its runtime extras only.
    tick = time.perf_counter()
    wheels = tmp_path / "wheels"
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
         source_copy(tmp_path / "src"), "-w", wheels])
    (wheel,) = wheels.glob("masktrt-*.whl")
    timings["wheel"] = time.perf_counter() - tick
    venv = tmp_path / "venv"
    tick = time.perf_counter()
    run([sys.executable, "-m", "venv", venv])
    py = venv / "bin" / "python"
    env = clean_env(venv, tmp_path / "cache")
    work = tmp_path / "work"  # an empty cwd: tmp_path holds a folder named onnx (a namespace pkg)
    work.mkdir()
    run([py, "-m", "pip", "install", "-q", "-c", constraints(tmp_path / "constraints.txt"),
         f"{wheel}[{EXTRAS}]"], env=env, cwd=work)
    timings["venv+install"] = time.perf_counter() - tick
    sha = hashlib.sha256(wheel.read_bytes()).hexdigest()[:12]

    # 3a. No torch, no onnx: neither installed nor importable; masktrt is the venv's own copy.
    for name in ("torch", "onnx"):
        assert run([py, "-m", "pip", "show", name], env=env, cwd=work,
                   check=False).returncode != 0, f"{name} is installed in the edge venv"
        probe = run([py, "-I", "-c", f"import {name}"], env=env, cwd=work, check=False)
        assert probe.returncode != 0 and "ModuleNotFoundError" in probe.stderr, probe.stderr
    where = run([py, "-c", "import masktrt, sys; print(masktrt.__file__); print(sys.prefix)"],
                env=env, cwd=work).stdout.split()
    assert Path(where[0]).is_relative_to(venv) and Path(where[1]) == venv, where
    installed = run([py, "-m", "pip", "list", "--format=freeze"], env=env, cwd=work).stdout

    # 3b. Track the real sequence from the graphs exported above.
    masktrt_bin = venv / "bin" / "masktrt"
    tick = time.perf_counter()
    run([masktrt_bin, *track_args, "--out", tmp_path / "edge"], env=env, cwd=work)
    timings["track"] = time.perf_counter() - tick
    ref, edge = tmp_path / "ref", tmp_path / "edge"
    frames = len([p for p in (sequence / "frames").iterdir() if p.is_file()])
    for name in PER_FRAME:
        assert (edge / name).is_file(), f"edge run wrote no {name}"
        assert len((edge / name).read_text().splitlines()) == frames, name
        assert (edge / name).read_bytes() == (ref / name).read_bytes(), \
            f"{name} differs between the edge venv and this environment"
    masks = sorted(p.name for p in (ref / "masks").iterdir())
    assert len(masks) == frames and sorted(p.name for p in (edge / "masks").iterdir()) == masks
    for name in masks:
        assert (edge / "masks" / name).read_bytes() == (ref / "masks" / name).read_bytes(), name
    assert (edge / "track.mp4").is_file() and (edge / "track.mp4").stat().st_size > 0

    # 3c. Engines from the same graphs with TensorRT-RTX (builds without a GPU).
    engines = tmp_path / "engines"
    tick = time.perf_counter()
    run([masktrt_bin, "build", "--onnx", onnx_dir, "--backend", "tensorrt-rtx", "--out", engines],
        env=env, cwd=work)
    timings["build"] = time.perf_counter() - tick
    deploy = json.loads((onnx_dir / "deploy.json").read_text())
    rtx_version = next(line.split("==")[1] for line in installed.splitlines()
                       if line.lower().replace("_", "-").startswith("tensorrt-rtx-cu13=="))
    for graph in GRAPHS:
        engine, meta = engines / f"{graph}.engine", engines / f"{graph}.json"
        assert engine.is_file(), f"no {engine.name}"
        record = json.loads(meta.read_text())
        assert engine.stat().st_size == record["engine_bytes"] > 10_000
        assert record["tensorrt"] == {"module": "tensorrt_rtx", "version": rtx_version}
        assert record["precision"] == "fp32" and record["xcorr"] == "dynamic"
        assert record["onnx"]["sha256"] == hashlib.sha256(
            (onnx_dir / f"{graph}.onnx").read_bytes()).hexdigest()
        assert record["inputs"] == deploy["graphs"][graph]["inputs"]
        assert record["outputs"] == deploy["graphs"][graph]["outputs"]
        assert record["tracker"] == "siammask" and record["graphs"] == GRAPHS

    print(f"edge venv (wheel {sha}): " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
    print(installed)
