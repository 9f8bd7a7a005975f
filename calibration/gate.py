"""The INT8 accuracy gate: closed-loop parity of quantised graphs against the FP32 trajectory.

Elementwise errors do not say whether the tracker still follows the same target: each frame's
crop is cut where the last prediction said, so small score changes compound. The gate tracks
sequences that were NOT used for calibration with the FP32 graphs (ONNX Runtime; the same graphs
unquantised, so every difference is quantisation's) and with each INT8 variant from the same
initial box, and compares the trajectories frame by frame against the `closed-loop`/`int8`
budgets of the shared table (mean and minimum box and mask IoU).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from typing import Any

from masktrt.benchmarks.parity import ParityRow, closed_loop, run_trajectory
from masktrt.errors import MasktrtError
from masktrt.runtime.backends import open_runner
from masktrt.runtime.contract import load_contract
from masktrt.runtime.sequences import Sequence, load_sequence
from masktrt.types import FrameResult


@dataclass
class Reference:
    """The FP32 trajectory of one gate sequence (frames limited)."""

    seq: Sequence
    results: list[FrameResult]


def check_disjoint(calibration: list[Path], gate: list[Path]) -> None:
    """Gating on a calibration sequence would measure the ranges on the test data."""
    shared = {Path(p).resolve() for p in calibration} & {Path(p).resolve() for p in gate}
    if shared:
        raise MasktrtError(f"gate sequence(s) {sorted(str(p) for p in shared)} were also used for "
                           "calibration", "gate on sequences not passed to --sequences")


def cpu_runner(folder: Path, threads: int = 0) -> Any:
    """The gate's runner: ONNX Runtime on the CPU (the U8S8 flavour is made for it)."""
    return open_runner("onnxruntime", onnx_dir=folder, provider="cpu", threads=threads)


def references(fp32_dir: Path, gate: list[Path], config: Any, frames: int,
               threads: int = 0) -> list[Reference]:
    """The FP32 trajectory of each gate sequence, tracked by the contract's tracker."""
    tracker = load_contract(fp32_dir).tracker
    with cpu_runner(fp32_dir, threads) as runner:
        return [_reference(runner, load_sequence(path), config, frames, tracker) for path in gate]


def _reference(runner: Any, seq: Sequence, config: Any, frames: int, tracker: str) -> Reference:
    return Reference(seq, run_trajectory(runner, seq, config, frames=frames, tracker=tracker))


def gate_variant(ort_dir: Path, name: str, refs: list[Reference], config: Any,
                 threads: int = 0) -> list[ParityRow]:
    """Closed-loop rows (one per gate sequence) of the INT8 graphs in `ort_dir`."""
    tracker = load_contract(ort_dir).tracker
    with cpu_runner(ort_dir, threads) as runner:
        return [closed_loop(ref.results, runner, name, ref.seq, config, precision="int8",
                            tracker=tracker) for ref in refs]


def passed(rows: list[ParityRow]) -> bool:
    return bool(rows) and all(row.passed for row in rows)


def summary_table(results: list[tuple[str, str, list[str], list[ParityRow]]]) -> str:
    """methods x keep-policies: kept blocks, per sequence mean/min box and mask IoU, verdict."""
    header = (f"{'method':<11} {'keep':<10} {'kept':>4} {'sequence':<16} {'box mean':>8} "
              f"{'box min':>7} {'mask mean':>9} {'mask min':>8} {'fps':>5} result")
    lines = [header, "-" * len(header)]
    for method, policy, kept, rows in results:
        for row in rows:
            box_mean, box_min = row.summary("box_iou")
            mask_mean, mask_min = row.summary("mask_iou")
            frames = row.per_frame["box_iou"].size + 1
            fps = frames / row.seconds if row.seconds else 0.0
            lines.append(f"{method:<11} {policy:<10} {len(kept):>4} {row.sequence:<16} "
                         f"{box_mean:>8.3f} {box_min:>7.3f} {mask_mean:>9.3f} {mask_min:>8.3f} "
                         f"{fps:>5.1f} {'PASS' if row.passed else 'FAIL'}")
    return "\n".join(lines)
