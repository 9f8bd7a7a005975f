"""Track the built-in demo: a generated sequence (exact masks, seeded) with the shipped weights.

No arguments needed. Writes the tracker's outputs (masks, polygons, boxes, scores, an annotated
track.mp4) and an evaluation report (J, F, box IoU) into --out, and prints both summaries.
Falls back to seeded random weights, with a warning, in a build without the demo checkpoint.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from masktrt.arg_types import COUNT
from masktrt.commands import args as common
from masktrt.registry import DEFAULT_TRACKER

HELP = "track the built-in synthetic demo sequence and score it (no arguments needed)"
DEMO_TRACKER = DEFAULT_TRACKER  # its shipped demo weights are the ones that track best
DEMO_OUT = "out/demo"  # the demo's own folder: rerunning the demo replaces it


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max-frames", type=COUNT, default=None, metavar="N",
                        help="track only the first N frames")
    common.add_weights_arguments(parser)
    common.add_output_arguments(parser, "output folder", default=DEMO_OUT, video=True)


def run(args: argparse.Namespace) -> int:
    from masktrt.commands import track
    from masktrt.runtime.backends import open_runner
    from masktrt.paths import demo_weights
    from masktrt.runtime.sequences import load_sequence
    from masktrt.training.synthetic import demo_sequence_dir

    folder = demo_sequence_dir()
    sequence = load_sequence(folder)
    if args.max_frames is not None:
        sequence = sequence.head(args.max_frames)
    # not resolve_weights: the demo falls back to random weights (with a warning) rather than
    # failing in a build without the checkpoint
    checkpoint = args.checkpoint or (None if args.random_weights else demo_weights(DEMO_TRACKER))
    job = track.TrackJob(tuple(float(v) for v in sequence.init_box()), Path(args.out),
                         frames=str(folder / "frames"), tracker=DEMO_TRACKER,
                         max_frames=len(sequence), write_video=not args.no_video,
                         overwrite=args.overwrite or args.out == DEMO_OUT)
    print(f"demo sequence: {folder} ({len(sequence)} frames); weights: "
          f"{checkpoint if checkpoint else 'seeded random (no demo checkpoint in this build)'}")
    options = common.torch_options(checkpoint, args.seed, DEMO_TRACKER)
    run = track.track_job(job, lambda: open_runner("torch", **options))
    track.print_summary(run, "torch")
    score(sequence, Path(args.out))
    return 0


def score(sequence, out: Path) -> None:
    """Evaluate the run's output folder against the sequence's exact masks; print and write."""
    from masktrt.benchmarks import evaluate as scoring
    from masktrt.benchmarks.report import text_table
    from masktrt.runtime.outputs import load_predictions

    predictions = load_predictions(out, [p.stem for p in sequence.frame_paths])
    result = scoring.evaluate(sequence, predictions)
    json_path, md_path = scoring.write_reports(result, out)
    print(text_table(["metric", "value"], scoring.summary_rows(result)), end="")
    print(f"report: {json_path}, {md_path}")
