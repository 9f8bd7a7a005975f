"""Track the built-in demo: a generated sequence (exact masks, seeded) with the shipped weights.

No arguments needed. Writes the tracker's outputs (masks, polygons, boxes, scores, an annotated
track.mp4) and an evaluation report (J, F, box IoU) into --out, and prints both summaries.
Falls back to seeded random weights, with a warning, in a build without the demo checkpoint.
"""
from __future__ import annotations

import argparse
from pathlib import Path

HELP = "track the built-in synthetic demo sequence and score it (no arguments needed)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="out/demo", metavar="DIR", help="output folder")
    parser.add_argument("--frames", type=int, default=None, metavar="N",
                        help="track only the first N frames")
    parser.add_argument("--checkpoint", metavar="PATH",
                        help="weights to use instead of the shipped demo checkpoint")
    parser.add_argument("--random-weights", action="store_true",
                        help="use seeded random weights instead of the shipped checkpoint")
    parser.add_argument("--no-video", action="store_true", help="do not write track.mp4")


def run(args: argparse.Namespace) -> int:
    from masktrt.benchmarks import evaluate as scoring
    from masktrt.commands import track
    from masktrt.paths import resolve_weights
    from masktrt.runtime.sequences import load_sequence
    from masktrt.training.synthetic import demo_sequence_dir

    folder = demo_sequence_dir()
    sequence = load_sequence(folder)
    if args.frames is not None:
        sequence = sequence.head(args.frames)
    checkpoint = resolve_weights(args.checkpoint, args.random_weights)
    x, y, w, h = sequence.init_box()
    track_args = argparse.Namespace(
        frames=str(folder / "frames"), video=None, camera=None, box=f"{x},{y},{w},{h}",
        checkpoint=str(checkpoint) if checkpoint else None, random_weights=checkpoint is None,
        seed=0, preset="davis", backend="torch", onnx=None, engines=None,
        max_frames=len(sequence), out=args.out, no_video=args.no_video)
    print(f"demo sequence: {folder} ({len(sequence)} frames); weights: "
          f"{checkpoint if checkpoint else 'seeded random (no demo checkpoint in this build)'}")
    track.run(track_args)
    predictions = scoring.load_predictions(args.out, [p.stem for p in sequence.frame_paths])
    result = scoring.evaluate(sequence, predictions)
    json_path, md_path = scoring.write_reports(result, Path(args.out))
    from masktrt.benchmarks.report import text_table

    print(text_table(["metric", "value"], scoring.summary_rows(result)), end="")
    print(f"report: {json_path}, {md_path}")
    return 0
