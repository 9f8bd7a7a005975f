"""Score a tracker's predictions against a sequence's ground truth (DAVIS J/F, OTB AUC, VOT IoU).

Reads the folder `masktrt track` writes (see masktrt.benchmarks.evaluate for its layout), skips
frame 0 (the initialisation frame), writes eval.json and eval.md to --out (default: the
predictions folder) and prints a summary.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from masktrt.arg_types import COUNT

HELP = "score predictions against ground truth (J, F, box IoU/AUC, polygon IoU)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sequence", required=True, type=Path,
                        help="sequence folder: frames/ plus groundtruth.txt and/or masks/")
    parser.add_argument("--pred", required=True, type=Path,
                        help="predictions folder written by 'masktrt track'")
    parser.add_argument("--out", type=Path, default=None,
                        help="where eval.json and eval.md go (default: the --pred folder)")
    parser.add_argument("--kind", choices=["davis", "vot", "otb"], default=None,
                        help="ground-truth style; detected from the folder when omitted")
    parser.add_argument("--max-frames", type=COUNT, default=None, metavar="N",
                        help="score only the first N frames (a 'masktrt track --max-frames N' run)")


def run(args: argparse.Namespace) -> int:
    from masktrt.benchmarks.evaluate import evaluate, load_predictions, summary_rows, write_reports
    from masktrt.benchmarks.report import text_table
    from masktrt.runtime.sequences import load_sequence

    sequence = load_sequence(args.sequence, kind=args.kind)
    if args.max_frames is not None:
        sequence = sequence.head(args.max_frames)
    predictions = load_predictions(args.pred, [p.stem for p in sequence.frame_paths])
    result = evaluate(sequence, predictions)
    if not result["evaluated_frames"]:
        from masktrt.errors import MasktrtError

        raise MasktrtError(f"nothing to score: no frame of {sequence.name} after frame 0 has "
                           "both ground truth and a prediction",
                           "pass the folder 'masktrt track' wrote for this sequence")
    out = args.out or args.pred
    json_path, md_path = write_reports(result, out)
    print(f"{sequence.name} ({sequence.kind}): {result['evaluated_frames']} frames scored "
          f"(frame 0 is the initialisation frame)")
    print(text_table(["metric", "value"], summary_rows(result)), end="")
    print(f"wrote {json_path} and {md_path}")
    return 0
