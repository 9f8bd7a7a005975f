"""The output folder of a tracking run: its writer and its reader, with the file names once.

Layout (what `masktrt track` and `demo` write, what `masktrt eval` and `demo` score):

    masks/<frame>.png   0/255, named like the input images (else 00000.png ...)
    polygons.txt        x1,y1,...,x4,y4 per frame (the rotated box)
    boxes.txt           x,y,w,h per frame (required by the reader)
    scores.txt          score,lost,skipped,invalid per frame (0/1 flags; invalid: the network's
                        outputs were not finite, the box is the last good one; the reader also
                        takes score only, or score,lost,skipped)
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
EVAL_JSON = "eval.json"  # written beside the outputs by `masktrt eval` and `demo`
EVAL_MD = "eval.md"
OWN_FILES = (MASKS_DIR, *TEXT_FILES, VIDEO_FILE, EVAL_JSON, EVAL_MD)  # a run's, nothing else


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


def _flag(result: Any, name: str) -> int:
    return int(bool(getattr(result, name, False)))


def result_lines(result: Any, skipped: bool) -> dict[str, str]:
    """One frame's line of each text file. A non-finite number never reaches a file: such a
    result is the tracker's bug, and `nan` would be read back as a valid score."""
    values = (*np.ravel(result.polygon), *result.xywh, result.score)
    if not np.all(np.isfinite(np.asarray(values, dtype=np.float64))):
        raise ValueError(f"non-finite values in a tracker result: {values}")
    return {POLYGONS_FILE: ",".join(f"{v:.3f}" for v in np.ravel(result.polygon)) + "\n",
            BOXES_FILE: ",".join(f"{v:.3f}" for v in result.xywh) + "\n",
            SCORES_FILE: f"{result.score:.6f},{_flag(result, 'lost')},{int(skipped)},"
                         f"{_flag(result, 'invalid')}\n"}


def existing_outputs(out: Path) -> list[str]:
    """The names of a previous run's files in `out` (what `prepare_folder` refuses or clears)."""
    return [name for name in OWN_FILES if (Path(out) / name).exists()]


def prepare_folder(out: Path, overwrite: bool) -> None:
    """Create `out`; refuse one holding a previous run's outputs unless `overwrite`, which
    removes exactly those (masktrt's own names), never anything else in the folder."""
    found = existing_outputs(out)
    if found and not overwrite:
        raise MasktrtError(f"'{out}' already holds the outputs of a run ({', '.join(found)}); "
                           "new per-frame files would mix with the old ones",
                           "pass --overwrite to replace them, or choose a new --out folder")
    try:
        for name in found:
            _remove(Path(out) / name)
        (Path(out) / MASKS_DIR).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _os_error(exc, out, "prepare the output folder") from exc


def _remove(path: Path) -> None:
    import shutil

    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def _os_error(exc: OSError, path: Path, action: str) -> Exception:
    from masktrt.files import os_error

    mapped = os_error(exc, path, action)
    if mapped is exc:  # not the user's to fix (e.g. EIO): still one line, naming the OS error
        return MasktrtError(f"cannot {action} '{path}' ({exc.strerror or exc})",
                            "check the disk and the --out folder")
    return mapped


class SequenceOutputs:
    """The per-frame files of one run, written so that a crash or a full disk leaves them whole.

    Text lines go straight to the OS (unbuffered), so every line written is on disk; if a write
    fails (disk full), every text file is cut back to the last frame written completely, so the
    files stay aligned and no line is half a number. Masks are written to a temporary name and
    renamed. The MP4 is finalised by `close`, which the context manager runs on any exit.
    """

    def __init__(self, out: Path, fps: float, write_video: bool = True,
                 overwrite: bool = False) -> None:
        from masktrt.runtime.video import Mp4Writer

        self.out = Path(out)
        self.masks = self.out / MASKS_DIR
        prepare_folder(self.out, overwrite)
        self.files: dict[str, Any] = {}
        try:
            for name in TEXT_FILES:
                self.files[name] = open(self.out / name, "wb", buffering=0)
        except OSError as exc:
            self.close()
            raise _os_error(exc, self.out / name, "create") from exc
        self.complete = {name: 0 for name in TEXT_FILES}  # bytes of the frames written whole
        self.video = Mp4Writer(self.out / VIDEO_FILE, fps) if write_video else None
        self.codec: str | None = None  # the MP4's codec, known once closed: 'avc1' or 'mp4v'

    def write(self, name: str, frame: Any, result: Any, mask: Any, fps: float | None,
              skipped: bool) -> None:
        """One frame's line in every file, its mask (unless None) and its video frame."""
        lines = result_lines(result, skipped)
        if mask is not None:
            self._write_mask(name, mask)
        self._write_lines(lines)
        if self.video is not None:
            from masktrt.runtime.video import annotate

            self.video.write(annotate(frame, result if mask is None else _with_mask(result, mask),
                                      fps, skipped))

    def _write_lines(self, lines: dict[str, str]) -> None:
        name = TEXT_FILES[0]
        try:
            for name, line in lines.items():
                _write_all(self.files[name], line.encode("ascii"))
        except OSError as exc:
            self._cut_back()
            raise _os_error(exc, self.out / name, "write") from exc
        for name, line in lines.items():
            self.complete[name] += len(line)

    def _cut_back(self) -> None:
        """Truncate every text file to its last complete frame (best effort: the disk is full,
        but truncating frees space rather than needing it)."""
        for name, f in self.files.items():
            try:
                f.truncate(self.complete[name])
            except OSError:
                pass

    def _write_mask(self, name: str, mask: np.ndarray) -> None:
        import cv2

        path = self.masks / f"{name}.png"
        partial = self.masks / f".{name}.partial.png"
        try:
            written = cv2.imwrite(str(partial), mask * 255)
            if written:
                partial.replace(path)
        except OSError as exc:
            written = False
            cause = exc
        else:
            cause = None
        if not written:
            partial.unlink(missing_ok=True)
            raise MasktrtError(f"cannot write '{path}'" + (f" ({cause.strerror})" if cause else ""),
                               "check that the --out folder is writable and its disk has space")

    def close(self) -> None:
        for f in self.files.values():
            f.close()
        self.files = {}
        video, self.video = getattr(self, "video", None), None
        if video is not None:
            self.codec = video.codec
            video.close()

    def __enter__(self) -> SequenceOutputs:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _write_all(f: Any, data: bytes) -> None:
    """A raw file's write may take part of the bytes (a nearly full disk): loop until all."""
    view = memoryview(data)
    while view:
        count = f.write(view)
        if not count:
            raise OSError(28, "No space left on device")
        view = view[count:]


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
    invalid: Any = None  # (N,) 0/1: the network's outputs were not finite (4-column scores.txt)


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
    polygons = scores = flags = invalid = masks = None
    if (root / POLYGONS_FILE).is_file():
        polygons = _rows(root / POLYGONS_FILE, (8,), frames).reshape(-1, 4, 2)
    if (root / SCORES_FILE).is_file():
        rows = _rows(root / SCORES_FILE, (1, 3, 4), frames)
        scores, flags = rows[:, 0], (rows[:, 1:3] if rows.shape[1] >= 3 else None)
        invalid = rows[:, 3] if rows.shape[1] == 4 else None
    mask_files = _images(root / MASKS_DIR)
    if mask_files:
        masks = match_masks(mask_files, frame_names)
    return Predictions(root, boxes, polygons, scores, flags, masks, invalid)


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
