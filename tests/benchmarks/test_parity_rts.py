"""CI's RTS parity through the CLI at the small export sizes: ONNX Runtime FP32 vs PyTorch.

`masktrt parity --tracker rts` exactly as a user runs it, with the export option
`sizes=128x224/4/8` (crop 128x224, 4 seg / 8 clf memory slots: the same ops as the deployment's
480x832 / 32 / 50, whose feature graph alone takes ~250 s to export on CI's 2 cores) and the
seeded random model (RTS and STA; no trained RTS ships). davis-blackswan starts from its
first-frame mask; vot-bag has no masks, so it starts from the box through STA. Closed loop
tracks the first FRAMES frames: the learners update every frame before frame 100, so these are
the frames where rounding re-enters the memories most often. With random weights the masks
saturate and the classifier reports not_found (spec §B3 lost logic), so the closed-loop figures
check that both runtimes take the same branches, not tracking accuracy.
"""
from __future__ import annotations

import json

import pytest

from tests.conftest import real_sequence

pytestmark = [pytest.mark.slow, pytest.mark.data]

SMALL = ["--option", "sizes=128x224/4/8"]
COMMON = ["--tracker", "rts", "--random-weights", "--threads", "2", *SMALL]
FRAMES = 40


def test_tensor_parity_rts_small_sizes(capsys):
    """Every RTS graph (STA included) on crops of both sequences, within the tensor budget."""
    from masktrt.cli import main

    paths = [str(real_sequence(n)) for n in ("davis-blackswan", "vot-bag")]
    code = main(["parity", "--level", "tensor", "--sequence", *paths, *COMMON])
    out = capsys.readouterr().out
    print(out)  # the table lands in CI's log
    assert "options {'sizes': '128x224/4/8'}" in out and "sta " in out
    assert "overall: PASS" in out and code == 0, out


@pytest.mark.parametrize("name", ["davis-blackswan", "vot-bag"])
def test_closed_loop_parity_rts_small_sizes(name, tmp_path, capsys):
    from masktrt.cli import main

    path = real_sequence(name)
    code = main(["parity", "--level", "closed-loop", "--sequence", str(path), "--max-frames",
                 str(FRAMES), "--report", str(tmp_path / "parity.json"), *COMMON])
    out = capsys.readouterr().out
    print(out)
    (row,) = json.loads((tmp_path / "parity.json").read_text())["rows"]
    assert row["sequence"] == name and row["backend"] == "onnxruntime-fp32"
    assert len(row["per_frame"]["box_iou"]) == FRAMES - 1
    assert code == 0, out
