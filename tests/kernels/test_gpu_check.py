"""`make gpu-check` without a GPU says so cleanly; its carried wheels survive the split and join."""
from __future__ import annotations

import hashlib
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from masktrt.kernels import gpu_available

REPO = Path(__file__).resolve().parents[2]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(gpu_available(), reason="checks the no-GPU path")
def test_without_a_gpu_the_report_says_no_gpu_and_exits_0(tmp_path):
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "gpu_check.py"), "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "gpu-check.json").read_text())
    assert report["gpu"] is False and report["verdict"].startswith("no GPU")
    assert all(s["status"] == "skipped" and "no GPU" in s["reason"] for s in report["steps"])
    assert report["bench"] == [] and report["kernels"] == []
    assert "no GPU" in (tmp_path / "gpu-check.md").read_text()
    assert proc.stdout.strip().splitlines()[0].startswith("gpu-check: no GPU")


def test_wheels_split_into_parts_are_joined_and_checked(tmp_path):
    wheels, check = _load("gpu_wheels"), _load("gpu_check")
    gpu = tmp_path / ".gpu"
    (gpu / "whl").mkdir(parents=True)
    payload = bytes(range(256)) * 5000
    (gpu / "whl" / "a-1.0-py3-none-any.whl").write_bytes(payload)
    (gpu / "whl" / "b-1.0-py3-none-any.whl").write_bytes(b"b" * 10)
    assert wheels.main(str(gpu), 1) == 0  # 1 MiB parts: wheel a needs two
    manifest = json.loads((gpu / "manifest.json").read_text())
    a = next(w for w in manifest["wheels"] if w["name"].startswith("a"))
    assert len(a["parts"]) == 2 and a["sha256"] == hashlib.sha256(payload).hexdigest()
    elsewhere = tmp_path / "earlier-call"  # a part an earlier device call copied to /tmp/gpu
    elsewhere.mkdir()
    (gpu / a["parts"][1]).rename(elsewhere / a["parts"][1])
    got, problems = check.assemble_wheels(gpu, tmp_path / "joined", [gpu, elsewhere])
    assert problems == [] and sorted(p.name for p in got) == ["a-1.0-py3-none-any.whl", "b-1.0-py3-none-any.whl"]
    assert (tmp_path / "joined" / "a-1.0-py3-none-any.whl").read_bytes() == payload
    (elsewhere / a["parts"][1]).unlink()
    got, problems = check.assemble_wheels(gpu, tmp_path / "joined", [gpu])
    assert [p.name for p in got] == ["b-1.0-py3-none-any.whl"] and "parts not carried" in problems[0]
