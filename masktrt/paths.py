"""Where masktrt looks for shared data and keeps its caches.

The real sequences are never copied into the project: they are read from `../shared/data` beside
the checkout (or `$MASKTRT_DATA`). Caches (re-estimated random weights, compiled kernels, engines)
go to `$MASKTRT_CACHE` or `~/.cache/masktrt`.
"""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def shared_data_dir() -> Path | None:
    """The folder of real sequences, or None where it is absent (a user's fresh clone)."""
    env = os.environ.get("MASKTRT_DATA")
    candidates = [Path(env)] if env else []
    candidates += [REPO_ROOT.parent / "shared" / "data", Path.cwd().parent / "shared" / "data"]
    for path in candidates:
        if path.is_dir():
            return path
    return None


def shared_sequence(name: str) -> Path | None:
    root = shared_data_dir()
    if root is None or not (root / name).is_dir():
        return None
    return root / name


def cache_dir(*parts: str) -> Path:
    root = Path(os.environ.get("MASKTRT_CACHE", Path.home() / ".cache" / "masktrt"))
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


DEMO_WEIGHTS = Path(__file__).resolve().parent / "weights" / "siammask_demo.safetensors"


def demo_weights() -> Path | None:
    """The small trained demo checkpoint shipped in the package, if this build has it."""
    return DEMO_WEIGHTS if DEMO_WEIGHTS.is_file() else None


def resolve_weights(checkpoint: str | Path | None, random_weights: bool = False) -> Path | None:
    """The weights a command uses: --checkpoint if given, the seeded random model with
    --random-weights (None), else the shipped demo checkpoint (None in a build without it)."""
    if checkpoint is not None:
        return Path(checkpoint)
    return None if random_weights else demo_weights()
