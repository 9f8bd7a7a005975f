"""The shipped demo weights: the demo runs on them, and their model-card figure holds."""
from __future__ import annotations

import json

import pytest

from masktrt.paths import demo_weights

pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(demo_weights() is None, reason="this build has no demo checkpoint")

MODEL_CARD_J = 0.825  # trackers/siammask/MODEL_CARD.md, held-out seeds 10000-10009
ISSUE_J = 0.6  # the acceptance bar of the demo checkpoint


def test_demo_tracks_the_generated_sequence_with_the_shipped_weights(tmp_path, capsys):
    from masktrt.cli import main

    assert main(["demo", "--max-frames", "12", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert str(demo_weights()) in printed and "J mean" in printed
    assert (tmp_path / "track.mp4").stat().st_size > 0
    assert len(list((tmp_path / "masks").glob("*.png"))) == 12
    report = json.loads((tmp_path / "eval.json").read_text())
    assert report["metrics"]["J_mean"] > ISSUE_J  # a trained model, not random weights
    deployed = tmp_path / "deploy"  # the demo deploys first: graphs, verdicts, recommendation
    for precision in ("fp32", "fp16"):
        assert (deployed / f"onnx-{precision}" / "deploy.json").is_file()
    assert (deployed / "report.html").is_file() and (deployed / "recommended.json").is_file()
    rows = json.loads((deployed / "precision.json").read_text())["verdicts"]
    assert {r["precision"] for r in rows} >= {"fp32", "fp16", "int8"}
    assert "tracking with the recommended configuration" in printed


@pytest.mark.slow
def test_held_out_synthetic_j_matches_the_model_card():
    from masktrt.trackers.siammask.export.checkpoint import load_checkpoint
    from masktrt.training.held_out import evaluate_synthetic

    result = evaluate_synthetic(load_checkpoint(demo_weights()), "siammask", count=10)
    assert result["mean_j"] >= ISSUE_J
    assert result["mean_j"] == pytest.approx(MODEL_CARD_J, abs=0.01)
