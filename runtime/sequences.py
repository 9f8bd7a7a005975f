"""Loading a tracking sequence and its ground truth from a folder, whatever benchmark it came from.

Layout (that of ../shared/data): `<seq>/frames/*` (lexical order = frame order), optional
`<seq>/masks/*.png` (DAVIS), optional `<seq>/groundtruth.txt` (line i = frame i). A folder that is
itself a plain folder of images (what `masktrt track --frames DIR` takes) also loads, without
ground truth.

The ground-truth style is detected, because the three benchmarks disagree on conventions and
mixing them up silently costs a pixel or a whole box:

- DAVIS (`masks/` present): boxes are 0-based x,y,w,h, the tight box of the mask;
- VOT (8 numbers a line): the corners of a rotated rectangle, in pixel coordinates as the official
  SiamMask VOT test uses them (no offset applied);
- OTB (4 numbers a line, no masks): x,y,w,h in the 1-based OTB convention, converted to 0-based
  here (x-1, y-1) so every box this module hands out is 0-based.

Pass `kind=` to override the detection (e.g. a 4-number file that is already 0-based: 'davis').

Frames and masks are read lazily, one at a time: a long sequence never sits in memory whole.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from masktrt.errors import MasktrtError
from masktrt.runtime.frames import IMAGE_SUFFIXES, list_frames, read_frame

KINDS = ("davis", "vot", "otb", "frames")
GROUNDTRUTH_FILES = ("groundtruth.txt", "groundtruth_rect.txt")  # the latter: OTB's own name
_SEPARATORS = re.compile(r"[,\s;]+")


@dataclass(frozen=True, eq=False)  # eq=False: arrays do not compare as one bool
class Sequence:
    """A sequence on disk: frame paths plus ground truth, with frames and masks read on demand.

    `boxes` are (N,4) float64 0-based x,y,w,h (None without ground truth); `polygons` are (N,4,2)
    float64 corners for VOT (None otherwise); `mask_paths` are the DAVIS masks (None otherwise).
    """

    name: str
    kind: str
    root: Path
    frame_paths: tuple[Path, ...]
    boxes: np.ndarray | None = None
    polygons: np.ndarray | None = None
    mask_paths: tuple[Path, ...] | None = None

    def __len__(self) -> int:
        return len(self.frame_paths)

    def __iter__(self) -> Iterator[np.ndarray]:
        """Frames in order, each read only when reached."""
        for path in self.frame_paths:
            yield read_frame(path)

    @property
    def has_groundtruth(self) -> bool:
        return self.boxes is not None

    @property
    def has_masks(self) -> bool:
        return self.mask_paths is not None

    def head(self, count: int) -> Sequence:
        """The first `count` frames and their ground truth (e.g. to score a shortened run)."""
        if not 1 <= count <= len(self):
            raise MasktrtError(f"cannot take {count} frames of '{self.name}' ({len(self)} frames)",
                               f"pass a count from 1 to {len(self)}")
        cut = (lambda a: None if a is None else a[:count])
        return replace(self, frame_paths=self.frame_paths[:count], boxes=cut(self.boxes),
                       polygons=cut(self.polygons), mask_paths=cut(self.mask_paths))

    def frame(self, index: int) -> np.ndarray:
        """Frame `index` as HxWx3 uint8 BGR, read from disk now."""
        return read_frame(self.frame_paths[index])

    def mask(self, index: int) -> np.ndarray:
        """Ground-truth mask of frame `index` as HxW uint8 {0,1} (DAVIS only)."""
        if self.mask_paths is None:
            raise MasktrtError(f"sequence '{self.name}' ({self.kind}) has no masks",
                               "masks exist only for DAVIS-style sequences with a masks/ folder")
        return read_mask(self.mask_paths[index])

    def init_mask(self) -> np.ndarray | None:
        """The first frame's mask (DAVIS), for trackers that initialise from a mask; None where
        the sequence has no masks (they then initialise from `init_box` alone)."""
        return self.mask(0) if self.mask_paths is not None else None

    def init_box(self) -> np.ndarray:
        """The box a tracker is initialised with on frame 0, 0-based x,y,w,h float64 (spec §3.6).

        DAVIS: cv2.boundingRect of the first mask. VOT: the area-preserving axis-aligned box
        (see `axis_aligned_box`). OTB: the first ground-truth box (already made 0-based).
        """
        if self.kind == "davis" and self.mask_paths is not None:
            return np.array(cv2.boundingRect(self.mask(0)), dtype=np.float64)
        if self.kind == "vot" and self.polygons is not None:
            cx, cy, w, h = axis_aligned_box(self.polygons[0])
            return np.array([cx - w / 2, cy - h / 2, w, h], dtype=np.float64)
        if self.boxes is None:
            raise MasktrtError(f"sequence '{self.name}' has no ground truth to initialise from",
                               "pass an initial box explicitly (x,y,w,h)")
        return self.boxes[0].copy()


def axis_aligned_box(polygon: np.ndarray) -> tuple[float, float, float, float]:
    """VOT's customary initial box for a rotated rectangle: (cx, cy, w, h), area preserved.

    Spec §3.6 (`get_axis_aligned_bbox`): centre = mean of the corners; w,h = the enclosing box's
    sides scaled by s = sqrt(A1/A2), A1 = |p0-p1|*|p1-p2| (the rectangle's area), A2 = enclosing
    area, then +1 each. The +1 is the variant that reproduces the data README's bag box
    (312.14,146.39,106.13,96.41 as x,y,w,h); without it the box is 105.13x95.41 at 312.64,146.89.
    """
    p = np.asarray(polygon, dtype=np.float64).reshape(4, 2)
    cx, cy = p.mean(axis=0)
    x1, y1 = p.min(axis=0)
    x2, y2 = p.max(axis=0)
    a1 = np.linalg.norm(p[0] - p[1]) * np.linalg.norm(p[1] - p[2])
    a2 = (x2 - x1) * (y2 - y1)
    s = np.sqrt(a1 / a2) if a2 > 0 else 1.0
    return float(cx), float(cy), float(s * (x2 - x1) + 1), float(s * (y2 - y1) + 1)


def polygon_bounding_boxes(polygons: np.ndarray) -> np.ndarray:
    """(N,4,2) corners -> (N,4) enclosing x,y,w,h: the box that box-IoU/AUC metrics compare on VOT."""
    lo = polygons.min(axis=1)
    hi = polygons.max(axis=1)
    return np.concatenate([lo, hi - lo], axis=1)


def read_mask(path: str | Path) -> np.ndarray:
    """A mask PNG (0 background, anything else object) as HxW uint8 {0,1}."""
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise MasktrtError(f"cannot read mask '{path}'", "check that the file is a valid image")
    return (image > 0).astype(np.uint8)


def _text(path: Path) -> str:
    """A text file's contents; unreadable or binary is one error line."""
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise MasktrtError(f"'{path}' is not a text file", "write one row of numbers per line") from None
    except OSError as exc:
        raise MasktrtError(f"cannot read '{path}' ({exc.strerror or exc})",
                           "check the path and its permissions") from exc


def read_rows(path: Path, widths: tuple[int, ...]) -> np.ndarray:
    """A text file of numbers, one row a line (commas, tabs or spaces), every row `width` long."""
    rows = []
    for number, line in enumerate(_text(path).splitlines(), start=1):
        fields = [f for f in _SEPARATORS.split(line.strip()) if f]
        if not fields:
            continue
        try:
            values = [float(f) for f in fields]
        except ValueError:
            values = [math.nan]
        if not all(math.isfinite(v) for v in values):  # 'nan' and 'inf' parse, but mean nothing
            raise MasktrtError(f"{path}:{number} is not a list of numbers: "
                               f"'{line.strip()[:80]}' (nan and inf do not count)",
                               "write one comma-separated row of numbers per frame")
        rows.append(values)
    if not rows:
        raise MasktrtError(f"'{path}' is empty", "write one row per frame")
    width = len(rows[0])
    bad = [i + 1 for i, r in enumerate(rows) if len(r) != width]
    if width not in widths or bad:
        line = bad[0] if bad else 1
        raise MasktrtError(f"{path}:{line} has a row of {len(rows[line - 1])} numbers",
                           f"expected {' or '.join(map(str, widths))} numbers on every line")
    return np.array(rows, dtype=np.float64)


def _frames_folder(root: Path) -> Path:
    if (root / "frames").is_dir():
        return root / "frames"
    if any(p.suffix.lower() in IMAGE_SUFFIXES for p in root.iterdir()):
        return root  # a plain folder of images
    raise MasktrtError(f"no frames/ folder and no images in '{root}'",
                       "pass a sequence folder with frames/ (and groundtruth.txt) or a folder of images")


def _detect_kind(width: int, has_masks: bool) -> str:
    if has_masks:
        return "davis"
    return "vot" if width == 8 else "otb"


def _check_length(name: str, what: str, count: int, frames: int) -> None:
    if count != frames:
        raise MasktrtError(f"sequence '{name}' has {frames} frames but {count} {what}",
                           "the ground truth needs exactly one entry per frame")


def load_sequence(path: str | Path, kind: str | None = None) -> Sequence:
    """Load a sequence folder; `kind` ('davis'|'vot'|'otb') overrides the detected style."""
    root = Path(path)
    if not root.is_dir():
        raise MasktrtError(f"sequence folder '{root}' does not exist",
                           "pass a folder with frames/ (and groundtruth.txt) or a folder of images")
    if kind is not None and kind not in KINDS:
        raise MasktrtError(f"unknown sequence kind '{kind}'", f"choose one of: {', '.join(KINDS)}")
    frames = tuple(list_frames(_frames_folder(root)))
    name = root.name
    masks = tuple(list_frames(root / "masks")) if (root / "masks").is_dir() else None
    if masks is not None:
        _check_length(name, "masks", len(masks), len(frames))
    gt_file = next((root / f for f in GROUNDTRUTH_FILES if (root / f).is_file()), None)
    if gt_file is None:
        return _without_groundtruth_file(name, root, frames, masks, kind)
    rows = read_rows(gt_file, (4, 8))
    _check_length(name, f"lines in {gt_file.name}", len(rows), len(frames))
    kind = kind or _detect_kind(rows.shape[1], masks is not None)
    if rows.shape[1] == 8:
        polygons = rows.reshape(-1, 4, 2)
        return Sequence(name, kind, root, frames, polygon_bounding_boxes(polygons), polygons, masks)
    boxes = rows.copy()
    if kind == "otb":
        boxes[:, :2] -= 1.0  # OTB is 1-based
    return Sequence(name, kind, root, frames, boxes, None, masks)


def _without_groundtruth_file(name: str, root: Path, frames: tuple[Path, ...],
                              masks: tuple[Path, ...] | None, kind: str | None) -> Sequence:
    """Masks alone still give DAVIS boxes (their tight boxes); no masks means no ground truth."""
    if masks is None:
        return Sequence(name, kind or "frames", root, frames)
    boxes = np.array([cv2.boundingRect(read_mask(p)) for p in masks], dtype=np.float64)
    return Sequence(name, kind or "davis", root, frames, boxes, None, masks)
