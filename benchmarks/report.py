"""Writing results as JSON (for machines, diffs and CI) and Markdown tables (for people).

NumPy scalars and arrays are converted on the way out, and NaN becomes null, so a report written
here always parses as strict JSON.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np


def to_jsonable(value: Any) -> Any:
    """Plain Python types for json: NumPy scalars/arrays unpacked, Paths as strings, NaN as None."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        return to_jsonable(value.item())
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: str | Path, data: Any) -> Path:
    """Write `data` as indented strict JSON, creating the folder."""
    from masktrt import files

    return files.write_json(path, to_jsonable(data), allow_nan=False)


def format_cell(value: Any, digits: int = 3) -> str:
    """A table cell: floats to `digits` decimals, None/NaN as an en dash."""
    if value is None or (isinstance(value, (float, np.floating)) and not math.isfinite(value)):
        return "–"
    if isinstance(value, (float, np.floating)):
        return f"{value:.{digits}f}"
    return str(value)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]], digits: int = 3) -> str:
    """A GitHub-flavoured Markdown table; numbers right-aligned."""
    cells = [[format_cell(v, digits) for v in row] for row in rows]
    numeric = [all(isinstance(r[i], (int, float, np.number)) or r[i] is None for r in rows)
               for i in range(len(header))]
    align = ["---:" if n and rows else "---" for n in numeric]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines) + "\n"


def text_table(header: Sequence[str], rows: Sequence[Sequence[Any]], digits: int = 3) -> str:
    """A fixed-width table for the terminal."""
    cells = [list(header)] + [[format_cell(v, digits) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n"
