"""Where masktrt looks for shared data and keeps its caches.

The real sequences are never copied into the project: they are read from `../shared/data` beside
the checkout (or `$MASKTRT_DATA`). Caches (re-estimated random weights, compiled kernels, engines)
go to `$MASKTRT_CACHE` or `~/.cache/masktrt`.
"""
from __future__ import annotations

import os
from pathlib import Path

from masktrt.registry import DEFAULT_TRACKER

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


def demo_weights(tracker: str = DEFAULT_TRACKER) -> Path | None:
    """The small trained demo checkpoint `tracker`'s spec names, if this build ships it."""
    from masktrt import registry

    entry = registry.get(tracker)
    name = entry.load_spec().demo_weights
    path = entry.folder() / name if name else None
    return path if path is not None and path.is_file() else None


def resolve_weights(checkpoint: str | Path | None, random_weights: bool = False,
                    tracker: str = DEFAULT_TRACKER) -> Path | None:
    """The weights a command uses: --checkpoint if given, the seeded random model with
    --random-weights (None), else the tracker's shipped demo checkpoint. A tracker without
    one (none trained yet) is a one-line error rather than a silent switch to random weights,
    whose boxes and masks are meaningless."""
    if checkpoint is not None:
        return Path(checkpoint)
    if random_weights:
        return None
    demo = demo_weights(tracker)
    if demo is None:
        from masktrt.errors import MasktrtError

        raise MasktrtError(f"no demo checkpoint for tracker '{tracker}' in this build",
                           "pass --checkpoint PATH (e.g. the official release), or "
                           "--random-weights for seeded random weights")
    return demo
