"""Runtime trackers (NumPy/OpenCV only), found through the registry by tracker name."""
from __future__ import annotations

from typing import Any

from masktrt import registry


def make_tracker(tracker: str, runner: Any, preset: Any = None, **options: Any) -> Any:
    """Tracker `tracker` over `runner`, with `preset` (a preset object, its recorded dict or a
    name; default: the spec's). Options go to the tracker class (timer, ops)."""
    entry = registry.get(tracker)
    spec = entry.load_spec()
    if preset is None or isinstance(preset, str):
        preset = spec.preset(preset)
    elif isinstance(preset, dict):
        preset = spec.preset_from_dict(preset)
    return entry.load_runtime()(runner, preset, **options)
