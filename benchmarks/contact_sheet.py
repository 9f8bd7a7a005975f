"""A contact sheet: evenly spaced frames of one tracked sequence with the tracker's mask, rotated
box and score drawn on (runtime.video.annotate), in a grid, for a report a person looks at
rather than reads.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

TILES = 8  # frames on the sheet
COLUMNS = 4
TILE_WIDTH = 320  # pixels


def pick(count: int, tiles: int = TILES) -> list[int]:
    """`tiles` frame numbers spread over 0..count-1, first and last included (fewer if short)."""
    if count <= 0:
        return []
    return sorted({int(round(i)) for i in np.linspace(0, count - 1, min(tiles, count))})


def tile(frame: np.ndarray, result: Any, index: int) -> np.ndarray:
    from masktrt.runtime.video import annotate, draw_label

    drawn = annotate(frame, result)
    height = int(round(drawn.shape[0] * TILE_WIDTH / drawn.shape[1]))
    small = cv2.resize(drawn, (TILE_WIDTH, height), interpolation=cv2.INTER_AREA)
    draw_label(small, f"frame {index}", (8, height - 10), (255, 255, 255))
    return small


def sheet(tiles: list[np.ndarray], columns: int = COLUMNS) -> np.ndarray:
    """Tiles of one height in rows of `columns`, the last row padded black."""
    blank = np.zeros_like(tiles[0])
    rows = [tiles[i:i + columns] for i in range(0, len(tiles), columns)]
    rows[-1] = rows[-1] + [blank] * (columns - len(rows[-1]))
    return np.vstack([np.hstack(row) for row in rows])


def write_contact_sheet(seq: Any, results: list[Any], path: Path) -> Path | None:
    """The sheet of `results` (result t belongs to frame t of `seq`) as a PNG; None without
    results."""
    chosen = pick(len(results))
    if not chosen:
        return None
    image = sheet([tile(seq.frame(t), results[t], t) for t in chosen])
    if not cv2.imwrite(str(path), image):
        from masktrt.errors import MasktrtError

        raise MasktrtError(f"cannot write '{path}'", "check the folder is writable and has space")
    return path
