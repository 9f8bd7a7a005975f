"""Score tracking against ground truth: a run's predictions, or a tracker run here (one harness).

Two modes:

    masktrt eval --sequence DIR --pred DIR          score the folder `masktrt track` wrote (DAVIS
                                                    J/F, OTB AUC, VOT IoU); eval.json + eval.md
    masktrt eval --tracker NAME [--checkpoint C]    run NAME's PyTorch reference over the held-out
                 [--sequence DIR ...] [--synthetic N]   sequences (default: the four evaluation
                                                    sequences in ../shared/data) by its spec's
                                                    protocol (preset, mask or box start, export
                                                    options) and print the model card's table:
                                                    J, F, box IoU/AUC, score AUC, lost threshold

Frame 0 (the initialisation frame) is never scored. A run that scores nothing fails (exit 2).
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from masktrt.arg_types import COUNT, NON_NEGATIVE
from masktrt.commands import args as common
from masktrt.errors import MasktrtError

HELP = "score predictions, or run a tracker over held-out sequences (J, F, box IoU/AUC)"
HELD_OUT_JSON, HELD_OUT_MD, HELD_OUT_ROC = "held_out.json", "held_out.md", "lost_flag_roc.png"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sequence", type=Path, nargs="+", default=None, metavar="DIR",
                        help="sequence folder(s): frames/ plus groundtruth.txt and/or masks/ "
                             "(with --pred: exactly one; with --tracker: default the four "
                             "evaluation sequences of ../shared/data)")
    parser.add_argument("--pred", type=Path, default=None,
                        help="predictions folder written by 'masktrt track' (scoring mode)")
    parser.add_argument("--out", type=Path, default=None,
                        help="where the reports go (default: the --pred folder; with --tracker: "
                             "printed only)")
    parser.add_argument("--kind", choices=["davis", "vot", "otb"], default=None,
                        help="ground-truth style; detected from the folder when omitted")
    parser.add_argument("--max-frames", type=COUNT, default=None, metavar="N",
                        help="score only the first N frames (a 'masktrt track --max-frames N' run)")
    group = parser.add_argument_group("tracking mode (--tracker)")
    common.add_tracker_arguments(parser)
    common.add_weights_arguments(parser)
    common.add_option_argument(group)
    group.add_argument("--synthetic", type=NON_NEGATIVE, default=0, metavar="N",
                       help="also N held-out synthetic sequences (scene seeds training never uses)")
    group.add_argument("--threads", type=COUNT, default=2, help="torch CPU threads")


def run(args: argparse.Namespace) -> int:
    if args.pred is not None:
        return score_predictions(args)
    if not getattr(args, "tracker_given", False):
        raise MasktrtError("nothing to score: give --pred (a 'masktrt track' folder) or --tracker",
                           "e.g. masktrt eval --sequence DIR --pred out/track, or "
                           "masktrt eval --tracker siammask")
    return evaluate_tracker(args)


def score_predictions(args: argparse.Namespace) -> int:
    from masktrt.benchmarks.evaluate import evaluate, load_predictions, summary_rows, write_reports
    from masktrt.benchmarks.report import text_table
    from masktrt.runtime.sequences import load_sequence

    if not args.sequence or len(args.sequence) != 1:
        raise MasktrtError("--pred scores one sequence", "give exactly one --sequence DIR")
    sequence = load_sequence(args.sequence[0], kind=args.kind)
    if args.max_frames is not None:
        sequence = sequence.head(args.max_frames)
    predictions = load_predictions(args.pred, [p.stem for p in sequence.frame_paths])
    result = evaluate(sequence, predictions)
    if not result["evaluated_frames"]:
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


def evaluate_tracker(args: argparse.Namespace) -> int:
    """The held-out table of --tracker with the given weights, by its spec's protocol."""
    import torch

    from masktrt.training import held_out

    torch.set_num_threads(args.threads)
    model, source = common.load_model(args)
    names = [str(p) for p in args.sequence] if args.sequence else list(held_out.EVALUATION_SEQUENCES)
    report = {"tracker": args.tracker, "source": source,
              **held_out.evaluate_tracker(model, args.tracker, names, args.preset,
                                          common.parse_options(args.option))}
    if not report["sequences"]:
        raise MasktrtError(f"nothing to score: none of {', '.join(names)} was found",
                           "give --sequence DIR (frames/ and ground truth), or put the evaluation "
                           "sequences in ../shared/data")
    if args.synthetic:
        report["synthetic"] = held_out.evaluate_synthetic(model, args.tracker, args.synthetic)
    print(summary(report))
    if args.out:
        write(report, args.out)
    return 0


def summary(report: dict[str, Any]) -> str:
    """The card's table, the branch counts where the tracker reports them, what was missing."""
    from masktrt.training import held_out

    parts = [held_out.markdown(report), held_out.flags_table(report)]
    if report["missing"]:
        parts.append(f"not found (skipped): {', '.join(report['missing'])}")
    if "synthetic" in report:
        synthetic = report["synthetic"]
        parts.append(f"held-out synthetic: mean J {synthetic['mean_j']:.3f}, mean F "
                     f"{synthetic['mean_f']:.3f} over {synthetic['count']} sequences")
    return "\n\n".join(p for p in parts if p)


def write(report: dict[str, Any], out: Path) -> None:
    from masktrt.files import write_json, write_text

    from masktrt.benchmarks.plot import plot_roc

    write_json(out / HELD_OUT_JSON, report)
    write_text(out / HELD_OUT_MD, summary(report) + "\n")
    roc = plot_roc(report.get("confidence"), out / HELD_OUT_ROC, f"{report['tracker']} lost flag")
    print(f"wrote {out / HELD_OUT_JSON}, {out / HELD_OUT_MD}"
          + (f" and {roc}" if roc else " (no ROC: the sequences held no off-target frame)"))
