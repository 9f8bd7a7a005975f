"""Frame sources (image folder, video file, camera) and the annotated MP4 writer.

Sources read lazily, one frame at a time, so a long video or a live camera never sits in memory.
A frame that fails to decode mid-sequence is reported on one warning line naming its index and
yielded as None: outputs stay aligned with the input (frame i -> line i), and the caller decides
what to do (the track command repeats the previous result and marks the frame skipped).
"""
from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np

from masktrt.errors import MasktrtError
from masktrt.runtime.frames import list_frames
from masktrt.types import FrameResult

Warn = Callable[[str], None]
DEFAULT_FPS = 30.0  # for sources that do not know their rate (image folders, some cameras)
# A source of unknown length (camera, stream) failing this often in a row has ended or died:
# about a second of video. A file of known length is read to its last frame whatever fails.
MAX_CONSECUTIVE_FAILURES = 30


def warn_stderr(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


class FrameSource:
    """Base of the three kinds of source: iterate to get (index, frame or None)."""

    def __init__(self, warn: Warn = warn_stderr) -> None:
        self.warn = warn

    def __len__(self) -> int:
        """Number of frames when known, else 0 (cameras, streams)."""
        return 0

    @property
    def fps(self) -> float:
        return DEFAULT_FPS

    def frame_name(self, index: int) -> str:
        """The file stem outputs of frame `index` use: the input's name, else a 5-digit index."""
        return f"{index:05d}"

    def __iter__(self) -> Iterator[tuple[int, np.ndarray | None]]:  # pragma: no cover
        raise NotImplementedError

    def close(self) -> None:
        """Release the device or file; sources are also context managers."""

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ImageFolderSource(FrameSource):
    """The images of a folder in lexical order (DAVIS/VOT/OTB layouts), decoded one at a time."""

    def __init__(self, folder: str | Path, warn: Warn = warn_stderr) -> None:
        super().__init__(warn)
        self.paths = list_frames(folder)

    def __len__(self) -> int:
        return len(self.paths)

    def frame_name(self, index: int) -> str:
        return self.paths[index].stem

    def __iter__(self) -> Iterator[tuple[int, np.ndarray | None]]:
        for index, path in enumerate(self.paths):
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                self.warn(f"frame {index} ('{path.name}') could not be decoded; skipping it")
            yield index, image


class CaptureSource(FrameSource):
    """cv2.VideoCapture over a video file (target = path) or a camera (target = index).

    A failed read is only reported once a later read succeeds: failures at the end are the end
    of the stream (container frame counts are estimates), failures in between are lost frames.
    `read()` returning False does not mean the end of a file: FFmpeg consumes the undecodable
    packet and the next read returns the next frame. So a file is read until its frame count
    (the container's, an estimate: reading stops early only after a run of failures reaching it),
    a camera until MAX_CONSECUTIVE_FAILURES in a row.
    """

    def __init__(self, target: str | int, warn: Warn = warn_stderr) -> None:
        super().__init__(warn)
        self.target = target
        if isinstance(target, str) and not Path(target).is_file():
            raise MasktrtError(f"video file '{target}' does not exist", "pass the path of a video file")
        self.capture = cv2.VideoCapture(target)
        if not self.capture.isOpened():
            what = f"video '{target}'" if isinstance(target, str) else f"camera {target}"
            raise MasktrtError(f"cannot open {what}",
                               "check the path or index, and that OpenCV can decode it")

    def __len__(self) -> int:
        return max(0, int(self.capture.get(cv2.CAP_PROP_FRAME_COUNT)))

    @property
    def fps(self) -> float:
        rate = float(self.capture.get(cv2.CAP_PROP_FPS))
        return rate if 0 < rate < 1000 else DEFAULT_FPS

    def _may_continue(self, index: int, pending: int) -> bool:
        """Whether to try another read after `pending` failures in a row from frame `index`."""
        count = len(self)
        if count > 0:
            return index + pending < count
        return pending < MAX_CONSECUTIVE_FAILURES

    def __iter__(self) -> Iterator[tuple[int, np.ndarray | None]]:
        index, pending = 0, 0
        while self._may_continue(index, pending):
            ok, frame = self.capture.read()
            if not ok or frame is None:
                pending += 1
                continue
            for missing in range(index, index + pending):
                self.warn(f"frame {missing} could not be decoded; skipping it")
                yield missing, None
            index += pending
            pending = 0
            yield index, frame
            index += 1

    def close(self) -> None:
        self.capture.release()


def open_source(frames: str | Path | None = None, video: str | Path | None = None,
                camera: int | None = None, warn: Warn = warn_stderr) -> FrameSource:
    """Exactly one of folder / video file / camera index -> a lazy frame source."""
    given = [v is not None for v in (frames, video, camera)]
    if sum(given) != 1:
        raise MasktrtError("give exactly one frame source", "use --frames DIR, --video FILE or --camera INDEX")
    if frames is not None:
        return ImageFolderSource(frames, warn)
    if video is not None:
        return CaptureSource(str(video), warn)
    return CaptureSource(int(camera), warn)


# ---------------------------------------------------------------- annotation and MP4 output
MASK_COLOUR = (0, 0, 255)  # BGR red, as the official demo paints the mask
POLYGON_COLOUR = (0, 255, 0)
LOST_COLOUR = (0, 0, 255)
TEXT_COLOUR = (255, 255, 255)


def annotate(frame: np.ndarray, result: FrameResult, fps: float | None = None,
             skipped: bool = False) -> np.ndarray:
    """A copy of frame with the mask overlay, rotated polygon, score/fps text and a LOST tag."""
    canvas = frame.copy()
    if result.mask is not None and result.mask.shape == canvas.shape[:2]:
        on = result.mask.astype(bool)
        canvas[on] = (0.5 * canvas[on] + 0.5 * np.array(MASK_COLOUR)).astype(np.uint8)
    corners = np.round(np.asarray(result.polygon, dtype=np.float64)).astype(np.int32).reshape(-1, 1, 2)
    cv2.polylines(canvas, [corners], True, POLYGON_COLOUR, 2, cv2.LINE_AA)
    lines = [f"score {result.score:.3f}"]
    if fps is not None:
        lines.append(f"{fps:.1f} fps")
    if skipped:
        lines.append("SKIPPED (frame unreadable)")
    for i, text in enumerate(lines):
        draw_label(canvas, text, (8, 22 + 22 * i), TEXT_COLOUR)
    if result.lost:
        draw_label(canvas, "LOST", (canvas.shape[1] - 70, 26), LOST_COLOUR)
    return canvas


TEXT_SCALE = 0.6
LABEL_PAD = 3  # pixels of dark label around each text line


def draw_label(canvas: np.ndarray, text: str, origin: tuple[int, int], colour: tuple[int, int, int]) -> None:
    """Text on a filled dark label so it reads on any background. (An outline drawn under the
    text, the usual trick, looks like two overlapping copies of it after MP4 compression.)"""
    (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, TEXT_SCALE, 1)
    x, y = origin
    cv2.rectangle(canvas, (x - LABEL_PAD, y - h - LABEL_PAD), (x + w + LABEL_PAD, y + base),
                  (0, 0, 0), cv2.FILLED)
    cv2.putText(canvas, text, origin, cv2.FONT_HERSHEY_SIMPLEX, TEXT_SCALE, colour, 1, cv2.LINE_AA)


# H.264 plays in every browser; OpenCV's own FFmpeg build often lacks an H.264 encoder, then
# MPEG-4 part 2 ('mp4v', plays in VLC/ffplay, not in most browsers) is what is left.
CODECS = ("avc1", "mp4v")


@contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence file descriptor 2 (FFmpeg and OpenCV print from C while probing encoders)."""
    sys.stderr.flush()
    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def open_video_writer(path: Path, fps: float, size: tuple[int, int],
                      codecs: tuple[str, ...] = CODECS) -> tuple[cv2.VideoWriter, str]:
    """The first of `codecs` this OpenCV can encode: (opened writer, codec's fourcc)."""
    for codec in codecs:
        with _quiet_stderr():
            writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), fps, size)
        if writer.isOpened():
            return writer, codec
        writer.release()
    raise MasktrtError(f"cannot write video '{path}' (no encoder for {', '.join(codecs)})",
                       "check the folder is writable, or pass --no-video")


class Mp4Writer:
    """cv2.VideoWriter opened on the first frame (its size sets the video's), H.264 where the
    installed OpenCV can encode it, else 'mp4v'; `codec` says which."""

    def __init__(self, path: str | Path, fps: float = DEFAULT_FPS) -> None:
        self.path = Path(path)
        self.fps = float(fps)
        self.codec: str | None = None
        self._writer: cv2.VideoWriter | None = None
        self._size: tuple[int, int] | None = None

    def write(self, frame: np.ndarray) -> None:
        size = (int(frame.shape[1]), int(frame.shape[0]))
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer, self.codec = open_video_writer(self.path, self.fps, size)
            self._size = size
        if size != self._size:
            raise MasktrtError(f"frame size {size} differs from the video's {self._size}",
                               "all frames of one video must have the same size")
        self._writer.write(np.ascontiguousarray(frame))

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None

    def __enter__(self) -> Mp4Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
