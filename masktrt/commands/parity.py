"""Parity of the deployed tracker against the PyTorch reference, at one level.

--level tensor: each exported graph in ONNX Runtime (CPU) vs PyTorch on crops of real frames;
prints max abs error and max error relative to the output's range per output.
--level frame: each frame tracked by the backend from the reference's own state of the frame
before (isolates one step). --level closed-loop: the whole sequence tracked independently by
the reference and by each backend from the same initial box; per-frame box, polygon and mask IoU
against the reference trajectory (mean, minimum, first frame below budget). These agreement
levels are diagnostics: a closed loop amplifies any rounding into another trajectory.
--level accuracy, the verdict: the frame level scored against the ground truth; per backend, the
mean drop (reference minus backend) of J and box IoU over every frame of every sequence, with a
95 % bootstrap interval whose upper end must stay within the spec's accuracy budget.
Budgets come from the tracker's spec (trackers/<name>/spec.py); the command exits 1 when any
budget is exceeded or nothing was compared.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Callable

from masktrt.arg_types import COUNT, NON_NEGATIVE
from masktrt.commands import args as common

HELP = "compare ONNX/TensorRT outputs with the PyTorch reference against the parity budgets"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from masktrt.runtime.contract import EXPORT_PRECISIONS

    parser.add_argument("--level", default="tensor", choices=sorted(LEVELS),
                        help="tensor: each graph vs PyTorch; frame: one step from the reference's "
                        "state; closed-loop: whole trajectories; accuracy: the verdict, what the "
                        "backend loses against the ground truth")
    common.add_onnx_argument(parser, "exported graphs to check (default: export to a temporary "
                             "folder)")
    common.add_tracker_arguments(parser, preset=False)
    common.add_weights_arguments(parser, width=True)
    common.add_xcorr_argument(parser, when=" (when exporting; ignored with --onnx)")
    parser.add_argument("--precision", default="fp32", choices=EXPORT_PRECISIONS,
                        help="precision when exporting (ignored with --onnx)")
    common.add_option_argument(parser)
    common.add_sequence_argument(parser, "sequence folders or names in ../shared/data (default: "
                                 "all there)", many=True)
    parser.add_argument("--frames-per-sequence", type=COUNT, default=2,
                        help="tensor: search frames per sequence")
    parser.add_argument("--threads", type=NON_NEGATIVE, default=1,
                        help="CPU threads of ONNX Runtime and of the PyTorch reference (fixed "
                        "so that a closed loop's figures repeat: the thread count changes float "
                        "summation order, which a loop that learns online amplifies)")
    common.add_max_frames_argument(parser, "frame/closed-loop: track only the first N frames of "
                                   "each sequence")
    common.add_provider_argument(parser, "frame/closed-loop: ONNX Runtime provider (auto, cpu, cuda)")
    common.add_engines_argument(parser, "frame/closed-loop: also check TensorRT engines from "
                                "'masktrt build'")
    parser.add_argument("--noise-runs", type=NON_NEGATIVE, default=2, metavar="K",
                        help="closed-loop: K runs of the FP32 reference with perturbations the size "
                        "of the judged precision's rounding give the noise floor printed beside "
                        "each ground-truth drop (0: not measured)")
    parser.add_argument("--report", metavar="FILE", help="also write the rows as JSON")


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
    """Each sequence's crops cut by the tracker's export side (its own crop geometry)."""
    from masktrt import registry
    from masktrt.export.parity_tensor import tensor_parity

    paths = sequence_paths(args.sequence)  # checked before any export
    deploy, model = _deployed_model(args, onnx_dir)
    side = registry.get(deploy.tracker).load_export()
    crops = [side.parity_crops(p, args.frames_per_sequence, deploy.options) for p in paths]
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


def _loop_rows(args: argparse.Namespace, onnx_dir: Path, level: str) -> tuple[list, str]:
    """The rows of one loop level and the tracker; every runner made here is closed here."""
    from contextlib import ExitStack

    from masktrt.runtime.backends import open_runner
    from masktrt.specs.base import BATCH

    deploy, model = _deployed_model(args, onnx_dir)
    # the reference means what the graphs mean (e.g. RTS's traced sizes), one target per call
    meaning = {k: v for k, v in deploy.options.items() if k != BATCH}
    with ExitStack() as owned:
        reference = owned.enter_context(open_runner("torch", model=model, tracker=deploy.tracker,
                                                    options=meaning))
        runners = [(f"onnxruntime-{deploy.precision}", deploy.precision, owned.enter_context(
            open_runner("onnxruntime", onnx_dir=onnx_dir, provider=args.provider,
                        threads=args.threads)))]
        if args.engines:
            runners.append((f"tensorrt-{deploy.precision}", deploy.precision,
                             owned.enter_context(open_runner("tensorrt", engine_dir=args.engines))))
        return _sequence_rows(args, deploy, reference, runners, level), deploy.tracker


def _sequence_rows(args: argparse.Namespace, deploy, reference, runners: list, level: str) -> list:
    """Rows per sequence and runner; `runners`: (row name, precision, runner) triples."""
    from tqdm import tqdm

    from dataclasses import replace

    from masktrt.benchmarks.noise_floor import EPS as NOISE_EPS
    from masktrt.benchmarks.noise_floor import noise_floor
    from masktrt.benchmarks.parity import closed_loop, frame_level, run_trajectory
    from masktrt.runtime.sequences import load_sequence

    rows = []
    for path in sequence_paths(args.sequence):
        seq = load_sequence(path)
        if args.max_frames:
            seq = seq.head(min(args.max_frames, len(seq)))
        with tqdm(total=(len(seq) - 1) * (len(runners) + 1), unit="frame", disable=None,
                  desc=f"{level} {seq.name}") as bar:
            if level == "closed-loop":
                ref = run_trajectory(reference, seq, deploy.preset, progress=bar,
                                     tracker=deploy.tracker)
                floors = {p: noise_floor(reference, seq, deploy.preset, deploy.tracker, ref,
                                         runs=args.noise_runs, eps=NOISE_EPS[p])
                          for p in {precision for _, precision, _ in runners}}
                rows += [replace(closed_loop(ref, runner, name, seq, deploy.preset, precision,
                                             progress=bar, tracker=deploy.tracker),
                                 noise=floors[precision], noise_runs=args.noise_runs)
                         for name, precision, runner in runners]
            else:  # frame, and accuracy (the frame level judged against the ground truth)
                budgets = [] if level == "accuracy" else None
                rows += [frame_level(reference, runner, name, seq, deploy.preset,
                                     precision=precision, progress=bar, tracker=deploy.tracker,
                                     budgets=budgets)
                         for name, precision, runner in runners]
    return rows


def _deployed_model(args: argparse.Namespace, onnx_dir: Path):
    """(deploy, reference model): rebuilt from deploy.json with --onnx, else exported now."""
    from masktrt.export.model_source import model_for_deploy
    from masktrt.export.onnx_export import ExportOptions, export_onnx
    from masktrt.runtime.contract import load_contract
    from masktrt.runtime.session import agreed_tracker

    if args.onnx:
        deploy = load_contract(onnx_dir)
        agreed_tracker(args.tracker, getattr(args, "tracker_given", False), deploy.tracker,
                              str(onnx_dir))
        return deploy, model_for_deploy(deploy, args.checkpoint)
    model, source = common.load_model(args)
    options = ExportOptions(tracker=args.tracker, options=common.export_options(args),
                            precision=args.precision)
    return export_onnx(model, onnx_dir, source, options), model


def _run_loop(args: argparse.Namespace, level: str) -> int:
    from masktrt.benchmarks.parity import format_table, rows_to_json
    from masktrt.errors import MasktrtError
    from masktrt.benchmarks.report import write_json

    if args.onnx:
        rows, _ = _loop_rows(args, Path(args.onnx), level)
    else:
        with tempfile.TemporaryDirectory(prefix="masktrt-parity-") as tmp:
            rows, _ = _loop_rows(args, Path(tmp), level)
    if not rows:
        raise MasktrtError("parity compared nothing: no backend x sequence row was run",
                           "pass --sequence DIR (a folder with frames/ and groundtruth.txt)")
    print(format_table(rows))
    if args.report:
        write_json(args.report, rows_to_json(rows))
    failed = [r for r in rows if not r.passed]
    print(f"{len(rows) - len(failed)} of {len(rows)} backend x sequence rows within budget")
    return 0 if not failed else 1


def run_accuracy(args: argparse.Namespace) -> int:
    """The verdict: the frame level's teacher-forced drops against the ground truth, pooled per
    backend over every sequence, checked against the spec's accuracy budgets."""
    from masktrt import registry
    from masktrt.benchmarks.accuracy import format_verdicts, verdict, verdict_json
    from masktrt.benchmarks.report import write_json
    from masktrt.budgets import ACCURACY

    if args.onnx:
        rows, tracker = _loop_rows(args, Path(args.onnx), "accuracy")
    else:
        with tempfile.TemporaryDirectory(prefix="masktrt-accuracy-") as tmp:
            rows, tracker = _loop_rows(args, Path(tmp), "accuracy")
    spec = registry.spec(tracker)
    verdicts = [verdict(group, spec.budgets_for(ACCURACY, group[0].precision))
                for group in by_backend(rows)]
    print(format_verdicts(rows, verdicts))
    if any(v.precision == "fp16" for v in verdicts) and onnxruntime_on_cpu(args.provider):
        print(CPU_FP16_NOTE)
    if args.report:
        write_json(args.report, {"level": ACCURACY, "verdicts": verdict_json(verdicts)})
    return 0 if verdicts and all(v.passed for v in verdicts) else 1


CPU_FP16_NOTE = ("note: ONNX Runtime's CPU provider runs FP16 graphs with FP32 convolutions (casts "
                 "around them), so an FP16 verdict measured on the CPU covers FP16 storage and the "
                 "rounding between ops, not FP16 arithmetic; the GPU verdict (make gpu-check) is "
                 "the one that counts")


def onnxruntime_on_cpu(provider: str) -> bool:
    """Whether `--provider` resolves to the CPU, by the rule the runner itself applies."""
    import onnxruntime

    from masktrt.runtime.backends.onnxruntime import PROVIDERS, choose_providers

    return choose_providers(onnxruntime, provider)[0] == PROVIDERS["cpu"]


def by_backend(rows: list) -> list[list]:
    groups: dict[str, list] = {}
    for row in rows:
        groups.setdefault(row.backend, []).append(row)
    return list(groups.values())


# One function per level.
LEVELS: dict[str, Callable[[argparse.Namespace], int]] = {
    "tensor": run_tensor,
    "frame": lambda args: _run_loop(args, "frame"),
    "closed-loop": lambda args: _run_loop(args, "closed-loop"),
    "accuracy": run_accuracy,
}


def run(args: argparse.Namespace) -> int:
    from masktrt.export.torch_backend import torch_threads

    with torch_threads(args.threads):
        return LEVELS[args.level](args)
