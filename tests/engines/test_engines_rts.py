"""TensorRT-RTX engines of every RTS graph (seeded weights, small trace sizes, no GPU).

CI's matrix (`-m slow`): all graphs — features (B=1 and 5), head, label encoder, the four
fixed-iteration learners and STA — in FP32 and FP16 (MatMul filtering, the default), each
engine's I/O checked against deploy.json (names and shapes); and the graphs that apply an input
filter exported with `filtering=conv` (tensor-weight Conv) in FP32. Which ops the FP16 ONNX keeps FP32 is checked on the graphs
(tests/export/test_rts_export.py), not on the engines.
"""
from __future__ import annotations


import pytest

pytest.importorskip("tensorrt_rtx")
pytest.importorskip("torch")
from tests.helpers.rts_helpers import export_rts, rts_model  # noqa: E402

from masktrt.engines import build_matrix  # noqa: E402
from masktrt.runtime.contract import load_contract  # noqa: E402
from masktrt.trackers.rts.spec import FILTERING, SPEC  # noqa: E402

pytestmark = pytest.mark.slow


def test_ci_matrix_every_rts_graph_fp32_fp16(tmp_path, capsys) -> None:
    model = rts_model()
    folders = [export_rts(model, tmp_path / p, precision=p).root for p in ("fp32", "fp16")]
    records = build_matrix(folders, tmp_path / "engines")
    print(capsys.readouterr().out)  # the summary table lands in CI's log (make parity -rP)
    assert {(r.name, r.meta["precision"]) for r in records} == {
        (g, p) for g in SPEC.graph_names for p in ("fp32", "fp16")}
    for folder in folders:
        contract = load_contract(folder)
        for record in (r for r in records if r.meta["precision"] == contract.precision):
            graph = contract.graph(record.name)
            assert [t["name"] for t in record.meta["inputs"]] == [t.name for t in graph.inputs]
            assert [t["name"] for t in record.meta["outputs"]] == [t.name for t in graph.outputs]
            assert [t["shape"] for t in record.meta["inputs"]] == [list(t.shape) for t in graph.inputs]


def test_conv_filtering_graphs_build_too(tmp_path, capsys) -> None:
    """`--option filtering=conv` is the alternative where a TensorRT version convolves with
    input kernels faster than it multiplies: its graphs (head, learners, STA with tensor-weight
    Conv) must build as well."""
    from tests.helpers.rts_helpers import SMALL_OPTIONS

    folder = export_rts(rts_model(), tmp_path / "conv", options={**SMALL_OPTIONS, FILTERING: "conv"}).root
    assert load_contract(folder).options[FILTERING] == "conv"
    records = build_matrix([folder], tmp_path / "engines")
    print(capsys.readouterr().out)
    assert {r.name for r in records} == set(SPEC.graph_names)
