"""`masktrt eval --tracker NAME`: the one evaluation harness runs every registered tracker's
PyTorch reference by its spec's held-out protocol (issue 28 item 5), on a tiny generated DAVIS
sequence here (the real held-out table is the model cards' figures)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from masktrt import registry
from masktrt.cli import main

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def sequence(tmp_path_factory) -> Path:
    from masktrt.training.synthetic import generate_sequence, write_davis

    return write_davis(generate_sequence(seed=5, num_frames=4, size=(120, 160)),
                       tmp_path_factory.mktemp("seq") / "toy")


@pytest.mark.parametrize("name", registry.names())
def test_every_tracker_is_evaluated_by_its_own_protocol(name, sequence, tmp_path, capsys) -> None:
    out = tmp_path / "eval"
    assert main(["eval", "--tracker", name, "--sequence", str(sequence), "--threads", "1",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    report = json.loads((out / "held_out.json").read_text())
    (row,) = report["sequences"]
    protocol = registry.spec(name).held_out
    assert row["sequence"] == "toy" and row["frames"] == 4 and 0.0 <= row["J"] <= 1.0
    assert row.get("init") == ("mask" if protocol.start_from_mask else None)
    assert report["tracker"] == name and report["source"]["kind"] == "checkpoint"
    assert "| toy | 4 |" in printed and (out / "held_out.md").read_text().startswith("| sequence")


def test_synthetic_sequences_are_added_on_request(sequence, capsys) -> None:
    assert main(["eval", "--tracker", "siammask", "--sequence", str(sequence), "--threads", "1",
                 "--synthetic", "1"]) == 0
    assert "held-out synthetic: mean J" in capsys.readouterr().out


@pytest.mark.parametrize("argv,message", [
    (["eval"], "give --pred"),
    (["eval", "--tracker", "siammask", "--sequence", "no-such-sequence"], "none of no-such-sequence"),
    (["eval", "--sequence", "a", "b", "--pred", "p"], "exactly one --sequence"),
])
def test_nothing_to_score_is_one_line(argv, message, capsys) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) <= 2
