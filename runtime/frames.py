"""Reading frames from disk with one-line errors instead of silent `None`s."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from masktrt.errors import MasktrtError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def list_frames(folder: str | Path) -> list[Path]:
    """Image files of a folder in lexical order (= frame order for DAVIS/VOT/OTB layouts)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise MasktrtError(f"frame folder '{folder}' does not exist", "pass a folder of images")
    frames = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not frames:
        raise MasktrtError(f"no images in '{folder}'",
                           f"expected files ending in {', '.join(IMAGE_SUFFIXES)}")
    return frames


def read_frame(path: str | Path) -> np.ndarray:
    """HxWx3 uint8 BGR; an unreadable or non-image file raises MasktrtError naming it."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise MasktrtError(f"cannot read frame '{path}'",
                           "check that the file exists and is a valid image")
    return image
