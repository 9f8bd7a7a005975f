"""Parity of the deployed tracker against the PyTorch reference, at one level.

--level tensor: each exported graph in ONNX Runtime (CPU) vs PyTorch on crops of real frames;
prints max abs error and max error relative to the output's range per output, with the budget
from masktrt/budgets.py; exits 1 when any budget is exceeded.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Callable

HELP = "compare ONNX/TensorRT outputs with the PyTorch reference against the parity budgets"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from masktrt.commands.export import add_model_arguments
    from masktrt.runtime.deploy import CORRELATIONS, PRECISIONS

    parser.add_argument("--level", default="tensor", choices=sorted(LEVELS),
                        help="tensor: each graph vs PyTorch")
    parser.add_argument("--onnx", metavar="DIR",
                        help="exported graphs to check (default: export to a temporary folder)")
    add_model_arguments(parser)
    parser.add_argument("--xcorr", default="dynamic", choices=CORRELATIONS,
                        help="correlation strategy when exporting (ignored with --onnx)")
    parser.add_argument("--precision", default="fp32", choices=PRECISIONS,
                        help="precision when exporting (ignored with --onnx)")
    parser.add_argument("--sequence", nargs="+", metavar="DIR",
                        help="sequence folders or names in ../shared/data (default: all there)")
    parser.add_argument("--frames", type=int, default=2, help="search frames per sequence")
    parser.add_argument("--threads", type=int, default=1, help="ONNX Runtime CPU threads")


def sequence_paths(names: list[str] | None) -> list[Path]:
    from masktrt.errors import MasktrtError
    from masktrt.export.parity_tensor import default_sequences
    from masktrt.paths import shared_sequence

    if not names:
        found = default_sequences()
        if not found:
            raise MasktrtError("no real sequences found (../shared/data or $MASKTRT_DATA)",
                               "pass --sequence DIR with frames/ and groundtruth.txt")
        return found
    paths = []
    for name in names:
        path = Path(name) if Path(name).is_dir() else shared_sequence(name)
        if path is None:
            raise MasktrtError(f"sequence '{name}' not found",
                               "pass a folder, or a name under ../shared/data")
        paths.append(path)
    return paths


def _tensor_report(args: argparse.Namespace, onnx_dir: Path):
    from masktrt.export.model_source import load_model, model_for_deploy
    from masktrt.export.onnx_export import ExportOptions, export_onnx
    from masktrt.export.parity_tensor import sequence_crops, tensor_parity
    from masktrt.runtime.deploy import load_deploy

    crops = [sequence_crops(p, args.frames) for p in sequence_paths(args.sequence)]
    if args.onnx:
        deploy = load_deploy(onnx_dir)
        model = model_for_deploy(deploy, args.checkpoint)
    else:
        model, source = load_model(args.checkpoint, seed=args.seed, width=args.width)
        options = ExportOptions(correlation=args.xcorr, precision=args.precision)
        deploy = export_onnx(model, onnx_dir, source, options)
    return tensor_parity(model, deploy, crops, threads=args.threads)


def run_tensor(args: argparse.Namespace) -> int:
    """Print the per-output table; 0 when every output is within budget, else 1."""
    if args.onnx:
        report = _tensor_report(args, Path(args.onnx))
    else:
        with tempfile.TemporaryDirectory(prefix="masktrt-parity-") as tmp:
            report = _tensor_report(args, Path(tmp))
    print(report.table())
    return 0 if report.passed else 1


# One function per level; `frame` and `closed-loop` join here.
LEVELS: dict[str, Callable[[argparse.Namespace], int]] = {"tensor": run_tensor}


def run(args: argparse.Namespace) -> int:
    return LEVELS[args.level](args)
