"""Frame-level and closed-loop parity: agreeing backends pass, a perturbed one fails."""
from __future__ import annotations

import numpy as np
import pytest

from masktrt.benchmarks.parity import (closed_loop, format_table, frame_level, rows_to_json,
                                       run_trajectory)
from masktrt.runtime.backends.base import RunnerBase
from masktrt.trackers.siammask.spec import SEARCH, SPEC, preset
from masktrt.runtime.sequences import load_sequence
from masktrt.training.synthetic import generate_sequence, write_davis

pytest.importorskip("torch")
from masktrt.export.torch_backend import TorchRunner  # noqa: E402
from tests.helpers.export_helpers import export_small, small_model  # noqa: E402

FRAMES = 5


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("parity")
    write_davis(generate_sequence(seed=7, num_frames=FRAMES, size=(240, 320)), root / "seq")
    model = small_model()
    export_small(model, root / "onnx")
    return load_sequence(root / "seq"), TorchRunner(model), root / "onnx"


class ShiftedRunner(RunnerBase):
    """Moves every decoded box by a quarter of its anchor: a deliberately wrong backend."""

    name = "shifted"

    def __init__(self, inner):
        self.inner = inner

    def run(self, graph, feeds, keep_on_device=()):
        out = self.inner.run(graph, feeds, keep_on_device)
        if graph == SEARCH:
            out = {**out, "loc": out["loc"].copy()}
            out["loc"][:, :10] += 0.25  # dx and dy of every anchor
        return out


def test_onnxruntime_fp32_agrees_with_torch_in_closed_loop(setup):
    from masktrt.runtime.backends import open_runner

    seq, reference, onnx_dir = setup
    config = preset("davis")
    ref = run_trajectory(reference, seq, config)
    assert len(ref) == FRAMES
    row = closed_loop(ref, open_runner("onnxruntime", onnx_dir=onnx_dir), "ort", seq, config)
    assert row.per_frame["box_iou"].shape == (FRAMES - 1,)
    assert row.budgets == SPEC.budgets_for("closed-loop", "fp32") and row.budgets
    assert row.passed, format_table([row])
    assert row.summary("box_iou")[0] > 0.99


def test_a_perturbed_backend_fails_closed_loop_and_frame_level(setup):
    seq, reference, _ = setup
    config = preset("davis")
    ref = run_trajectory(reference, seq, config)
    bad = closed_loop(ref, ShiftedRunner(reference), "shifted", seq, config)
    assert not bad.passed
    assert "FAIL" in format_table([bad])
    assert bad.first_below("box_iou", 0.9) == 1  # the very first tracked frame already moves
    frame = frame_level(reference, ShiftedRunner(reference), "shifted", seq, config)
    assert not frame.passed


def test_identical_backends_agree_exactly_and_report_is_json(setup):
    seq, reference, _ = setup
    config = preset("davis")
    row = frame_level(reference, reference, "torch", seq, config)
    for metric in ("box_iou", "polygon_iou", "mask_iou"):
        assert np.all(row.per_frame[metric] > 1 - 1e-9), (metric, row.per_frame)
    doc = rows_to_json([row])
    assert doc["rows"][0]["passed"] is True
    assert len(doc["rows"][0]["per_frame"]["mask_iou"]) == FRAMES - 1


def test_parity_cli_closed_loop_exit_code(setup, capsys):
    from masktrt.cli import main

    seq, _, onnx_dir = setup
    code = main(["parity", "--level", "closed-loop", "--onnx", str(onnx_dir),
                 "--sequence", str(seq.root), "--max-frames", "3"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "closed-loop" in out and "PASS" in out


def test_a_level_without_budgets_is_an_error_not_a_pass():
    from masktrt.benchmarks.parity import loop_budgets
    from masktrt.errors import MasktrtError

    assert loop_budgets("closed-loop", "fp16")
    with pytest.raises(MasktrtError, match="no frame parity budget"):
        loop_budgets("frame", "bf16")


def test_branch_counts_count_text_and_flag_values_only():
    """The closed loop's branch summary: text and bool `extra` values are counted per frame,
    numbers are not (they are measurements, not branches)."""
    import numpy as np

    from masktrt.benchmarks.parity import ParityRow, branch_counts, branch_lines
    from masktrt.types import FrameResult

    def result(flag, lost_seg):
        return FrameResult(np.zeros(2), np.ones(2), np.zeros((4, 2), np.float32), 0.5, False,
                           extra={"clf_flag": flag, "lost_seg": lost_seg, "search_scale": 1.5})

    counts = branch_counts([result("found", False), result("not_found", True),
                            result("found", False)])
    assert counts == {"clf_flag": {"found": 2, "not_found": 1},
                      "lost_seg": {"False": 2, "True": 1}}
    row = ParityRow("b", "seq", "closed-loop", "fp32", {}, branches=counts)
    assert branch_lines([row, row]) == [
        "branches of the reference, seq: clf_flag found 2, not_found 1; lost_seg False 2, True 1"]


def test_ground_truth_drops_judge_accuracy_and_say_where_they_do_not_apply(tmp_path):
    """The closed loop's ground-truth budgets (RTS's): IoU(reference, truth) - IoU(backend,
    truth) per frame; a sequence without masks lists the mask budget as n/a, and a backend
    that tracks worse than the reference fails even where the reference itself is poor."""
    from dataclasses import replace

    from masktrt.benchmarks.parity import GT_METRICS, ParityRow, accuracy_drops
    from masktrt.errors import MasktrtError
    from masktrt.trackers.rts.spec import SPEC as RTS_SPEC
    from masktrt.types import FrameResult

    def at(x):
        return FrameResult(np.array([x + 10.0, 20.0]), np.array([20.0, 20.0]),
                           np.zeros((4, 2), np.float32), 0.5, False)

    seq = replace(load_sequence(write_davis(generate_sequence(seed=7, num_frames=3, size=(64, 64)),
                                            tmp_path / "s")), mask_paths=None)
    seq = replace(seq, boxes=np.array([[0.0, 10.0, 20.0, 20.0]] * 3))
    good, shifted = [(at(0), at(0))] * 2, [(at(0), at(10))] * 2
    assert set(accuracy_drops(seq, good)) == {GT_METRICS[0], "gt_ref_box", "gt_test_box"}  # no masks: no mask drop
    np.testing.assert_allclose(accuracy_drops(seq, shifted)["gt_box_drop"], [1 - 1 / 3] * 2)
    budgets = RTS_SPEC.budgets_for("closed-loop", "fp32")
    rows = [ParityRow("b", seq.name, "closed-loop", "fp32",
                      {"box_iou": np.ones(2), "polygon_iou": np.ones(2), "mask_iou": np.ones(2),
                       **accuracy_drops(seq, pairs)}, budgets) for pairs in (good, shifted)]
    assert rows[0].passed and not rows[1].passed
    assert [b.metric for b in rows[0].not_applicable()] == ["gt_mask_drop_mean"]
    assert "n/a (no such ground truth)" in format_table(rows)
    assert rows_to_json(rows)["rows"][1]["summary"]["gt_box_drop"]["mean"] > 0.6
    typo = replace(budgets[0], name="typo", metric="box_iuo_mean")
    with pytest.raises(MasktrtError, match="'box_iuo', which parity does not measure"):
        ParityRow("b", seq.name, "closed-loop", "fp32", rows[0].per_frame, [typo]).checks()
