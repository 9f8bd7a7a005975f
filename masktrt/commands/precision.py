"""One table of what each backend and precision costs a user: accuracy against the ground truth,
its drop from the PyTorch FP32 reference with an interval, the closed loop's noise floor, the
verdict and the milliseconds per frame, all from the same run (JSON, Markdown and a plot).

    masktrt precision --tracker siammask                      # FP32 and FP16, ../shared/data
    masktrt precision --int8 out/int8/ort --sequence DIR ...  # add a calibrated INT8 folder

Exports the tracker's weights (--checkpoint, default its demo weights) at each --precisions into
a temporary folder and runs them with ONNX Runtime (and --engines with TensorRT) beside the
PyTorch reference, with the tracker's evaluation preset (as `masktrt eval`; --preset to change). The verdict is teacher-forced (each frame from the reference's state; see
`masktrt parity --level accuracy`) against the spec's accuracy budgets; the closed-loop
columns are what a user sees and are read against the noise floor. Exits 1 when a verdict fails
or nothing was compared. On the CPU provider ONNX Runtime computes FP16 convolutions in FP32, so
a CPU FP16 row covers storage and rounding between ops, not FP16 arithmetic (the table says so).
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from masktrt.arg_types import NON_NEGATIVE
from masktrt.commands import args as common
from masktrt.errors import MasktrtError

HELP = "one table per backend and precision: J, F, box IoU/AUC, drops, noise floor, verdict, ms/frame"
DEFAULT_OUT = "out/precision"
EXPORTED = ("fp32", "fp16")  # precisions this command exports itself (INT8 needs calibrating)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common.add_tracker_arguments(parser)  # --preset: default the tracker's evaluation preset
    common.add_weights_arguments(parser, width=True)
    common.add_xcorr_argument(parser)
    common.add_option_argument(parser)
    parser.add_argument("--precisions", default="fp32,fp16", metavar="LIST",
                        help=f"comma-separated, exported here from the same weights: {', '.join(EXPORTED)}")
    parser.add_argument("--int8", metavar="DIR", default=None,
                        help="also an INT8 folder from 'masktrt calibrate' (its ort/ folder), made "
                             "from the same weights")
    common.add_engines_argument(parser, "also TensorRT engines from 'masktrt build' (a GPU)")
    common.add_sequence_argument(parser, "sequence folders or names in ../shared/data (default: "
                                 "all there)", many=True)
    common.add_max_frames_argument(parser, "track only the first N frames of each sequence")
    parser.add_argument("--noise-runs", type=NON_NEGATIVE, default=2, metavar="K",
                        help="perturbed FP32 reference runs per sequence and precision that give "
                             "the noise floor (0: not measured)")
    parser.add_argument("--threads", type=NON_NEGATIVE, default=1,
                        help="CPU threads of ONNX Runtime and of the PyTorch reference")
    common.add_provider_argument(parser, "ONNX Runtime provider (auto, cpu, cuda)")
    parser.add_argument("--out", default=DEFAULT_OUT, metavar="DIR",
                        help="where precision.json, precision.md and precision.png go")


def precisions_of(text: str) -> list[str]:
    chosen = [p.strip() for p in text.split(",") if p.strip()]
    unknown = [p for p in chosen if p not in EXPORTED]
    if unknown or not chosen:
        raise MasktrtError(f"--precisions '{text}' names {unknown or 'nothing'}",
                           f"choose from {', '.join(EXPORTED)}; pass INT8 as --int8 DIR")
    return chosen


def run(args: argparse.Namespace) -> int:
    import tempfile

    from masktrt.export.torch_backend import torch_threads

    precisions = precisions_of(args.precisions)
    common.check_max_frames(args.max_frames)
    with torch_threads(args.threads), tempfile.TemporaryDirectory(prefix="masktrt-precision-") as tmp:
        table = measure(args, precisions, Path(tmp))
    return report(table, Path(args.out), args.provider)


def measure(args: argparse.Namespace, precisions: list[str], tmp: Path) -> Any:
    """Export, open every runner (closed here), run the table."""
    from contextlib import ExitStack

    from masktrt.benchmarks.machine import machine_info
    from masktrt.benchmarks.precision_table import PrecisionTable, measure_sequences
    from masktrt.commands.parity import sequence_paths
    from masktrt.runtime.backends import open_runner
    from masktrt.specs.base import BATCH

    paths = sequence_paths(args.sequence)
    model, source = common.load_model(args)
    deploys = {p: export(args, model, source, tmp / p, p) for p in precisions}
    deploy = deploys[precisions[0]]
    meaning = {k: v for k, v in deploy.options.items() if k != BATCH}
    with ExitStack() as owned:
        def opened(backend: str, **options: Any) -> Any:
            return owned.enter_context(open_runner(backend, **options))

        runners = [(f"onnxruntime-{p}", p, opened("onnxruntime", onnx_dir=d.root,
                                                  provider=args.provider, threads=args.threads))
                   for p, d in deploys.items()]
        runners += extra_runners(args, source, opened)
        reference = opened("torch", model=model, tracker=deploy.tracker, options=meaning)
        config = preset_for(args.preset, deploy)
        cells, verdicts = measure_sequences(reference, runners, paths, deploy.tracker, config,
                                            args.noise_runs, args.max_frames)
    settings = {"sequences": [str(p) for p in paths], "preset": config.name,
                "max_frames": args.max_frames,
                "noise_runs": args.noise_runs, "threads": args.threads, "provider": args.provider,
                "weights": source, "options": meaning}
    return PrecisionTable(deploy.tracker, cells, verdicts, machine_info(), settings)


def preset_for(name: str | None, deploy: Any) -> Any:
    """--preset, else the preset of the tracker's evaluation protocol (its spec's `held_out`,
    as `masktrt eval` and the model card use), else the one the graphs record."""
    from masktrt import registry

    spec = registry.spec(deploy.tracker)
    chosen = name or spec.held_out.preset
    return spec.preset(chosen) if chosen else deploy.preset


def export(args: argparse.Namespace, model: Any, source: dict, folder: Path, precision: str) -> Any:
    from masktrt.export.onnx_export import ExportOptions, export_onnx

    options = ExportOptions(tracker=args.tracker, options=common.export_options(args),
                            precision=precision)
    return export_onnx(model, folder, source, options)


def extra_runners(args: argparse.Namespace, source: dict, opened: Any) -> list[tuple]:
    """--int8 (ONNX Runtime) and --engines (TensorRT), each checked to hold these weights."""
    from masktrt.benchmarks.bench_variants import same_weights
    from masktrt.runtime.contract import load_contract

    out = []
    if args.int8:
        folder = same_weights(Path(args.int8), source)
        precision = load_contract(folder).precision
        out.append((f"onnxruntime-{precision}", precision, opened(
            "onnxruntime", onnx_dir=folder, provider=args.provider, threads=args.threads)))
    if args.engines:
        runner = opened("tensorrt", engine_dir=args.engines)
        out.append((runner.name, runner.name.rsplit("-", 1)[-1], runner))  # "<module>-<precision>"
    return out


def report(table: Any, out: Path, provider: str) -> int:
    """Print the table, write JSON, Markdown and the plot; 1 when a verdict fails."""
    from masktrt.benchmarks.precision_table import markdown, plot, to_json
    from masktrt.benchmarks.report import write_json
    from masktrt.commands.parity import CPU_FP16_NOTE, onnxruntime_on_cpu

    text = markdown(table)
    if any(v.precision == "fp16" for v in table.verdicts) and onnxruntime_on_cpu(provider):
        text += "\n\n" + CPU_FP16_NOTE
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "precision.json", to_json(table))
    (out / "precision.md").write_text(text + "\n")
    plot(table, out / "precision.png")
    print(text)
    print(f"report: {out / 'precision.json'}, {out / 'precision.md'}, {out / 'precision.png'}")
    passed = bool(table.verdicts) and all(v.passed for v in table.verdicts)
    return 0 if passed else 1
