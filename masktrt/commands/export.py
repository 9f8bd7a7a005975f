"""Export a tracker's graphs (its spec lists them: SiamMask template/search/refine, OceanPlus
template/track_255/track_287) to ONNX, plus deploy.json.

The graphs have static shapes and batch 1; inputs and outputs are float32 (pos int64) whatever
the precision. deploy.json is the contract the runtime and `masktrt build` read.
"""
from __future__ import annotations

import argparse

from masktrt.arg_types import COUNT
from masktrt.commands import args as common

HELP = "export ONNX graphs + deploy.json (demo weights, a checkpoint, or seeded random weights)"


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """--checkpoint | --random-weights, --seed, --width (kept for callers of the old name)."""
    common.add_weights_arguments(parser, width=True)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from masktrt.runtime.contract import EXPORT_PRECISIONS
    from masktrt.specs.base import BATCH_DYNAMIC

    common.add_tracker_arguments(parser, preset_choices=True)
    common.add_weights_arguments(parser, width=True)
    common.add_output_arguments(parser, "folder for the graphs")
    common.add_xcorr_argument(parser, refit=True)
    parser.add_argument("--batch", choices=(BATCH_DYNAMIC,), default=None,
                        help="dynamic: the per-frame graphs take N targets in one call "
                             "(track_many; needs --xcorr unrolled); default batch 1")
    parser.add_argument("--precision", default="fp32", choices=EXPORT_PRECISIONS,
                        help="fp16 writes FP16 graphs with FP32 inputs/outputs")
    parser.add_argument("--fp32-template", action="store_true",
                        help="with --precision fp16: keep the graphs whose outputs are target "
                             "state FP32 (SiamMask's and OceanPlus's template: it runs once per "
                             "target, and FP16 kernels carry their rounding into every frame; "
                             "RTS's learners, label encoder, classifier init and STA)")
    parser.add_argument("--opset", type=COUNT, default=17, help="ONNX opset (13..20)")
    common.add_option_argument(parser)


def per_target_graphs(tracker: str) -> tuple[str, ...]:
    """The graphs --fp32-template keeps FP32: those whose outputs are target state (`runs`
    "target": SiamMask's template; RTS's learners and STA)."""
    from masktrt import registry
    from masktrt.specs.base import PER_TARGET

    return tuple(g.name for g in registry.spec(tracker).graphs if g.runs == PER_TARGET)


def run(args: argparse.Namespace) -> int:
    from masktrt.export.onnx_export import ExportOptions, export_onnx
    from masktrt.provenance import writable_folder

    batch = {"batch": args.batch} if getattr(args, "batch", None) else {}
    options = ExportOptions(tracker=args.tracker, options={**common.export_options(args), **batch},
                            precision=args.precision, opset=args.opset, preset=args.preset,
                            keep_fp32=per_target_graphs(args.tracker) if args.fp32_template else ())
    options.validate()  # fail on a bad option before loading or computing weights
    writable_folder(args.out)
    model, source = common.load_model(args)
    deploy = export_onnx(model, args.out, source, options)
    print(f"exported to {deploy.root} ({deploy.precision}, options {deploy.options}, "
          f"opset {deploy.opset}, weights {source['sha256']})")
    for graph in deploy.graphs.values():
        ins = ", ".join(f"{t.name}{list(t.shape)}" for t in graph.inputs)
        outs = ", ".join(f"{t.name}{list(t.shape)}" for t in graph.outputs)
        size = graph.path.stat().st_size / 2**20
        print(f"  {graph.path.name:13} {size:6.1f} MiB  {ins} -> {outs}")
    return 0
