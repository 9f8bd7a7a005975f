"""Small sequences on disk in the three ground-truth styles runtime/sequences.py reads."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.helpers.vot_helpers import FRAMES, SIZE


def _frames(root: Path) -> list[tuple[int, int, int, int]]:
    """A bright rectangle moving right; its x,y,w,h per frame."""
    (root / "frames").mkdir(parents=True)
    boxes = []
    for i in range(FRAMES):
        frame = np.full((*SIZE, 3), 40, np.uint8)
        x, y, w, h = 8 + 3 * i, 10, 16, 12
        frame[y:y + h, x:x + w] = 220
        cv2.imwrite(str(root / "frames" / f"{i:05d}.png"), frame)
        boxes.append((x, y, w, h))
    return boxes


@pytest.fixture
def davis_sequence(tmp_path: Path) -> Path:
    root = tmp_path / "davis-toy"
    (root / "masks").mkdir(parents=True)
    for i, (x, y, w, h) in enumerate(_frames(root)):
        mask = np.zeros(SIZE, np.uint8)
        mask[y:y + h, x:x + w] = 255
        cv2.imwrite(str(root / "masks" / f"{i:05d}.png"), mask)
    return root


@pytest.fixture
def vot_sequence(tmp_path: Path) -> Path:
    root = tmp_path / "vot-toy"
    lines = [f"{x},{y},{x + w},{y},{x + w},{y + h},{x},{y + h}\n" for x, y, w, h in _frames(root)]
    (root / "groundtruth.txt").write_text("".join(lines))
    return root


@pytest.fixture
def otb_sequence(tmp_path: Path) -> Path:
    root = tmp_path / "otb-toy"
    lines = [f"{x + 1},{y + 1},{w},{h}\n" for x, y, w, h in _frames(root)]  # OTB is 1-based
    (root / "groundtruth.txt").write_text("".join(lines))
    return root
