"""Build TensorRT engines, one per graph of an exported ONNX folder's contract (deploy.json).

Each <graph>.engine gets a <graph>.json beside it: TensorRT module and version, GPU or ahead-of-time
targets, precision, correlation strategy, sha256 of the source ONNX, build time, size, the engine's
I/O and the contract's graph names (so a runner needs no export folder). An engine already built
from the same inputs is reused (--force rebuilds).
TensorRT-RTX (--backend tensorrt-rtx) builds without a GPU; full TensorRT builds on its target GPU.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from masktrt.arg_types import COUNT
from masktrt.errors import MasktrtError

HELP = "build TensorRT / TensorRT-RTX engines from exported ONNX graphs"


def compute_capability(text: str) -> str:
    """argparse type: 'X.Y', e.g. 8.7 (Orin) or 8.6, checked by the builder's own rule at parse
    time so a typo fails before anything is loaded."""
    from masktrt.engines.targets import normal_cc

    try:
        return normal_cc(text)
    except MasktrtError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from masktrt.engines.correlation import XCORR_CHOICES
    from masktrt.engines.precision import PRECISIONS
    from masktrt.runtime.trt_module import BACKENDS, RTX_DEFAULT_TARGETS, RTX_SUPPORT_MATRIX

    rtx_listed = "; ".join(f"{', '.join(ccs)} from {v[0]}.{v[1]}" for v, ccs in RTX_SUPPORT_MATRIX)

    parser.add_argument("--onnx", required=True, type=Path, metavar="DIR",
                        help="folder written by 'masktrt export' (deploy.json + *.onnx)")
    parser.add_argument("--backend", choices=list(BACKENDS), default="tensorrt-rtx",
                        help="tensorrt: full TensorRT 8.5+; tensorrt-rtx: TensorRT-RTX (ahead of time)")
    parser.add_argument("--precision", choices=PRECISIONS, default="fp32",
                        help="int8 needs QDQ graphs from 'masktrt calibrate'; on TensorRT-RTX and "
                        "TensorRT 11+ (strongly typed) fp16 needs graphs exported with --precision fp16")
    parser.add_argument("--xcorr", choices=XCORR_CHOICES, default="auto",
                        help="correlation strategy, as exported; auto: dynamic on TensorRT 8.5+ and "
                        "TensorRT-RTX, else unrolled or refit (whichever the export has); refit builds "
                        "the search engine refittable in the correlation kernels (needs a GPU to build)")
    parser.add_argument("--out", type=Path, default=None, metavar="DIR",
                        help="engine folder; None means DIR/engines-BACKEND-PRECISION")
    parser.add_argument("--workspace", type=COUNT, default=None, metavar="MB",
                        help="builder workspace limit in MB (default: TensorRT's)")
    parser.add_argument("--timing-cache", type=Path, default=None, metavar="PATH",
                        help="timing cache to read and update (full TensorRT; default: in --out)")
    parser.add_argument("--compute-capability", action="append", default=[], metavar="X.Y",
                        type=compute_capability,
                        dest="compute_capabilities",
                        help="TensorRT-RTX target GPU(s), repeatable, among those its support matrix "
                        f"lists ({rtx_listed}); default: {', '.join(RTX_DEFAULT_TARGETS)}")
    parser.add_argument("--force", action="store_true", help="rebuild even if up-to-date engines exist")


def run(args: argparse.Namespace) -> int:
    from masktrt.engines import BuildRequest, build_engines, summary_table

    request = BuildRequest(onnx_dir=args.onnx, backend=args.backend, precision=args.precision,
                           xcorr=args.xcorr, out=args.out, workspace_mb=args.workspace,
                           timing_cache=args.timing_cache,
                           compute_capabilities=tuple(args.compute_capabilities), force=args.force)
    records, notes = build_engines(request)
    for note in notes:
        print(note)
    print(summary_table(records))
    print(f"engines in {request.out_dir()}")
    return 0
