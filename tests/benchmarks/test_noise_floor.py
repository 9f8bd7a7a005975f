"""The closed loop's noise floor (benchmarks/noise_floor.py): the reference perturbed at the
judged precision's rounding size, and the floor printed beside every closed-loop row."""
from __future__ import annotations

import numpy as np

from masktrt.benchmarks.noise_floor import EPS, PerturbedRunner
from masktrt.benchmarks.parity import ParityRow, noise_lines


class Fixed:
    name = "fixed"

    def run(self, graph, feeds, keep_on_device=()):
        return {"score": np.ones((2, 3), np.float32), "pos": np.array([4, 5], np.int64)}


def test_only_float_outputs_move_and_only_by_rounding_size() -> None:
    out = PerturbedRunner(Fixed(), EPS["fp16"], seed=0).run("g", {})
    assert out["pos"].tolist() == [4, 5] and out["score"].dtype == np.float32
    moved = np.abs(out["score"] - 1.0)
    assert 0 < moved.max() < 10 * EPS["fp16"]
    again = PerturbedRunner(Fixed(), EPS["fp16"], seed=0).run("g", {})
    assert np.array_equal(out["score"], again["score"])  # seeded: the floor repeats
    assert PerturbedRunner(Fixed(), EPS["fp16"], seed=0).name == "fixed"  # the rest is the runner's


def row(drop: float, noise: dict, runs: int) -> ParityRow:
    per_frame = {"box_iou": np.ones(3), "gt_box_drop": np.full(3, drop)}
    return ParityRow("onnxruntime-fp16", "seq", "closed-loop", "fp16", per_frame,
                     noise=noise, noise_runs=runs)


def test_each_drop_is_printed_beside_the_floor() -> None:
    assert "within the reference's own ±0.0100" in noise_lines([row(0.004, {"gt_box_drop": 0.01}, 2)])[0]
    assert "beyond" in noise_lines([row(0.05, {"gt_box_drop": 0.01}, 2)])[0]
    assert "not measured" in noise_lines([row(0.05, {}, 0)])[0]
    assert "within" in noise_lines([row(1e-9, {"gt_box_drop": 0.0}, 1)])[0]  # rounding, not drift
    assert "(1 FP32 reference run perturbed" in noise_lines([row(0.0, {"gt_box_drop": 0.0}, 1)])[0]
