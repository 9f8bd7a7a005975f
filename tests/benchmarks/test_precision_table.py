"""`masktrt precision`: one table per backend and precision from one run, and its parts."""
from __future__ import annotations

import json

import numpy as np
import pytest

from masktrt.benchmarks import precision_table as pt
from masktrt.errors import MasktrtError
from masktrt.types import FrameResult


class Truthful:
    """A sequence stand-in with boxes and masks, and results that copy them."""

    name = "toy"
    has_masks = True

    def __init__(self, frames: int = 5) -> None:
        self.boxes = np.array([[10.0 + t, 12.0, 20.0, 16.0] for t in range(frames)])

    def mask(self, t: int) -> np.ndarray:
        x, y, w, h = self.boxes[t].astype(int)
        out = np.zeros((60, 80), np.uint8)
        out[y:y + h, x:x + w] = 1
        return out

    def results(self, shift: float = 0.0) -> list:
        def result(x: float, y: float, w: float, h: float, t: int) -> FrameResult:
            return FrameResult(center=np.array([x + w / 2, y + h / 2]), size=np.array([w, h]),
                               polygon=np.zeros((4, 2)), score=1.0, lost=False,
                               mask=np.roll(self.mask(t), int(shift), axis=1))

        return [result(x + shift, y, w, h, t) for t, (x, y, w, h) in enumerate(self.boxes)]


def test_a_perfect_trajectory_scores_one_and_a_shifted_one_less() -> None:
    seq = Truthful()
    perfect = pt.score(seq, seq.results()).means()
    assert perfect["J"] == pytest.approx(1.0) and perfect["box_iou"] == pytest.approx(1.0)
    assert perfect["F"] == pytest.approx(1.0)
    shifted = pt.score(seq, seq.results(shift=4)).means()
    assert shifted["J"] < 0.9 and shifted["box_iou"] < 0.9


def test_the_drop_is_reference_minus_backend_with_an_interval_around_it() -> None:
    d = pt.drop(np.array([0.9, 0.8, 0.7, 0.9]), np.array([0.8, 0.8, 0.6, 0.9]), "gt_mask_drop")
    assert d.mean == pytest.approx(0.05) and d.low <= d.mean <= d.high and d.frames == 4
    assert pt.drop(None, np.ones(3), "gt_mask_drop") is None  # no masks: not measured


def test_speed_is_median_and_p99_and_nothing_timed_says_so() -> None:
    assert pt.speed(np.array([1.0, 2.0, 3.0, 100.0])) == {"ms_median": 2.5,
                                                        "ms_p99": pytest.approx(97.09)}
    assert pt.speed(np.zeros(0)) == {"ms_median": None, "ms_p99": None}
    assert pt._ms(np.zeros(0)) == "not measured"


def test_unknown_precisions_are_refused_in_one_line() -> None:
    from masktrt.commands.precision import precisions_of

    assert precisions_of("fp16, fp32") == ["fp16", "fp32"]
    with pytest.raises(MasktrtError, match="--int8 DIR"):
        precisions_of("int8")


def test_the_command_writes_one_table_of_every_backend_from_one_run(tmp_path, capsys,
                                                                    monkeypatch) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    from masktrt.cli import main
    from masktrt.training.synthetic import demo_sequence_dir

    monkeypatch.setenv("MASKTRT_CACHE", str(tmp_path / "cache"))
    sequence = demo_sequence_dir(seed=1, num_frames=5, size=(96, 128))
    code = main(["precision", "--random-weights", "--width", "0.125", "--sequence", str(sequence),
                 "--noise-runs", "1", "--out", str(tmp_path / "table")])
    out = capsys.readouterr().out
    report = json.loads((tmp_path / "table" / "precision.json").read_text())
    cells = report["cells"]
    assert [c["backend"] for c in cells] == ["torch-fp32", "onnxruntime-fp32", "onnxruntime-fp16"]
    assert all(c["frames"] == 4 and c["ms_median"] > 0 and c["ms_p99"] >= c["ms_median"]
               for c in cells)
    assert all(c["J"] is not None and c["F"] is not None for c in cells)  # the sequence has masks
    assert all({"crop", "search", "refine"} <= set(c["stages_ms_median"]) for c in cells)
    fp32 = cells[1]
    assert fp32["drops"]["gt_box_drop"]["mean"] == pytest.approx(0.0, abs=1e-3)  # same loop
    assert [v["precision"] for v in report["verdicts"]] == ["fp32", "fp16"]
    assert code == (0 if all(v["passed"] for v in report["verdicts"]) else 1)
    assert (tmp_path / "table" / "precision.png").stat().st_size > 0
    assert "| sequence | backend |" in (tmp_path / "table" / "precision.md").read_text()
    assert "speed vs torch FP32" in out and "FP32 convolutions" in out


def test_the_table_runs_the_trackers_evaluation_preset_unless_told() -> None:
    from types import SimpleNamespace

    from masktrt import registry
    from masktrt.commands.precision import preset_for

    deploy = SimpleNamespace(tracker="oceanplus", preset=registry.spec("oceanplus").preset())
    assert preset_for(None, deploy).name == registry.spec("oceanplus").held_out.preset == "davis2016"
    assert preset_for("vot2020", deploy).name == "vot2020"
