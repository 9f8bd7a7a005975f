"""`masktrt parity --level tensor`: passes on a faithful export, fails on a perturbed one."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from tests.helpers.export_helpers import export_small, real_crops, small_model
from masktrt.cli import main
from tests.conftest import real_sequence
from masktrt.trackers.siammask.export.export_side import REFINE_POSITIONS
from masktrt.export.parity_tensor import sequence_crops, tensor_parity
from masktrt.runtime.contract import DEPLOY_FILE, load_contract


@pytest.fixture(scope="module")
def model():
    return small_model()


@pytest.fixture(scope="module")
def exported(model, tmp_path_factory):
    return export_small(model, tmp_path_factory.mktemp("parity"))


@pytest.fixture(scope="module")
def crops():
    return [real_crops("davis-dog", frames=1)]


def perturbed_copy(src: Path, dst: Path, graph: str = "search") -> Path:
    """A copy whose `graph` has its largest 4-D initializer scaled by 1.01 (one layer, 1%), with
    deploy.json recording the new hash: a numerically wrong export (an exporter bug), not a file
    changed behind the contract's back (which loading refuses before parity runs)."""
    from masktrt.provenance import sha256_file

    shutil.copytree(src, dst)
    proto = onnx.load(dst / f"{graph}.onnx")
    inits = [i for i in proto.graph.initializer if len(i.dims) == 4]
    target = max(inits, key=lambda i: int(np.prod(i.dims)))
    target.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(target) * 1.01, target.name))
    onnx.save(proto, dst / f"{graph}.onnx")
    doc = json.loads((dst / DEPLOY_FILE).read_text())
    doc["graphs"][graph]["sha256"] = sha256_file(dst / f"{graph}.onnx")
    (dst / DEPLOY_FILE).write_text(json.dumps(doc))
    return dst


def test_refine_positions_include_both_corners() -> None:
    rows = {p[0] for p in REFINE_POSITIONS} | {p[1] for p in REFINE_POSITIONS}
    assert {0, 24} <= rows


def test_sequence_crops_are_real_tracker_crops() -> None:
    crops = sequence_crops(real_sequence("otb-crossing"), frames=3)
    assert crops.z.shape == (1, 3, 127, 127) and crops.z.dtype == np.float32
    assert len(crops.xs) == 3 and all(x.shape == (1, 3, 255, 255) for x in crops.xs)
    assert crops.z.min() >= 0 and crops.z.max() <= 255 and crops.z.std() > 5  # a real image


def test_faithful_export_passes_with_a_table(model, exported, crops) -> None:
    report = tensor_parity(model, exported, crops, positions=((0, 0), (24, 24), (12, 5)))
    table = report.table()
    print(table)
    assert report.passed and "FAIL" not in table
    assert len(report.rows) == 3 + 6 + 1  # every output of the three graphs
    assert all(row.max_rel < row.budget.value for row in report.rows)
    assert next(r for r in report.rows if r.output == "cls").max_abs > 0  # a real comparison
    assert "overall: PASS" in table


def test_perturbed_graph_fails(model, exported, crops, tmp_path) -> None:
    bad = load_contract(perturbed_copy(exported.root, tmp_path / "bad"))
    report = tensor_parity(model, bad, crops, positions=((12, 12),))
    failed = {(r.graph, r.output) for r in report.rows if not r.passed}
    assert not report.passed
    assert failed and all(graph == "search" for graph, _ in failed)
    assert "overall: FAIL" in report.table()


def test_cli_exits_nonzero_on_a_perturbed_graph(exported, tmp_path, capsys) -> None:
    """The command rebuilds the reference from deploy.json (random:0, width, pairs)."""
    dog = str(real_sequence("davis-dog"))  # skips with a message where ../shared/data is absent
    bad = perturbed_copy(exported.root, tmp_path / "bad", graph="refine")
    code = main(["parity", "--level", "tensor", "--onnx", str(bad), "--sequence", dog,
                 "--frames-per-sequence", "1"])
    out = capsys.readouterr().out
    assert code == 1
    assert "refine    mask" in out and "FAIL" in out
    assert main(["parity", "--level", "tensor", "--onnx", str(exported.root), "--sequence",
                 dog, "--frames-per-sequence", "1"]) == 0
