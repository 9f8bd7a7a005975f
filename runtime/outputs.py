"""The output folder of a tracking run: its writer and its reader, with the file names once.

Layout (what `masktrt track` and `demo` write, what `masktrt eval` and `demo` score):

    masks/<frame>.png   0/255, named like the input images (else 00000.png ...)
    polygons.txt        x1,y1,...,x4,y4 per frame (the rotated box)
    boxes.txt           x,y,w,h per frame (required by the reader)
    scores.txt          score,lost,skipped,invalid per frame (0/1 flags; invalid: the network's
                        outputs, or the box decoded from them, were not finite, and the box is
                        the last good one; the reader also takes score only, or
                        score,lost,skipped)
    track.mp4           the annotated video (optional)

`--format davis|ytvos` writes the masks as indexed PNGs into `<sequence>/` instead of `masks/`
(the text files and video stay): mode "P" with the DAVIS palette, pixel value = object id (1 for
the tracked object, 0 background). That is the layout the official scripts read:
davis2017-evaluation's `Results._read_mask` opens `<results>/<sequence>/<frame id>.png` with
`np.array(Image.open(...))` ("indexed PNG files placed inside the corresponding sequence folder",
frame ids 00000, 00001, ... as in DAVIS's JPEGImages), and a YouTube-VOS submission is
`Annotations/<video id>/<frame>.png`, palette PNGs named like the video's own JPEG frames
(00000, 00005, ...; not every index). So davis names masks by 5-digit index, ytvos by the input
frame's stem; `<out>` can be the results folder (DAVIS) or `Annotations/` (YouTube-VOS).
`load_predictions` reads either layout; in an indexed mask any object id > 0 is foreground.

Line i of every text file belongs to frame i; frame 0 is the initialisation frame. Writer and
reader sit together so the format cannot drift between them. NumPy and OpenCV only.
"""
from __future__ import annotations

import errno
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from masktrt.errors import MasktrtError
from masktrt.runtime.folder_lock import lock_folder, unlock

MASKS_DIR = "masks"
POLYGONS_FILE = "polygons.txt"
BOXES_FILE = "boxes.txt"
SCORES_FILE = "scores.txt"
VIDEO_FILE = "track.mp4"
TEXT_FILES = (POLYGONS_FILE, BOXES_FILE, SCORES_FILE)
EVAL_JSON = "eval.json"  # written beside the outputs by `masktrt eval` and `demo`
EVAL_MD = "eval.md"
OWN_FILES = (MASKS_DIR, *TEXT_FILES, VIDEO_FILE, EVAL_JSON, EVAL_MD)  # a run's, nothing else
FORMATS = ("plain", "davis", "ytvos")  # how masks are written (`masktrt track --format`)
OBJECT_ID = 1  # the single tracked object's id in an indexed mask (0: background)


@dataclass(frozen=True)
class MaskLayout:
    """Where a run's masks go and how they are named: plain 0/255 PNGs in masks/, or indexed
    PNGs in <sequence>/ (DAVIS: 00000.png by index; YouTube-VOS: the frame's own stem)."""

    format: str = "plain"
    sequence: str = ""

    @property
    def indexed(self) -> bool:
        return self.format != "plain"

    @property
    def folder(self) -> str:
        return self.sequence if self.indexed else MASKS_DIR

    def stem(self, frame_name: str, index: int) -> str:
        """A frame's mask file name (without .png)."""
        return f"{index:05d}" if self.format == "davis" else frame_name


def mask_layout(result_format: str, sequence: str) -> MaskLayout:
    """The layout `--format` asks for; the sequence folder must not be one of a run's files."""
    if result_format not in FORMATS:
        raise MasktrtError(f"--format {result_format} is not one of {', '.join(FORMATS)}",
                           "pass --format plain, davis or ytvos")
    layout = MaskLayout(result_format, sequence)
    if layout.indexed and (not sequence or sequence.startswith(".") or sequence in OWN_FILES):
        raise MasktrtError(f"'{sequence}' cannot name the sequence folder of the masks",
                           "name the input folder or video after the sequence (e.g. bear)")
    return layout


def describe(video: bool, layout: MaskLayout = MaskLayout()) -> str:
    """The files a run writes, as a person reads them."""
    masks = f"{layout.folder}/ ({layout.format} indexed PNGs)" if layout.indexed else f"{MASKS_DIR}/"
    return f"{masks}, {', '.join(TEXT_FILES)}" + (f", {VIDEO_FILE}" if video else "")


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


def existing_outputs(out: Path, layout: MaskLayout = MaskLayout()) -> list[str]:
    """The names of a previous run's files in `out` (what `prepare_folder` refuses or clears)."""
    names = (*OWN_FILES, layout.folder) if layout.indexed else OWN_FILES
    return [name for name in names if os.path.lexists(Path(out) / name)]  # a dangling link too


def _check_sequence_folder(folder: Path) -> None:
    """A sequence folder is replaced only if it holds nothing but PNGs: it may be the user's
    own data (e.g. --out pointed at the dataset), which --overwrite must never delete."""
    if folder.exists() and (not folder.is_dir()
                            or any(p.suffix.lower() != ".png" for p in folder.iterdir())):
        raise MasktrtError(f"'{folder}' exists and holds more than mask PNGs",
                           "choose an --out folder that does not hold the input sequence")


def prepare_folder(out: Path, overwrite: bool, layout: MaskLayout = MaskLayout()) -> None:
    """Create `out`; refuse one holding a previous run's outputs unless `overwrite`, which
    removes exactly those (masktrt's own names), never anything else in the folder, and never
    while another run holds the folder (runtime.folder_lock)."""
    lock = take_folder(Path(out))
    try:
        _clear_folder(out, overwrite, layout)
    finally:
        unlock(Path(out), lock)


def _clear_folder(out: Path, overwrite: bool, layout: MaskLayout) -> None:
    if layout.indexed:
        _check_sequence_folder(Path(out) / layout.folder)
    found = existing_outputs(out, layout)
    if found and not overwrite:
        raise MasktrtError(f"'{out}' already holds the outputs of a run ({', '.join(found)}); "
                           "new per-frame files would mix with the old ones",
                           "pass --overwrite to replace them, or choose a new --out folder")
    try:
        for name in found:
            _remove(Path(out) / name)
        (Path(out) / layout.folder).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _os_error(exc, out, "prepare the output folder") from exc


def take_folder(out: Path) -> int | None:
    """Create `out` and take its lock (one run per folder, runtime.folder_lock)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _os_error(exc, out, "create the output folder") from exc
    try:
        return lock_folder(out)
    except OSError as exc:
        raise _os_error(exc, out, "lock the output folder") from exc


def create_file(path: Path) -> Any:
    """An unbuffered, truncated file, created without following a link planted at `path`."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    try:
        return os.fdopen(os.open(path, flags, 0o644), "wb", buffering=0)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise MasktrtError(f"'{path}' is a symbolic link; masktrt does not write through one",
                               f"remove it from {path.parent}") from exc
        raise _os_error(exc, path, "create") from exc


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
                 overwrite: bool = False, layout: MaskLayout = MaskLayout()) -> None:
        from masktrt.runtime.video import Mp4Writer

        self.out, self.layout = Path(out), layout
        self.masks = self.out / layout.folder
        self.files: dict[str, Any] = {}
        self.video: Any = None
        self.codec: str | None = None  # the MP4's codec, known once closed: 'avc1' or 'mp4v'
        self.complete = {name: 0 for name in TEXT_FILES}  # bytes of the frames written whole
        self.lock = take_folder(self.out)
        try:  # anything failing from here on closes what is open and releases the folder
            _clear_folder(self.out, overwrite, layout)
            for name in TEXT_FILES:
                self.files[name] = create_file(self.out / name)
            self.video = Mp4Writer(self.out / VIDEO_FILE, fps) if write_video else None
        except BaseException:
            self.close()
            raise

    def write(self, name: str, frame: Any, result: Any, mask: Any, fps: float | None,
              skipped: bool) -> None:
        """One frame's line in every file, its mask (unless None) and its video frame."""
        lines = result_lines(result, skipped)
        if mask is not None and self.layout.indexed:
            self._write_indexed(name, mask)
        elif mask is not None:
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

    def _write_indexed(self, name: str, mask: np.ndarray) -> None:
        """An indexed PNG (object id, DAVIS palette), written atomically."""
        from masktrt.files import write_bytes
        from masktrt.runtime import indexed_png

        labels = (np.asarray(mask) > 0).astype(np.uint8) * OBJECT_ID
        write_bytes(self.masks / f"{name}.png", indexed_png.encode(labels, DAVIS_PALETTE))

    def close(self) -> None:
        for f in self.files.values():
            f.close()
        self.files = {}
        video, self.video = getattr(self, "video", None), None
        if video is not None:
            self.codec = video.codec
            video.close()
        lock, self.lock = getattr(self, "lock", None), None
        unlock(self.out, lock)

    def __enter__(self) -> SequenceOutputs:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _davis_palette() -> bytes:
    from masktrt.runtime.indexed_png import davis_palette

    return davis_palette()


DAVIS_PALETTE = _davis_palette()


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
    invalid: Any = None  # (N,) 0/1: outputs or decoded box not finite (4-column scores.txt)


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
    mask_files = _images(_mask_folder(root))
    if mask_files:
        masks = match_masks(mask_files, frame_names)
    return Predictions(root, boxes, polygons, scores, flags, masks, invalid)


def _mask_folder(root: Path) -> Path:
    """masks/ (plain layout), else the one sequence folder of indexed masks (davis, ytvos)."""
    if (root / MASKS_DIR).is_dir():
        return root / MASKS_DIR
    folders = sorted(p for p in root.iterdir()
                     if p.is_dir() and not p.name.startswith(".") and _images(p))
    if len(folders) > 1:
        raise MasktrtError(f"'{root}' holds {len(folders)} folders of masks "
                           f"({', '.join(p.name for p in folders[:3])}...) but one run's outputs",
                           "pass the --out folder of a single 'masktrt track' run")
    return folders[0] if folders else root / MASKS_DIR


def read_predicted_mask(path: str | Path) -> np.ndarray:
    """A predicted mask as HxW uint8 {0,1}: 0/255 (plain), or indexed where any object id > 0 is
    foreground (OpenCV expands the palette to colours: foreground = not id 0's colour)."""
    import cv2

    from masktrt.runtime import indexed_png
    from masktrt.runtime.sequences import read_mask

    palette = indexed_png.palette(path)
    image = cv2.imread(str(path), cv2.IMREAD_COLOR) if palette else None
    if image is None or len(palette) < 3:
        return read_mask(path)
    background = np.frombuffer(palette[:3], np.uint8)[::-1]  # RGB -> OpenCV's BGR
    return np.any(image != background, axis=2).astype(np.uint8)


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
