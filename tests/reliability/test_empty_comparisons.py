"""A comparison of nothing is a failure, never a pass (issue 29.2).

Parity rows with zero compared frames or no applicable budget, a tensor report that ran no graph,
an INT8 gate with no rows, and `masktrt eval` on a run with no scorable frame.
"""
from __future__ import annotations

import cv2
import numpy as np

from masktrt.benchmarks.parity import ParityRow, format_table, loop_budgets
from masktrt.budgets import Budget
from masktrt.calibration.gate import passed as gate_passed
from masktrt.export.parity_tensor import ParityReport, ParityRow as TensorRow

METRICS = ("box_iou", "polygon_iou", "mask_iou")


def row(frames: int, budgets: list[Budget]) -> ParityRow:
    per_frame = {m: np.ones(frames) for m in METRICS}
    return ParityRow("onnxruntime-cpu", "seq", "closed-loop", "fp32", per_frame, budgets)


def test_a_parity_row_that_compared_no_frame_fails() -> None:
    empty = row(0, loop_budgets("closed-loop", "fp32"))
    assert empty.problem() == "compared 0 frames" and not empty.passed
    assert "FAIL (compared 0 frames)" in format_table([empty])
    assert row(3, loop_budgets("closed-loop", "fp32")).passed  # the same row with frames passes


def test_a_parity_row_no_budget_applies_to_fails() -> None:
    assert not row(3, []).passed and row(3, []).problem() == "no budget applies to this sequence"


def test_a_tensor_report_that_ran_no_graph_fails() -> None:
    budget = Budget("tensor fp32", "tensor", "fp32", "max_rel", 1e-4, "max", "test")
    report = ParityReport("fp32", {}, [TensorRow("search", "cls", budget)])
    assert not report.passed and "nothing compared" in report.table()
    report.compared = 1
    assert report.passed
    assert not ParityReport("fp32", {}, [], compared=1).passed


def test_a_gate_with_no_rows_fails() -> None:
    assert not gate_passed([]) and gate_passed([row(2, loop_budgets("closed-loop", "fp32"))])


def test_eval_of_a_run_with_no_scorable_frame_is_an_error(tmp_path, monkeypatch, capsys) -> None:
    from masktrt.cli import main

    seq = tmp_path / "seq"
    (seq / "frames").mkdir(parents=True)
    for i in range(3):
        cv2.imwrite(str(seq / "frames" / f"{i:05d}.jpg"), np.zeros((32, 32, 3), np.uint8))
    (seq / "groundtruth.txt").write_text("4,4,10,10\n" * 3)
    pred = tmp_path / "pred"
    pred.mkdir()
    (pred / "boxes.txt").write_text("4,4,10,10\n")
    assert main(["eval", "--sequence", str(seq), "--pred", str(pred), "--max-frames", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nothing to score" in err[0], err


def test_a_load_test_that_compared_no_frame_fails() -> None:
    from masktrt.runtime.serve.loadtest import Check, rows_passed

    row = {"frames": 0, "dropped": 0, "mismatches": 0}
    assert not Check().passed and not rows_passed([row]) and not rows_passed([])
    assert rows_passed([{**row, "frames": 30}]) and not rows_passed([{**row, "frames": 30, "dropped": 1}])
