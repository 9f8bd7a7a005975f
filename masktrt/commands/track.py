"""Track one target through an image folder, a video file or a camera.

Writes into --out: masks/<frame>.png (0/255; named like the input images, else 00000.png),
polygons.txt (x1,y1,...,x4,y4 per frame), boxes.txt (x,y,w,h), scores.txt (score,lost,skipped
with 0/1 flags) and track.mp4 (mask, polygon, score, fps, LOST tag). Line i belongs to frame i;
frame 0 is the given box itself. A frame that cannot be decoded repeats the previous result and
is marked skipped, so every output stays aligned with the input.
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from masktrt.errors import MasktrtError

HELP = "track a target (box on the first frame) through frames, a video or a camera"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--frames", metavar="DIR", help="folder of images, sorted by name")
    source.add_argument("--video", metavar="FILE", help="video file")
    source.add_argument("--camera", metavar="INDEX", type=int, help="camera index (cv2.VideoCapture)")
    parser.add_argument("--box", required=True, metavar="X,Y,W,H",
                        help="target on the first frame: top-left corner, width, height (pixels)")
    weights = parser.add_mutually_exclusive_group()
    weights.add_argument("--checkpoint", metavar="PATH",
                         help="SiamMask checkpoint (.pth or .safetensors); default: the shipped "
                              "demo checkpoint")
    weights.add_argument("--random-weights", action="store_true",
                         help="seeded random weights instead of the demo checkpoint")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random weights")
    parser.add_argument("--preset", default="davis", help="tracker hyper-parameters: davis, vot, vot18")
    parser.add_argument("--backend", default="torch", help="network backend: torch, onnxruntime, tensorrt")
    parser.add_argument("--onnx", metavar="DIR", help="exported graphs for --backend onnxruntime "
                        "(from 'masktrt export')")
    parser.add_argument("--engines", metavar="DIR", help="built engines for --backend tensorrt "
                        "(from 'masktrt build')")
    parser.add_argument("--max-frames", type=int, metavar="N", help="stop after N frames (incl. the first)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder (created)")
    parser.add_argument("--no-video", action="store_true", help="do not write track.mp4")


def parse_box(text: str) -> tuple[float, float, float, float]:
    """'x,y,w,h' -> four floats; anything else is a one-line error."""
    parts = [p.strip() for p in str(text).split(",")]
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 4:
        raise MasktrtError(f"--box '{text}' is not x,y,w,h",
                           "give four comma-separated numbers, e.g. --box 205,151,17,50")
    return values  # type: ignore[return-value]


def backend_options(args: argparse.Namespace) -> dict[str, Any]:
    """Keyword arguments for get_backend, per backend: each factory takes only its own."""
    if args.backend == "onnxruntime":
        if not getattr(args, "onnx", None):
            raise MasktrtError("--backend onnxruntime needs the exported graphs",
                               "pass --onnx DIR (made by 'masktrt export --out DIR')")
        return {"onnx_dir": args.onnx}
    if args.backend == "tensorrt":
        if not getattr(args, "engines", None):
            raise MasktrtError("--backend tensorrt needs built engines",
                               "pass --engines DIR (made by 'masktrt build')")
        return {"engine_dir": args.engines}
    from masktrt.paths import resolve_weights

    return {"checkpoint": resolve_weights(args.checkpoint, getattr(args, "random_weights", False)),
            "seed": args.seed}


def run(args: argparse.Namespace) -> int:
    return run_with_backend(args, backend=None)


def run_with_backend(args: argparse.Namespace, backend: Any = None) -> int:
    """The command; `backend` (any object with template/search/refine) replaces get_backend in tests.

    Inputs are validated before the backend is built, so a bad box or folder fails instantly.
    """
    from tqdm import tqdm

    from masktrt.specs.siammask import preset
    from masktrt.runtime.trackers.siammask import SiamMaskTracker, check_box, check_frame
    from masktrt.runtime.video import open_source

    box = parse_box(args.box)
    if args.max_frames is not None and args.max_frames < 1:
        raise MasktrtError(f"--max-frames {args.max_frames} is not positive", "give N >= 1")
    config = preset(args.preset)

    def warn(message: str) -> None:
        tqdm.write(f"warning: {message}", file=sys.stderr)

    with open_source(args.frames, args.video, args.camera, warn=warn) as source:
        frames = iter(source)
        first_index, first = next(frames, (0, None))
        if first is None:
            raise MasktrtError(f"cannot read the first frame of {describe_source(args)}",
                               "the first frame must be a readable image: the box is drawn on it")
        check_frame(first)
        check_box(box, first.shape[:2])
        if backend is None:
            backend = create_backend(args)
        tracker = SiamMaskTracker(backend, config)
        outputs = SequenceOutputs(Path(args.out), source.fps, write_video=not args.no_video)
        total = len(source) or None
        if args.max_frames is not None:
            total = min(total, args.max_frames) if total else args.max_frames
        with outputs, tqdm(total=total, unit="frame", file=sys.stderr, disable=None) as bar:
            summary = track_frames(tracker, box, first, frames, source.frame_name, outputs,
                                   args.max_frames, bar.update)
    summary.print(describe_source(args), getattr(backend, "name", args.backend), config.name,
                  Path(args.out), not args.no_video)
    return 0


def describe_source(args: argparse.Namespace) -> str:
    if args.frames is not None:
        return f"'{args.frames}'"
    if args.video is not None:
        return f"'{args.video}'"
    return f"camera {args.camera}"


def create_backend(args: argparse.Namespace) -> Any:
    from masktrt.runtime.backends import get_backend

    options = backend_options(args)
    if options.get("checkpoint", "n/a") is None:
        print(f"warning: using seeded random weights (seed {args.seed}): the masks and boxes "
              "are meaningless; pass --checkpoint PATH", file=sys.stderr)
    return get_backend(args.backend, **options)


@dataclass
class TrackSummary:
    frames: int = 0
    skipped: int = 0
    lost: int = 0
    score_sum: float = 0.0
    wall_s: float = 0.0
    tracker_s: float = 0.0
    extra: dict = field(default_factory=dict)

    def print(self, source: str, backend: str, preset_name: str, out: Path, video: bool) -> None:
        tracked = max(self.frames - 1 - self.skipped, 0)
        mean = self.score_sum / tracked if tracked else float("nan")
        fps = self.frames / self.wall_s if self.wall_s > 0 else float("nan")
        calls = self.frames - self.skipped  # init + track calls
        tfps = calls / self.tracker_s if self.tracker_s > 0 else float("nan")
        files = "masks/, polygons.txt, boxes.txt, scores.txt" + (", track.mp4" if video else "")
        print(f"tracked {self.frames} frames of {source} (backend {backend}, preset {preset_name}): "
              f"{self.skipped} skipped, {self.lost} lost, mean score {mean:.3f}")
        print(f"wall time {self.wall_s:.2f} s ({fps:.1f} fps incl. reading and writing); "
              f"tracker {self.tracker_s:.2f} s ({tfps:.1f} fps)")
        print(f"outputs in {out}: {files}")


def track_frames(tracker: Any, box: tuple[float, float, float, float], first: Any, frames: Any,
                 frame_name: Any, outputs: SequenceOutputs, max_frames: int | None,
                 progress: Any = lambda n: None) -> TrackSummary:
    """Init on `first`, track the rest of `frames` ((index, frame|None) pairs), write everything."""
    from masktrt.runtime.trackers.siammask import initial_result

    summary = TrackSummary()
    start = time.perf_counter()
    state = tracker.init(first, box)
    summary.tracker_s += time.perf_counter() - start
    result = initial_result(state)
    mask = box_mask(first.shape[:2], result)
    outputs.write(frame_name(0), first, result, mask, None, False)
    summary.frames, last_frame = 1, first
    progress(1)
    for index, frame in frames:
        if max_frames is not None and summary.frames >= max_frames:
            break
        skipped = frame is None
        if skipped:
            summary.skipped += 1
        else:
            t0 = time.perf_counter()
            state, result = tracker.track(frame, state)
            summary.tracker_s += time.perf_counter() - t0
            summary.score_sum += result.score
            summary.lost += int(result.lost)
            last_frame, mask = frame, result.mask
        tracked = summary.frames - summary.skipped
        fps = tracked / summary.tracker_s if summary.tracker_s > 0 else None
        outputs.write(frame_name(index), last_frame, result, mask, fps, skipped)
        summary.frames += 1
        progress(1)
    summary.wall_s = time.perf_counter() - start
    return summary


def box_mask(frame_hw: tuple[int, int], result: Any) -> Any:
    """Frame 0 has no network mask: the given box, filled, is the best mask we know."""
    import numpy as np

    mask = np.zeros(frame_hw, np.uint8)
    x, y, w, h = result.xywh
    x0, y0 = max(int(round(x)), 0), max(int(round(y)), 0)
    mask[y0:max(int(round(y + h)), 0), x0:max(int(round(x + w)), 0)] = 1
    return mask


class SequenceOutputs:
    """The per-frame files of one run; text files are flushed per line so a crash keeps them."""

    def __init__(self, out: Path, fps: float, write_video: bool = True) -> None:
        from masktrt.runtime.video import Mp4Writer

        self.out = out
        self.masks = out / "masks"
        try:
            self.masks.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise MasktrtError(f"cannot create output folder '{out}' ({exc.strerror})",
                               "pass a writable --out folder") from exc
        self.files = {name: open(out / f"{name}.txt", "w", buffering=1)
                      for name in ("polygons", "boxes", "scores")}
        self.video = Mp4Writer(out / "track.mp4", fps) if write_video else None

    def write(self, name: str, frame: Any, result: Any, mask: Any, fps: float | None,
              skipped: bool) -> None:
        import cv2

        from masktrt.runtime.video import annotate

        if mask is not None:
            path = self.masks / f"{name}.png"
            if not cv2.imwrite(str(path), mask * 255):
                raise MasktrtError(f"cannot write '{path}'", "check the --out folder is writable")
        self.files["polygons"].write(",".join(f"{v:.3f}" for v in result.polygon.ravel()) + "\n")
        self.files["boxes"].write(",".join(f"{v:.3f}" for v in result.xywh) + "\n")
        self.files["scores"].write(f"{result.score:.6f},{int(result.lost)},{int(skipped)}\n")
        if self.video is not None:
            self.video.write(annotate(frame, result if mask is None else _with_mask(result, mask),
                                      fps, skipped))

    def close(self) -> None:
        for f in self.files.values():
            f.close()
        if self.video is not None:
            self.video.close()

    def __enter__(self) -> SequenceOutputs:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _with_mask(result: Any, mask: Any) -> Any:
    from dataclasses import replace

    return result if result.mask is mask else replace(result, mask=mask)
