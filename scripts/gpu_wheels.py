#!/usr/bin/env python3
"""Split the wheels `make gpu-wheels` downloaded (.gpu/whl) into parts that fit one device call.

The device tool carries at most 64 MiB a call, working tree included, so each wheel is cut into
PART_MB pieces named <wheel>.part-NN in .gpu/, listed with the wheel's sha256 in .gpu/manifest.json
(gpu_check.py joins and checks them). Prints the calls to make, in order, most useful first.
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

PART_MB = 54  # + the working tree (~5 MiB) + the manifest stays under the 64 MiB a call carries
CALL_MB = 56
PRIORITY = ("tensorrt_rtx", "onnxruntime_gpu")  # TensorRT-RTX first: its refusal is the finding


def split_wheel(wheel: Path, dest: Path, part_bytes: int) -> dict:
    data = wheel.read_bytes()
    parts = []
    for i in range(0, max(len(data), 1), part_bytes):
        name = f"{wheel.name}.part-{i // part_bytes:02d}"
        (dest / name).write_bytes(data[i:i + part_bytes])
        parts.append(name)
    return {"name": wheel.name, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data), "parts": parts}


def pack_calls(root: Path, parts: list[str], capacity: int) -> list[list[str]]:
    """Consecutive parts grouped into calls of at most `capacity` bytes (order kept)."""
    calls: list[list[str]] = [[]]
    for part in parts:
        size = (root / part).stat().st_size
        if calls[-1] and sum((root / p).stat().st_size for p in calls[-1]) + size > capacity:
            calls.append([])
        calls[-1].append(part)
    return calls


def order(wheel: Path) -> tuple[int, str]:
    return next((i for i, p in enumerate(PRIORITY) if wheel.name.startswith(p)), len(PRIORITY)), wheel.name


def main(gpu_dir: str = ".gpu", part_mb: int = PART_MB) -> int:
    root = Path(gpu_dir)
    for old in root.glob("*.part-*"):
        old.unlink()
    wheels = sorted((root / "whl").glob("*.whl"), key=order)
    manifest = {"part_mb": part_mb, "wheels": [split_wheel(w, root, part_mb << 20) for w in wheels]}
    (root / "manifest.json").write_text(json.dumps(manifest, indent=2))
    calls = pack_calls(root, [p for w in manifest["wheels"] for p in w["parts"]], CALL_MB << 20)
    print(f"{sum(map(len, calls))} parts of <= {part_mb} MiB in {root}/ (manifest.json lists them); "
          f"{len(calls)} device calls, in this order:")
    for i, call in enumerate(calls):
        cmd = "make gpu-check" if i == len(calls) - 1 else "mkdir -p /tmp/gpu && cp .gpu/*.part-* /tmp/gpu/"
        carry = ", ".join([".gpu/manifest.json", *(f".gpu/{p}" for p in call)])
        print(f"  call {i + 1}: carry [{carry}]  command: {cmd}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:2]))
