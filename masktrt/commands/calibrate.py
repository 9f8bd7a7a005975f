"""INT8 by explicit quantization: QDQ graphs calibrated on the tracker's own inputs, with a gate.

Records what the FP32 tracker (ONNX Runtime) feeds each subgraph on real sequences, measures
activation ranges with ONNX Runtime's calibrators, analyses each block's sensitivity, and writes
QDQ graphs in two flavours: <out>/trt (S8S8, float biases: `masktrt build --precision int8`) and
<out>/ort (U8S8 for ONNX Runtime on the CPU). With --gate, the INT8 tracker is compared in closed
loop with the FP32 one on other sequences; the command fails (exit 1) when the gate fails.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from masktrt.arg_types import COUNT, NON_NEGATIVE
from masktrt.commands import args as common

HELP = "INT8: calibrate QDQ graphs on tracker crops, sensitivity analysis, closed-loop gate"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common.add_onnx_argument(parser, "FP32 export (deploy.json + *.onnx) from 'masktrt export'",
                             required=True, type=Path)
    parser.add_argument("--sequences", required=True, nargs="+", type=Path, metavar="DIR",
                        help="calibration sequences (frames/ + ground truth for frame 0)")
    parser.add_argument("--method", nargs="+", default=["minmax"], dest="methods",
                        choices=["minmax", "entropy", "percentile"],
                        help="activation calibration; several make a table (default minmax)")
    parser.add_argument("--keep", nargs="+", default=["none"], metavar="auto|none|BLOCK",
                        help="blocks left in float: none, auto (over the sensitivity budget), or "
                             "block names (search:cls.corr, or cls.corr for every graph); "
                             "'none auto' makes a table")
    parser.add_argument("--frames-per-sequence", type=COUNT, default=8, metavar="N",
                        help="frames tracked per calibration sequence, init frame included")
    parser.add_argument("--gate", nargs="*", default=[], type=Path, metavar="DIR",
                        help="sequences NOT used for calibration for the closed-loop INT8 gate")
    parser.add_argument("--gate-frames", type=COUNT, default=30, metavar="N",
                        help="frames per gate sequence (keeps the gate to minutes on a CPU)")
    parser.add_argument("--threads", type=NON_NEGATIVE, default=0, help="ONNX Runtime threads (0: all)")
    common.add_output_arguments(parser, "writes DIR/trt, DIR/ort, DIR/cache, "
                                "DIR/calibration-report.json")


def run(args: argparse.Namespace) -> int:
    from masktrt.calibration.pipeline import CalibrateOptions, calibrate
    from masktrt.calibration.sensitivity import format_sensitivity

    opts = CalibrateOptions(onnx_dir=args.onnx, sequences=list(args.sequences), out=Path(args.out),
                            methods=list(args.methods), keep=list(args.keep),
                            frames_per_sequence=args.frames_per_sequence, gate=list(args.gate),
                            gate_frames=args.gate_frames, threads=args.threads)
    report = calibrate(opts)
    print(f"weights: {report.weights_name}")
    for method, results in report.sensitivity.items():
        print(f"\nsensitivity ({method}, one block quantised at a time, U8S8):")
        print(format_sensitivity(results))
    if report.gated:
        print("\ngate (closed loop vs the FP32 tracker, ONNX Runtime CPU, U8S8 graphs):")
        print(report.gate_table())
    print(f"\nselected {report.selected.label}: kept in float {report.selected.kept or 'nothing'}")
    print(f"TensorRT flavour: {report.out / 'trt'}  (masktrt build --onnx {report.out / 'trt'} "
          f"--backend tensorrt-rtx --precision int8)")
    print(f"ONNX Runtime flavour: {report.out / 'ort'}")
    if report.gated and not report.gate_passed:
        print("INT8 gate FAILED: no variant met the closed-loop int8 budgets (see 'masktrt parity' or the tracker's spec)")
        return 1
    return 0
