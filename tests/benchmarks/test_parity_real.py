"""CI's closed-loop parity: ONNX Runtime FP32 vs the PyTorch reference on real sequences.

Runs `masktrt parity --level closed-loop` exactly as a user would, on one DAVIS and one VOT
sequence, for every tracker with the shipped demo checkpoint (trained, so its score maps are
peaked and an argmax flip means something) or, for a tracker without one, its seeded random
model (OceanPlus at width 0.25: the same graph structure at a CI-affordable cost).
"""
from __future__ import annotations

import json

import pytest

from masktrt.paths import demo_weights
from tests.conftest import real_sequence

pytestmark = [pytest.mark.slow, pytest.mark.data]


RANDOM_WIDTH = {"siammask": 1.0, "oceanplus": 0.25}


def weights_args(tracker: str) -> list[str]:
    weights = demo_weights(tracker)
    if weights:
        return ["--checkpoint", str(weights)]
    return ["--random-weights", "--width", str(RANDOM_WIDTH[tracker])]


@pytest.mark.parametrize("tracker", list(RANDOM_WIDTH))
@pytest.mark.parametrize("name", [pytest.param("davis-blackswan", marks=pytest.mark.ci), "vot-bag"])
def test_closed_loop_parity_onnxruntime_fp32(tracker, name, tmp_path, capsys):
    from masktrt.cli import main

    path = real_sequence(name)
    args = ["parity", "--level", "closed-loop", "--tracker", tracker, "--sequence", str(path),
            "--threads", "2", "--noise-runs", "1", "--report", str(tmp_path / "parity.json")]
    code = main(args + weights_args(tracker))
    out = capsys.readouterr().out
    print(out)  # the table lands in CI's log
    report = json.loads((tmp_path / "parity.json").read_text())
    (row,) = report["rows"]
    assert row["sequence"] == name and row["backend"] == "onnxruntime-fp32"
    assert len(row["per_frame"]["box_iou"]) == len(list((path / "frames").iterdir())) - 1
    assert row["noise_floor"]["runs"] == 1 and "gt_box_drop" in row["noise_floor"], row["noise_floor"]
    assert f"noise floor onnxruntime-fp32 {name}: gt_box_drop" in out
    assert code == 0, out


@pytest.mark.ci  # CI runs it (make ci-slow), as the blackswan closed loops
@pytest.mark.parametrize("tracker", list(RANDOM_WIDTH))
def test_tensor_parity_onnxruntime_fp32(tracker, capsys):
    """Every graph of the tracker on crops of both sequences, within the spec's tensor budget."""
    from masktrt.cli import main

    paths = [str(real_sequence(n)) for n in ("davis-blackswan", "vot-bag")]
    code = main(["parity", "--level", "tensor", "--tracker", tracker, "--sequence", *paths]
                + weights_args(tracker))
    out = capsys.readouterr().out
    print(out)
    assert "overall: PASS" in out and code == 0, out
