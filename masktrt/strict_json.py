"""JSON as masktrt reads the files that steer what it loads: every key given once.

Python's json module keeps the last of two equal keys, so a contract could show one graph file
to a reviewer and load another; and it raises RecursionError (not a ValueError) on deeply nested
input. `loads` turns both into `ValueError`, the one exception a reader has to catch besides
OSError. (Non-finite numbers parse; the readers check each value they use, naming its key.)
"""
from __future__ import annotations

import json
from typing import Any


class DuplicateKey(ValueError):
    pass


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        seen: set[str] = set()
        doubled = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise DuplicateKey(f"key {doubled!r} is given twice")
    return found


def loads(text: str | bytes) -> Any:
    """Parse `text`; duplicate keys and nesting beyond Python's recursion limit raise ValueError
    (json.JSONDecodeError for malformed text is one too)."""
    try:
        return json.loads(text, object_pairs_hook=_pairs)
    except RecursionError as exc:
        raise ValueError("nested too deeply") from exc
