"""The built-in demo: the whole pipeline on a generated sequence (exact masks, seeded) with the
shipped weights, no arguments needed.

`masktrt deploy --int8` first (into <out>/deploy: ONNX graphs in FP32, FP16 and INT8, TensorRT-RTX
engines where installed, each configuration's accuracy verdict and speed beside the PyTorch
reference, the recommendation, report.html and report.md; reruns reuse what is built), then the
recommended configuration tracks the sequence into --out (masks, polygons, boxes, scores, an
annotated track.mp4) and is scored (J, F, box IoU). Falls back to seeded random weights, with a
warning, in a build without the demo checkpoint.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from masktrt.arg_types import COUNT
from masktrt.commands import args as common
from masktrt.registry import DEFAULT_TRACKER

HELP = "deploy the shipped weights (ONNX, INT8, engines, verdicts, report) and track a demo sequence"
DEMO_TRACKER = DEFAULT_TRACKER  # its shipped demo weights are the ones that track best
DEMO_OUT = "out/demo"  # the demo's own folder: rerunning the demo replaces it
DEPLOYED = "deploy"  # the deployment's subfolder of --out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max-frames", type=COUNT, default=None, metavar="N",
                        help="deploy-measure and track only the first N frames")
    common.add_weights_arguments(parser)
    common.add_output_arguments(parser, "output folder", default=DEMO_OUT, video=True)


def run(args: argparse.Namespace) -> int:
    from masktrt.commands import track
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
    print(f"demo sequence: {folder} ({len(sequence)} frames); weights: "
          f"{checkpoint if checkpoint else 'seeded random (no demo checkpoint in this build)'}")
    deployed = Path(args.out) / DEPLOYED
    deploy_code = deploy(checkpoint, args, folder, deployed)
    job = track.TrackJob(tuple(float(v) for v in sequence.init_box()), Path(args.out),
                         frames=str(folder / "frames"), tracker=DEMO_TRACKER,
                         max_frames=len(sequence), write_video=not args.no_video,
                         overwrite=args.overwrite or args.out == DEMO_OUT)
    backend, options = chosen_runner(deployed)
    run = track.track_job(job, lambda: open_runner(backend, options))
    track.print_summary(run, backend)
    score(sequence, Path(args.out))
    print(f"deployment report: {deployed / 'report.html'} (and report.md)")
    return deploy_code


def deploy(checkpoint: Path | None, args: argparse.Namespace, sequence: Path, out: Path) -> int:
    """`masktrt deploy --int8` on the demo sequence, parsed by deploy's own argument groups."""
    from masktrt.commands import deploy as command

    parser = argparse.ArgumentParser(prog="masktrt deploy")
    command.add_arguments(parser)
    weights = ["--checkpoint", str(checkpoint)] if checkpoint else ["--random-weights",
                                                                      "--seed", str(args.seed)]
    frames = ["--max-frames", str(args.max_frames)] if args.max_frames else []
    return command.run(parser.parse_args([*weights, "--int8", "--sequence", str(sequence),
                                          *frames, "--out", str(out)]))


def chosen_runner(deployed: Path) -> tuple[str, dict[str, Any]]:
    """The deployment's recommendation, else its FP32 graphs (said, never silently)."""
    from masktrt.api import FOLDER_OPTION
    from masktrt.benchmarks.recommendation import read

    choice = read(deployed)
    if choice is None:
        print("warning: no configuration passed its verdict; the demo tracks with the FP32 graphs")
        return "onnxruntime", {"onnx_dir": deployed / "onnx-fp32"}
    print(f"tracking with the recommended configuration: {choice.backend} "
          f"{choice.precision.upper()} ({deployed / choice.folder})")
    return choice.backend, {FOLDER_OPTION[choice.backend]: deployed / choice.folder}


def open_runner(backend: str, options: dict[str, Any]) -> Any:
    from masktrt.runtime.backends import open_runner as opened

    return opened(backend, **options)


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
