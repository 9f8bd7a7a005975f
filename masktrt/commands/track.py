"""Track one target through an image folder, a video file or a camera.

Writes into --out: masks/<frame>.png (0/255; named like the input images, else 00000.png),
polygons.txt (x1,y1,...,x4,y4 per frame), boxes.txt (x,y,w,h), scores.txt (score,lost,skipped,invalid
with 0/1 flags) and track.mp4 (mask, polygon, score, fps, LOST tag). Line i belongs to frame i;
frame 0 is the given box itself (or the given --mask). A frame that cannot be decoded repeats
the previous result and is marked skipped, so every output stays aligned with the input; a frame
whose network outputs, or the box decoded from them, are not finite (NaN/Inf) keeps the last good
box, is marked lost and invalid, and tracking goes on from the last good state. A folder that already holds a run's outputs is refused (old and
new per-frame files would mix) unless --overwrite, which removes masktrt's own files only.
--format davis|ytvos writes the masks as indexed PNGs (object id 1, DAVIS palette) into
<out>/<sequence>/ instead, the layout the DAVIS and YouTube-VOS evaluations read (see
runtime/outputs.py); the sequence is named after the input folder (its parent when the folder is
called frames/) or the video file.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

from masktrt.commands import args as common
from masktrt.errors import MasktrtError

HELP = "track a target (box on the first frame) through frames, a video or a camera"

# kept importable from here: tests and scripts use them as track.parse_box / track.open_runner_for
parse_box = common.parse_box
backend_options = common.backend_options
open_runner_for = common.open_runner_for


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common.add_source_arguments(parser)
    common.add_tracker_arguments(parser)
    common.add_weights_arguments(parser)
    common.add_backend_arguments(parser)
    common.add_option_argument(parser)  # torch only: graphs carry the options they were exported with
    common.add_max_frames_argument(parser, "stop after N frames (incl. the first)")
    common.add_output_arguments(parser, "output folder (created)", video=True, formats=True)


@dataclass(frozen=True)
class TrackJob:
    """What to track and where the outputs go: everything `masktrt track` and `demo` decide."""

    box: tuple[float, float, float, float]
    out: Path
    frames: str | None = None
    video: str | None = None
    camera: int | None = None
    tracker: str = common.DEFAULT_TRACKER
    preset: Any = None  # a preset object or name; None: the tracker's default
    max_frames: int | None = None
    write_video: bool = True
    overwrite: bool = False
    result_format: str = "plain"  # plain | davis | ytvos (runtime.outputs.FORMATS)
    init_mask: str | None = None  # first-frame mask PNG, for trackers that start from a mask
    tracker_given: bool = False  # --tracker was given: it must match the runner's contract

    def preset_name(self) -> str:
        if self.preset is None:
            from masktrt import registry

            return registry.spec(self.tracker).default_preset
        return self.preset if isinstance(self.preset, str) else self.preset.name

    def bind(self, runner: Any, owns_runner: bool = True) -> Any:
        """The tracker over `runner` (runtime.session.bind: the runner's recorded tracker, which
        an explicit --tracker must name, and its preset unless one was asked for)."""
        from masktrt.runtime.session import bind

        return bind(runner, self.tracker, self.preset, explicit=self.tracker_given,
                    owns_runner=owns_runner)

    def sequence_name(self) -> str:
        """The sequence folder of indexed masks: the input folder's name (its parent's for a
        masktrt sequence's frames/), the video's stem, or camera<N>."""
        if self.frames is not None:
            folder = Path(self.frames).resolve()
            return folder.parent.name if folder.name == "frames" else folder.name
        return Path(self.video).stem if self.video is not None else f"camera{self.camera}"

    def mask_layout(self) -> Any:
        from masktrt.runtime.outputs import mask_layout

        layout = mask_layout(self.result_format, self.sequence_name())
        if self.frames is not None and (self.out / layout.folder).resolve() == Path(self.frames).resolve():
            raise MasktrtError(f"the masks would be written into the input folder '{self.frames}'",
                               "choose another --out folder")
        return layout

    def describe_source(self) -> str:
        if self.frames is not None:
            return f"'{self.frames}'"
        if self.video is not None:
            return f"'{self.video}'"
        return f"camera {self.camera}"


@dataclass(frozen=True)
class TrackRun:
    """What a finished run reports: the loop's summary, the job as run, runner and codec."""

    summary: Any
    job: TrackJob
    runner: str | None
    codec: str | None


def job_from(args: argparse.Namespace) -> TrackJob:
    """The job the command line describes; the box and frame count are checked here."""
    common.check_max_frames(args.max_frames)
    common.check_weights_unused(args)
    preset = common.preset_of(args) if args.preset is not None or args.backend == "torch" else None
    return TrackJob(parse_box(args.box), Path(args.out), args.frames, args.video, args.camera,
                    args.tracker, preset, args.max_frames, not args.no_video,
                    getattr(args, "overwrite", False), getattr(args, "format", "plain"),
                    getattr(args, "mask", None), getattr(args, "tracker_given", False))


def run(args: argparse.Namespace) -> int:
    return run_with_runner(args, runner=None)


def run_with_runner(args: argparse.Namespace, runner: Any = None) -> int:
    """The command; `runner` (any graph runner, which the caller keeps and closes) replaces
    the one the arguments name in tests.

    Inputs are validated before the runner is opened, so a bad box or folder fails instantly.
    """
    job = job_from(args)
    if runner is not None:
        run = track_job(job, lambda: runner, owns_runner=False)
    else:
        run = track_job(job, lambda: open_runner_for(args))
    print_summary(run, args.backend)
    return 0


def track_job(job: TrackJob, open_runner: Callable[[], Any], owns_runner: bool = True) -> TrackRun:
    """Track `job` with the runner `open_runner()` opens (after the first frame and the output
    folder are checked, so bad input fails before any model loads). The runner is closed
    afterwards unless `owns_runner` is False (the caller keeps it)."""
    from masktrt.runtime.outputs import prepare_folder
    from masktrt.runtime.video import open_source

    with open_source(job.frames, job.video, job.camera, warn=_warn) as source:
        frames = iter(source)
        first = _first_frame(frames, job)
        mask = first_mask(job, first[1])
        prepare_folder(job.out, job.overwrite, job.mask_layout())
        with job.bind(open_runner(), owns_runner) as tracker:
            job = replace(job, tracker=tracker.name, preset=tracker.preset)
            summary, codec = _track_source(job, tracker.core, source, first, frames, mask)
    return TrackRun(summary, job, getattr(tracker.runner, "name", None), codec)


def _warn(message: str) -> None:
    from tqdm import tqdm

    tqdm.write(f"warning: {message}", file=sys.stderr)


def _first_frame(frames: Any, job: TrackJob) -> tuple[int, Any]:
    """The first (index, frame), checked with the box before any backend is built."""
    from masktrt.runtime.trackers.checks import check_box, check_frame

    index, first = next(frames, (0, None))
    if first is None:
        raise MasktrtError(f"cannot read the first frame of {job.describe_source()}",
                           "the first frame must be a readable image: the box is drawn on it")
    check_frame(first)
    check_box(job.box, first.shape[:2])
    return index, first


def first_mask(job: TrackJob, frame: Any) -> Any:
    """--mask read and checked against the first frame (None without one)."""
    if job.init_mask is None:
        return None
    from masktrt.runtime.sequences import read_mask

    mask = read_mask(job.init_mask)
    if mask.shape != frame.shape[:2]:
        raise MasktrtError(f"--mask '{job.init_mask}' is {mask.shape[1]}x{mask.shape[0]}, the first "
                           f"frame {frame.shape[1]}x{frame.shape[0]}",
                           "give the first frame's mask at the frame's size")
    if not mask.any():
        raise MasktrtError(f"--mask '{job.init_mask}' is empty (no nonzero pixel)",
                           "give a mask whose nonzero pixels cover the target")
    return mask


def _track_source(job: TrackJob, tracker: Any, source: Any, first: tuple[int, Any],
                  frames: Any, mask: Any = None) -> Any:
    from itertools import chain

    from tqdm import tqdm

    from masktrt.runtime import loop
    from masktrt.runtime.outputs import SequenceOutputs
    total = len(source) or None
    if job.max_frames is not None:
        total = min(total, job.max_frames) if total else job.max_frames
    layout = job.mask_layout()
    with SequenceOutputs(job.out, source.fps, job.write_video, overwrite=True,
                         layout=layout) as outputs, \
            tqdm(total=total, unit="frame", file=sys.stderr, disable=None) as bar:
        writer = StepWriter(outputs, lambda index: layout.stem(source.frame_name(index), index))
        summary = loop.run(tracker, chain([first], frames), job.box, max_frames=job.max_frames,
                           on_step=writer, progress=bar.update, mask=mask)
    return summary, outputs.codec


class StepWriter:
    """Writes each loop step into the output folder; a skipped step repeats the last mask."""

    def __init__(self, outputs: Any, frame_name: Callable[[int], str]) -> None:
        self.outputs, self.frame_name, self.mask = outputs, frame_name, None

    def __call__(self, step: Any, summary: Any) -> None:
        from masktrt.runtime.outputs import box_mask

        if step.number == 0:  # the given first-frame mask, else the filled box
            given = getattr(step.result, "mask", None)
            self.mask = given if given is not None else box_mask(step.frame.shape[:2], step.result)
            self.outputs.write(self.frame_name(step.index), step.frame, step.result, self.mask,
                               None, False)
            return
        if not step.skipped:
            self.mask = step.result.mask
        tracked = summary.frames - 1 - summary.skipped
        fps = tracked / summary.tracker_s if summary.tracker_s > 0 else None
        self.outputs.write(self.frame_name(step.index), step.frame, step.result, self.mask, fps,
                           step.skipped)


def print_summary(run: TrackRun, backend: str) -> None:
    """Three lines: counts and mean score, wall and tracker speed, where the outputs are (and
    the MP4's codec: H.264 plays in browsers, mp4v does not)."""
    from masktrt.runtime.outputs import describe, mask_layout

    summary, job, backend = run.summary, run.job, run.runner or backend
    fps = summary.frames / summary.wall_s if summary.wall_s > 0 else float("nan")
    tfps = summary.calls / summary.tracker_s if summary.tracker_s > 0 else float("nan")
    preset = job.preset_name()
    print(f"tracked {summary.frames} frames of {job.describe_source()} (backend {backend}, "
          f"preset {preset}): {summary.skipped} skipped, {summary.lost} lost "
          f"({summary.invalid} invalid: non-finite network outputs, or a box, mask or polygon "
          f"that decoded to non-finite values), mean score {summary.mean_score:.3f}")
    print(f"wall time {summary.wall_s:.2f} s ({fps:.1f} fps incl. reading and writing); "
          f"tracker {summary.tracker_s:.2f} s ({tfps:.1f} fps)")
    codec = f" (video codec {run.codec}{', H.264' if run.codec == 'avc1' else ''})" if run.codec else ""
    layout = mask_layout(job.result_format, job.sequence_name())
    print(f"outputs in {job.out}: {describe(job.write_video, layout)}{codec}")
