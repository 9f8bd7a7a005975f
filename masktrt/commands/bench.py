"""Benchmark the tracker: per-stage latency of each backend on a real sequence, side by side.

Tracks --sequence with every backend through the same tracker and times each stage per frame
(crop, template at init, search, select, refine, post-processing, total): p50/p90/p99, mean, fps,
and the speed-up over the baseline (PyTorch eager FP32, what users run today). Also times 1, 2,
4 and 8 targets in the same frames, and records peak host RSS (and device memory on a GPU).
Writes bench.json (schema masktrt.bench v1), bench.md and bench.png into --out.
On a GPU, PyTorch eager FP16 and torch.compile are timed too; without one they are listed as
not measured. --kernels adds the CUDA-kernel vs CPU-reference benchmark.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from masktrt.arg_types import COUNT, NON_NEGATIVE
from masktrt.commands import args as common
from masktrt.errors import MasktrtError

HELP = "time each tracker stage per backend (vs the PyTorch baseline); JSON, Markdown, PNG"
DEFAULT_SEQUENCE = "davis-blackswan"


def _counts(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in str(text).split(",") if v.strip())
    except ValueError:
        values = ()
    if not values:
        raise argparse.ArgumentTypeError(f"'{text}' is not a comma-separated list of counts")
    return values


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common.add_sequence_argument(parser, f"sequence folder (None: ../shared/data/{DEFAULT_SEQUENCE}, "
                                 "else the generated demo sequence)")
    common.add_tracker_arguments(parser)
    parser.add_argument("--backends", default="torch,onnxruntime",
                        help="comma-separated: torch, onnxruntime, tensorrt")
    common.add_onnx_argument(parser, "exported graphs for onnxruntime (the weights are taken from "
                             "its deploy.json); None: export once into the cache")
    common.add_engines_argument(parser, "TensorRT engines (masktrt build) for tensorrt")
    parser.add_argument("--extra-onnx", nargs="+", default=[], metavar="DIR",
                        help="more graph folders of the same weights to time as further ONNX "
                             "Runtime backends, e.g. the INT8 graphs of 'masktrt calibrate' "
                             "(<out>/ort)")
    parser.add_argument("--precision", default="fp32", choices=("fp32", "fp16"),
                        help="precision of the exported graphs (the baseline is always FP32)")
    common.add_xcorr_argument(parser)
    common.add_option_argument(parser)
    common.add_provider_argument(parser)
    parser.add_argument("--timed-frames", type=COUNT, default=20, help="timed frames per backend")
    parser.add_argument("--warmup", type=NON_NEGATIVE, default=2, help="untimed frames after init")
    parser.add_argument("--targets", type=_counts, default="1,2,4,8",
                        help="target counts for the scaling run, e.g. 1,2,4,8")
    parser.add_argument("--scaling-frames", type=COUNT, metavar="N",
                        help="timed frames per target count (None: as many as --timed-frames)")
    parser.add_argument("--kernels", action="store_true",
                        help="also run the CUDA kernel vs CPU reference benchmark")
    parser.add_argument("--kernel-repeats", type=COUNT, default=20, help="repeats per kernel size")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    common.add_weights_arguments(parser, width=True)
    common.add_output_arguments(parser, "report folder (created)")


def default_sequence() -> Path:
    """The real DAVIS sequence where the shared data exists, else the generated demo sequence."""
    from masktrt.paths import shared_sequence

    found = shared_sequence(DEFAULT_SEQUENCE)
    if found is not None:
        return found
    from masktrt.training.synthetic import demo_sequence_dir

    print(f"note: ../shared/data/{DEFAULT_SEQUENCE} not found: benchmarking the generated demo "
          "sequence", file=sys.stderr)
    return demo_sequence_dir()


def options_from(args: argparse.Namespace) -> "BenchOptions":  # noqa: F821
    from masktrt.benchmarks.bench_options import BenchOptions

    sequence = Path(args.sequence) if args.sequence else default_sequence()
    backends = tuple(b.strip() for b in args.backends.split(",") if b.strip())
    return BenchOptions(
        sequence=sequence, backends=backends, onnx_dir=Path(args.onnx) if args.onnx else None,
        engines_dir=Path(args.engines) if args.engines else None,
        extra_onnx=tuple(Path(d) for d in args.extra_onnx), precision=args.precision,
        correlation=args.xcorr, export_options=tuple(common.parse_options(args.option).items()),
        frames=args.timed_frames, warmup=args.warmup, targets=args.targets,
        scaling_frames=args.scaling_frames, checkpoint=args.checkpoint, seed=args.seed,
        width=args.width, preset=common.preset_name(args), provider=args.provider,
        progress=not args.no_progress, tracker=args.tracker, variant=args.variant)


def run(args: argparse.Namespace) -> int:
    from masktrt.benchmarks.bench import run_bench, validate_report
    from masktrt.benchmarks.bench_report import text_summary, write_reports

    options = options_from(args)
    options.validate()  # before loading weights or exporting
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MasktrtError(f"cannot create '{out}' ({exc.strerror})", "pass a writable --out") from exc
    if args.checkpoint is None and args.onnx is None:
        print(f"note: no --checkpoint: seeded random weights (seed {args.seed}); latency does not "
              "depend on the weights' values", file=sys.stderr)
    report = run_bench(options, command="masktrt bench " + " ".join(sys.argv[2:]))
    if args.kernels:
        report["kernels"] = kernel_report(args.kernel_repeats)
    problems = validate_report(report)
    if problems:
        raise MasktrtError(f"the report is malformed: {problems[0]}", "this is a bug: please report it")
    paths = write_reports(report, out)
    print(text_summary(report))
    if args.kernels:
        from masktrt.benchmarks.kernels_bench import format_report

        print(format_report(report["kernels"]))
    print(f"\nreports: {paths['json']}, {paths['markdown']}, {paths['png']}")
    return 0


def kernel_report(repeats: int) -> dict:
    from masktrt.benchmarks.kernels_bench import run_kernel_bench

    print("running the kernel benchmark ...", file=sys.stderr)
    return run_kernel_bench(repeats=repeats)
