"""The output folder of a tracking run: its writer and its reader, with the file names once.

Layout (what `masktrt track` and `demo` write, what `masktrt eval` and `demo` score):

    masks/<frame>.png   0/255, named like the input images (else 00000.png ...)
    polygons.txt        x1,y1,...,x4,y4 per frame (the rotated box)
    boxes.txt           x,y,w,h per frame (required by the reader)
    scores.txt          score,lost,skipped per frame (0/1 flags; the reader also takes score only)
    track.mp4           the annotated video (optional)

Line i of every text file belongs to frame i; frame 0 is the initialisation frame. Writer and
reader sit together so the format cannot drift between them. NumPy and OpenCV only.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from masktrt.errors import MasktrtError

MASKS_DIR = "masks"
POLYGONS_FILE = "polygons.txt"
BOXES_FILE = "boxes.txt"
SCORES_FILE = "scores.txt"
VIDEO_FILE = "track.mp4"
TEXT_FILES = (POLYGONS_FILE, BOXES_FILE, SCORES_FILE)


def describe(video: bool) -> str:
    """The files a run writes, as a person reads them."""
    return f"{MASKS_DIR}/, {', '.join(TEXT_FILES)}" + (f", {VIDEO_FILE}" if video else "")


# ---------------------------------------------------------------- writing
def box_mask(frame_hw: tuple[int, int], result: Any) -> np.ndarray:
    """Frame 0 has no network mask: the given box, filled, is the best mask we know."""
    mask = np.zeros(frame_hw, np.uint8)
    x, y, w, h = result.xywh
    x0, y0 = max(int(round(x)), 0), max(int(round(y)), 0)
    mask[y0:max(int(round(y + h)), 0), x0:max(int(round(x + w)), 0)] = 1
    return mask


def _with_mask(result: Any, mask: Any) -> Any:
    return result if result.mask is mask else replace(result, mask=mask)


class SequenceOutputs:
    """The per-frame files of one run; text files are flushed per line so a crash keeps them."""

    def __init__(self, out: Path, fps: float, write_video: bool = True) -> None:
        from masktrt.runtime.video import Mp4Writer

        self.out = Path(out)
        self.masks = self.out / MASKS_DIR
        try:
            self.masks.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise MasktrtError(f"cannot create output folder '{out}' ({exc.strerror})",
                               "pass a writable --out folder") from exc
        self.files = {name: open(self.out / name, "w", buffering=1) for name in TEXT_FILES}
        self.video = Mp4Writer(self.out / VIDEO_FILE, fps) if write_video else None

    def write(self, name: str, frame: Any, result: Any, mask: Any, fps: float | None,
              skipped: bool) -> None:
        """One frame's line in every file, its mask (unless None) and its video frame."""
        if mask is not None:
            self._write_mask(name, mask)
        self.files[POLYGONS_FILE].write(",".join(f"{v:.3f}" for v in result.polygon.ravel()) + "\n")
        self.files[BOXES_FILE].write(",".join(f"{v:.3f}" for v in result.xywh) + "\n")
        self.files[SCORES_FILE].write(f"{result.score:.6f},{int(result.lost)},{int(skipped)}\n")
        if self.video is not None:
            from masktrt.runtime.video import annotate

            self.video.write(annotate(frame, result if mask is None else _with_mask(result, mask),
                                      fps, skipped))

    def _write_mask(self, name: str, mask: np.ndarray) -> None:
        import cv2

        path = self.masks / f"{name}.png"
        if not cv2.imwrite(str(path), mask * 255):
            raise MasktrtError(f"cannot write '{path}'", "check the --out folder is writable")

    def close(self) -> None:
        for f in self.files.values():
            f.close()
        if self.video is not None:
            self.video.close()

    def __enter__(self) -> SequenceOutputs:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------- reading
@dataclass(frozen=True)
class Predictions:
    """A run's per-frame outputs; absent files are None. Masks are read lazily by path."""

    root: Path
    boxes: Any  # (N,4) float64 x,y,w,h
    polygons: Any = None  # (N,4,2) float64
    scores: Any = None  # (N,) float64
    flags: Any = None  # (N,2) 0/1: lost, skipped (undecodable frame), from scores.txt
    mask_paths: tuple[Path | None, ...] | None = None  # per frame; None: no mask written


def load_predictions(folder: str | Path, frame_names: list[str]) -> Predictions:
    """Read an output folder, checking that every file has one entry per frame.

    `frame_names`: the sequence's frame file stems, in order (they name the mask files).
    """
    root = Path(folder)
    if not root.is_dir():
        raise MasktrtError(f"predictions folder '{root}' does not exist",
                           "pass the --out folder of 'masktrt track'")
    if not (root / BOXES_FILE).is_file():
        raise MasktrtError(f"'{root / BOXES_FILE}' is missing",
                           "run 'masktrt track' with this folder as its output, or write x,y,w,h per frame")
    frames = len(frame_names)
    boxes = _rows(root / BOXES_FILE, (4,), frames)
    polygons = scores = flags = masks = None
    if (root / POLYGONS_FILE).is_file():
        polygons = _rows(root / POLYGONS_FILE, (8,), frames).reshape(-1, 4, 2)
    if (root / SCORES_FILE).is_file():
        rows = _rows(root / SCORES_FILE, (1, 3), frames)
        scores, flags = rows[:, 0], (rows[:, 1:] if rows.shape[1] == 3 else None)
    mask_files = _images(root / MASKS_DIR)
    if mask_files:
        masks = match_masks(mask_files, frame_names)
    return Predictions(root, boxes, polygons, scores, flags, masks)


def _images(folder: Path) -> list[Path]:
    from masktrt.runtime.frames import IMAGE_SUFFIXES

    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def match_masks(paths: list[Path], frame_names: list[str]) -> tuple[Path | None, ...]:
    """Predicted mask of each frame, by name: the frame's own name, else its 5-digit index.

    `masktrt track` names masks after the input images and may leave a frame without one; a
    folder whose names match no frame (written by another tool) is taken in order if it has
    exactly one mask per frame.
    """
    by_stem = {p.stem: p for p in paths}
    matched = tuple(by_stem.get(name, by_stem.get(f"{i:05d}")) for i, name in enumerate(frame_names))
    if any(p is not None for p in matched):
        return matched
    if len(paths) == len(frame_names):
        return tuple(paths)
    raise MasktrtError(f"the {len(paths)} masks in '{paths[0].parent}' match none of the "
                       f"{len(frame_names)} frames by name",
                       "name masks like the frames (or 00000.png...), one per frame")


def _rows(path: Path, widths: tuple[int, ...], frames: int) -> Any:
    from masktrt.runtime.sequences import read_rows

    rows = read_rows(path, widths)
    if len(rows) != frames:
        raise MasktrtError(f"'{path}' has {len(rows)} lines but the sequence has {frames} frames",
                           "predict every frame (frame 0 included), pass the matching --sequence, "
                           "or --max-frames N for a shortened run")
    return rows
