"""CI's precision verdict (issue 26): what FP16 loses against the ground truth, teacher-forced,
within the spec's accuracy budget; and a deliberately broken graph fails the same gate.

Runs `masktrt parity --level accuracy` as a user would, with SiamMask's and OceanPlus's shipped
weights, on one DAVIS sequence (masks: J) and one VOT sequence (boxes), capped at 60 frames each
for CI's time. (RTS's FP16 verdict needs minutes per sequence on a CPU: tests/benchmarks/
test_parity_rts.py, `make parity`.)
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from masktrt.paths import demo_weights
from tests.conftest import real_sequence

pytestmark = [pytest.mark.slow, pytest.mark.ci, pytest.mark.data]  # ci: CI runs these (make ci-slow)
SEQUENCES = ("davis-blackswan", "vot-bag")
MAX_FRAMES = 60


def accuracy(tmp_path: Path, *extra: str) -> tuple[int, dict]:
    from masktrt.cli import main

    report = tmp_path / "accuracy.json"
    paths = [str(real_sequence(n)) for n in SEQUENCES]
    code = main(["parity", "--level", "accuracy", "--sequence", *paths, "--max-frames", str(MAX_FRAMES),
                 "--threads", "2", "--report", str(report), *extra])
    return code, json.loads(report.read_text())


@pytest.mark.parametrize("tracker", ["siammask", "oceanplus"])
def test_fp16_loses_no_more_than_its_budget(tmp_path, capsys, tracker: str) -> None:
    code, report = accuracy(tmp_path, "--tracker", tracker, "--checkpoint",
                            str(demo_weights(tracker)), "--precision", "fp16")
    out = capsys.readouterr().out
    print(out)
    (verdict,) = report["verdicts"]
    assert verdict["precision"] == "fp16" and len(verdict["budgets"]) == 2
    scored = sum(min(MAX_FRAMES, len(list((real_sequence(n) / "frames").iterdir()))) - 1
                 for n in SEQUENCES)
    assert verdict["drops"]["gt_box_drop"]["frames"] == scored
    assert code == 0 and verdict["passed"], out


def break_cls_head(folder: Path) -> None:
    """Negate the conv that produces search's `cls`: the tracker then prefers background."""
    import onnx
    from onnx import numpy_helper

    from masktrt.provenance import sha256_file

    path = folder / "search.onnx"
    model = onnx.load(str(path))
    producers = {out: node for node in model.graph.node for out in node.output}
    node = producers["cls"]
    while node.op_type != "Conv":
        node = producers[node.input[0]]
    inits = {i.name: i for i in model.graph.initializer}
    for name in node.input[1:]:
        if name in inits:
            inits[name].CopyFrom(numpy_helper.from_array(-numpy_helper.to_array(inits[name]), name))
    onnx.save(model, str(path))
    deploy = json.loads((folder / "deploy.json").read_text())
    deploy["graphs"]["search"]["sha256"] = sha256_file(path)
    (folder / "deploy.json").write_text(json.dumps(deploy))


def test_a_broken_graph_fails_the_gate(tmp_path, capsys) -> None:
    from masktrt.cli import main

    onnx_dir = tmp_path / "onnx"
    assert main(["export", "--checkpoint", str(demo_weights("siammask")), "--out", str(onnx_dir)]) == 0
    break_cls_head(onnx_dir)
    code, report = accuracy(tmp_path, "--onnx", str(onnx_dir))
    out = capsys.readouterr().out
    print(out)
    (verdict,) = report["verdicts"]
    assert code == 1 and not verdict["passed"], out
    assert verdict["drops"]["gt_box_drop"]["mean"] > 0.05, verdict["drops"]
