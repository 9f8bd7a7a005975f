"""CI's closed-loop parity: ONNX Runtime FP32 vs the PyTorch reference on real sequences.

Runs `masktrt parity --level closed-loop` exactly as a user would, on one DAVIS and one VOT
sequence, with the shipped demo checkpoint (trained, so its score maps are peaked and an argmax
flip means something) or, in a build without it, the seeded random model.
"""
from __future__ import annotations

import json

import pytest

from masktrt.paths import demo_weights
from tests.conftest import real_sequence

pytestmark = [pytest.mark.slow, pytest.mark.data]


@pytest.mark.parametrize("name", ["davis-blackswan", "vot-bag"])
def test_closed_loop_parity_onnxruntime_fp32(name, tmp_path, capsys):
    from masktrt.cli import main

    path = real_sequence(name)
    weights = demo_weights()
    args = ["parity", "--level", "closed-loop", "--sequence", str(path), "--threads", "2",
            "--report", str(tmp_path / "parity.json")]
    args += ["--checkpoint", str(weights)] if weights else ["--random-weights"]
    code = main(args)
    out = capsys.readouterr().out
    print(out)  # the table lands in CI's log
    report = json.loads((tmp_path / "parity.json").read_text())
    (row,) = report["rows"]
    assert row["sequence"] == name and row["backend"] == "onnxruntime-fp32"
    assert len(row["per_frame"]["box_iou"]) == len(list((path / "frames").iterdir())) - 1
    assert code == 0, out
