"""From a checkpoint to a verified deployment folder in one command.

    masktrt deploy                                   # SiamMask's demo weights, the generated sequence
    masktrt deploy --tracker oceanplus --sequence davis-blackswan vot-bag --int8

Stages, one progress line each with its time: export the ONNX graphs in FP32 and FP16 (reused
when the folder already holds them for these weights and options); with --int8, calibrate INT8
graphs on the training sequences (minmax, nothing kept in float); build TensorRT-RTX engines
where the package is installed (no GPU needed to build; running them needs one); measure every
runnable configuration beside the PyTorch reference on the sequences (`masktrt precision`'s
table: accuracy against the ground truth, the teacher-forced verdict, ms/frame); recommend the
fastest configuration whose verdict passes, written as recommended.json so that
`masktrt.open_tracker(DIR)` runs it; and a report (report.md, report.html with its plots inside).
A stage that cannot run here says why and is never counted as a pass. Exits 1 when no
configuration passes.
"""
from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from masktrt.arg_types import NON_NEGATIVE
from masktrt.commands import args as common

HELP = "checkpoint -> ONNX (FP32, FP16, INT8) + engines -> verdicts and speed -> recommendation + report"
DEFAULT_OUT = "out/deploy"
CALIBRATION_SEQUENCES = 4  # training sequences INT8 is calibrated on
CALIBRATION_FRAMES = 20  # frames of a generated calibration scene (where no real split is here)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common.add_tracker_arguments(parser)
    common.add_weights_arguments(parser, width=True)
    common.add_option_argument(parser)
    common.add_sequence_argument(parser, "sequence folders or names in ../shared/data with ground "
                                 "truth (default: the generated demo sequence)", many=True)
    parser.add_argument("--int8", action="store_true",
                        help="also calibrate INT8 graphs on the training sequences "
                             "(../shared/data/train, else generated training scenes)")
    common.add_max_frames_argument(parser, "measure only the first N frames of each sequence")
    parser.add_argument("--noise-runs", type=NON_NEGATIVE, default=1, metavar="K",
                        help="perturbed reference runs per sequence for the noise floor")
    parser.add_argument("--threads", type=NON_NEGATIVE, default=1,
                        help="CPU threads of ONNX Runtime and of the PyTorch reference")
    common.add_provider_argument(parser, "ONNX Runtime provider (auto, cpu, cuda)")
    parser.add_argument("--out", default=DEFAULT_OUT, metavar="DIR", help="the deployment folder")


@dataclass
class Stage:
    """One line of the run: what, how long, and how it ended (ok, reused, skipped: why)."""

    name: str
    status: str = "ok"
    seconds: float = 0.0
    detail: str = ""


@dataclass
class Deployment:
    out: Path
    stages: list[Stage] = field(default_factory=list)
    folders: dict[str, Path] = field(default_factory=dict)  # precision -> graph folder
    engines: dict[str, Path] = field(default_factory=dict)  # precision -> engine folder

    def stage(self, name: str, work: Callable[[], tuple[str, str]]) -> None:
        """Run one stage; `work` returns (status, detail). Prints its line when it ends."""
        start = time.perf_counter()
        status, detail = work()
        self.stages.append(Stage(name, status, time.perf_counter() - start, detail))
        line = self.stages[-1]
        print(f"[{len(self.stages)}] {name:<22} {line.status:<8} {line.seconds:7.1f} s  {detail}",
              flush=True)


def run(args: argparse.Namespace) -> int:
    from masktrt.export.torch_backend import torch_threads

    common.check_max_frames(args.max_frames)
    deployment = Deployment(Path(args.out))
    with torch_threads(args.threads):
        model, source = common.load_model(args)
        for precision in ("fp32", "fp16"):
            deployment.stage(f"export {precision}", lambda p=precision: export(
                args, model, source, deployment, p))
        if args.int8:
            deployment.stage("calibrate int8", lambda: calibrate(args, source, deployment))
        for precision in ("fp32", "fp16"):
            deployment.stage(f"engines {precision}", lambda p=precision: build(deployment, p))
        holder: dict[str, Any] = {}
        deployment.stage("measure", lambda: measure(args, model, source, deployment, holder))
    deployment.stage("recommend", lambda: recommend(deployment, holder["table"]))
    deployment.stage("contact sheet", lambda: contact_sheet(args, deployment, holder["table"]))
    deployment.stage("report", lambda: report(deployment, holder["table"]))
    return 0 if (deployment.out / "recommended.json").is_file() else 1


def export(args: argparse.Namespace, model: Any, source: dict, deployment: Deployment,
           precision: str) -> tuple[str, str]:
    """The graphs at `precision`, reused when the folder already holds them for these weights
    and options (deploy.json records both)."""
    from masktrt.export.onnx_export import ExportOptions, export_onnx

    folder = deployment.out / f"onnx-{precision}"
    deployment.folders[precision] = folder
    options = ExportOptions(tracker=args.tracker, options=common.export_options(args),
                            precision=precision)
    if reusable(folder, source, args.tracker, precision, common.export_options(args)):
        return "reused", f"{folder} (same weights {source.get('sha256', '')[:12]}, same options)"
    export_onnx(model, folder, source, options)
    return "ok", str(folder)


def reusable(folder: Path, source: dict, tracker: str, precision: str,
             options: dict[str, Any] | None = None) -> bool:
    """Whether `folder` holds intact graphs of these weights, tracker, precision and the
    export options asked for."""
    from masktrt.errors import MasktrtError
    from masktrt.runtime.contract import load_contract

    if not (folder / "deploy.json").is_file():
        return False
    try:
        contract = load_contract(folder)  # checks every graph's hash
    except MasktrtError:
        return False
    same_options = all(str(contract.options.get(k)) == str(v) for k, v in (options or {}).items())
    return (contract.source.get("sha256") == source.get("sha256") and contract.tracker == tracker
            and contract.precision == precision and same_options)


def calibrate(args: argparse.Namespace, source: dict, deployment: Deployment) -> tuple[str, str]:
    """INT8 graphs from the FP32 ones, calibrated on the training split only (minmax, nothing
    kept float); the ONNX Runtime flavour is measured."""
    from masktrt.calibration.pipeline import CalibrateOptions, calibrate as run_calibration

    out = deployment.out / "int8"
    if reusable(out / "ort", source, args.tracker, "int8"):
        deployment.folders["int8"] = out / "ort"
        return "reused", str(out / "ort")
    sequences, what = calibration_sequences()
    run_calibration(CalibrateOptions(onnx_dir=deployment.folders["fp32"], sequences=sequences,
                                     out=out, threads=args.threads))
    deployment.folders["int8"] = out / "ort"
    return "ok", f"{out / 'ort'} (minmax, nothing kept float, calibrated on {what})"


def calibration_sequences() -> tuple[list[Path], str]:
    """The first training sequences of ../shared/data/train, else generated scenes of training
    seeds (never an evaluation sequence, never the demo's)."""
    from masktrt.training.real import sequence_folders, training_root
    from masktrt.training.synthetic import demo_sequence_dir

    root = training_root()
    if root is not None and sequence_folders(root):
        found = sequence_folders(root)[:CALIBRATION_SEQUENCES]
        return found, f"{len(found)} real training sequences"
    seeds = range(1, CALIBRATION_SEQUENCES + 1)
    return ([demo_sequence_dir(seed=s, num_frames=CALIBRATION_FRAMES) for s in seeds],
            f"{len(seeds)} generated training scenes (no ../shared/data/train here)")


def build(deployment: Deployment, precision: str) -> tuple[str, str]:
    """TensorRT-RTX engines where the package is installed (building needs no GPU)."""
    import importlib.util

    from masktrt.engines import BuildRequest, build_engines

    if importlib.util.find_spec("tensorrt_rtx") is None:
        return "skipped", "TensorRT-RTX is not installed (pip install 'masktrt[tensorrt-rtx]')"
    out = deployment.out / f"engines-{precision}"
    request = BuildRequest(deployment.folders[precision], precision=precision, out=out)
    records, _ = build_engines(request)
    deployment.engines[precision] = out
    cached = all(r.cached for r in records)
    return ("reused" if cached else "ok"), f"{len(records)} engines in {out}"


def measure(args: argparse.Namespace, model: Any, source: dict, deployment: Deployment,
            holder: dict) -> tuple[str, str]:
    """Every runnable configuration beside the reference, one table (masktrt precision)."""
    from masktrt.benchmarks.machine import gpu_info, machine_info
    from masktrt.benchmarks.precision_table import PrecisionTable, measure_sequences
    from masktrt.commands.precision import preset_for
    from masktrt.runtime.contract import load_contract
    from masktrt.specs.base import BATCH

    paths = sequences(args)
    deploy = load_contract(deployment.folders["fp32"])
    meaning = {k: v for k, v in deploy.options.items() if k != BATCH}
    gpu = gpu_info() is not None
    with opened_runners(args, deployment, model, deploy.tracker, meaning, gpu) as (reference, runners):
        cells, verdicts = measure_sequences(reference, runners, paths, deploy.tracker,
                                            preset_for(args.preset, deploy), args.noise_runs,
                                            args.max_frames)
    settings = {"sequences": [str(p) for p in paths], "weights": source, "gpu": gpu,
                "max_frames": args.max_frames, "noise_runs": args.noise_runs}
    holder["table"] = PrecisionTable(deploy.tracker, cells, verdicts, machine_info(), settings)
    skipped = "" if gpu else "; TensorRT engines not run (no GPU)"
    return "ok", f"{len(runners)} configurations x {len(paths)} sequences{skipped}"


def sequences(args: argparse.Namespace) -> list[Path]:
    from masktrt.commands.parity import sequence_paths
    from masktrt.training.synthetic import demo_sequence_dir

    return sequence_paths(args.sequence) if args.sequence else [demo_sequence_dir()]


class opened_runners:
    """The reference and every configuration's runner, all closed on exit (one owner)."""

    def __init__(self, args: argparse.Namespace, deployment: Deployment, model: Any,
                 tracker: str, meaning: dict, gpu: bool) -> None:
        from contextlib import ExitStack

        self.args, self.deployment, self.model = args, deployment, model
        self.tracker, self.meaning, self.gpu = tracker, meaning, gpu
        self.stack = ExitStack()

    def open(self, backend: str, **options: Any) -> Any:
        from masktrt.runtime.backends import open_runner

        return self.stack.enter_context(open_runner(backend, **options))

    def __enter__(self) -> tuple[Any, list[tuple[str, str, Any]]]:
        args = self.args
        runners = [(f"onnxruntime-{p}", p, self.open("onnxruntime", onnx_dir=folder,
                                                     provider=args.provider, threads=args.threads))
                   for p, folder in self.deployment.folders.items()]
        if self.gpu:
            runners += [(f"tensorrt-{p}", p, self.open("tensorrt", engine_dir=folder))
                        for p, folder in self.deployment.engines.items()]
        reference = self.open("torch", model=self.model, tracker=self.tracker, options=self.meaning)
        return reference, runners

    def __exit__(self, *exc: object) -> None:
        self.stack.close()


def recommend(deployment: Deployment, table: Any) -> tuple[str, str]:
    """The fastest passing configuration, written for open_tracker; none passing is a failure."""
    from masktrt.benchmarks import recommendation
    from masktrt.benchmarks.precision_table import speed

    passed = {v.backend: v.passed for v in table.verdicts}
    candidates = [{"backend": name.split("-")[0], "precision": name.split("-")[1],
                   "folder": folder_of(deployment, name), "passed": ok,
                   "ms_median": speed(table.ms(name))["ms_median"]} for name, ok in passed.items()]
    chosen = recommendation.choose(candidates)
    stale = deployment.out / recommendation.RECOMMENDED
    if chosen is None:
        stale.unlink(missing_ok=True)
        return "FAILED", "no configuration passed its accuracy verdict: see the report"
    recommendation.write(deployment.out, chosen)
    return "ok", f"{chosen.backend} {chosen.precision} ({chosen.folder}): {chosen.why}"


def folder_of(deployment: Deployment, name: str) -> str:
    backend, precision = name.split("-")[:2]
    folders = deployment.folders if backend == "onnxruntime" else deployment.engines
    return str(folders[precision].relative_to(deployment.out))


def contact_sheet(args: argparse.Namespace, deployment: Deployment, table: Any) -> tuple[str, str]:
    """Frames of the first sequence tracked by the recommended configuration, drawn."""
    from masktrt.api import FOLDER_OPTION
    from masktrt.benchmarks import recommendation
    from masktrt.benchmarks.contact_sheet import write_contact_sheet
    from masktrt.benchmarks.deploy_report import SHEET
    from masktrt.benchmarks.precision_table import timed_trajectory
    from masktrt.commands.precision import preset_for
    from masktrt.runtime.backends import open_runner
    from masktrt.runtime.contract import load_contract
    from masktrt.runtime.sequences import load_sequence

    chosen = recommendation.read(deployment.out)
    (deployment.out / SHEET).unlink(missing_ok=True)
    if chosen is None:
        return "skipped", "no recommended configuration to show"
    seq = load_sequence(sequences(args)[0])
    folder = deployment.out / chosen.folder
    with open_runner(chosen.backend, **{FOLDER_OPTION[chosen.backend]: folder}) as runner:
        results, _ = timed_trajectory(runner, seq, preset_for(args.preset, load_contract(
            deployment.folders["fp32"])), table.tracker, args.max_frames)
    path = write_contact_sheet(seq, results, deployment.out / SHEET)
    return "ok", f"{path} ({seq.name}, {chosen.backend} {chosen.precision})"


def report(deployment: Deployment, table: Any) -> tuple[str, str]:
    from masktrt.benchmarks.deploy_report import write_report

    paths = write_report(deployment.out, table, deployment.stages)
    return "ok", ", ".join(str(p) for p in paths)
