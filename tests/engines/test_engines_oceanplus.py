"""TensorRT-RTX engines from the REAL OceanPlus graphs (reduced-width random weights, no GPU).

The default run builds one export (dynamic, FP32): three engines, template and both track sizes,
with their I/O checked against deploy.json. `-m slow` runs the CI matrix: both correlation
strategies x FP32/FP16, every graph, with the summary table CI's log shows.
"""
from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("tensorrt_rtx")
torch = pytest.importorskip("torch")
onnx_export = pytest.importorskip("masktrt.export.onnx_export")

from masktrt import registry  # noqa: E402
from masktrt.engines import BuildRequest, build_engines, build_matrix  # noqa: E402
from masktrt.export.deploy import random_source  # noqa: E402
from masktrt.trackers.oceanplus.export.network import OceanPlus  # noqa: E402
from masktrt.runtime.contract import load_contract  # noqa: E402
from masktrt.runtime.trt_module import import_trt  # noqa: E402
from masktrt.trackers.oceanplus.spec import GRAPHS, NAME, TRACK_GRAPHS, tensor_shapes  # noqa: E402

WIDTH = 0.125  # same graph structure as full width, a fraction of the compute
TRT = import_trt("tensorrt-rtx")


def export(folder: Path, correlation: str, precision: str) -> Path:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    options = onnx_export.ExportOptions(tracker=NAME, options={"correlation": correlation},
                                        precision=precision)
    onnx_export.export_onnx(OceanPlus(width=WIDTH).eval(), folder, random_source(0), options)
    return folder


@pytest.fixture(scope="module")
def dynamic_fp32(tmp_path_factory) -> Path:
    assert NAME in registry.names()
    return export(tmp_path_factory.mktemp("oceanplus") / "dynamic-fp32", "dynamic", "fp32")


def test_engines_build_and_match_deploy_json(dynamic_fp32, tmp_path) -> None:
    records, _ = build_engines(BuildRequest(dynamic_fp32, out=tmp_path), trt=TRT)
    assert [r.name for r in records] == list(GRAPHS)
    contract = load_contract(dynamic_fp32)
    for record in records:
        graph = contract.graph(record.name)
        assert [t["name"] for t in record.meta["inputs"]] == [t.name for t in graph.inputs]
        assert [t["name"] for t in record.meta["outputs"]] == [t.name for t in graph.outputs]
        assert record.meta["engine_bytes"] > 10_000
    crops = {r.name: r.meta["inputs"][0]["shape"] for r in records}
    for graph in TRACK_GRAPHS:  # each track engine keeps its own search side
        assert crops[graph] == list(tensor_shapes(graph)["x"])


@pytest.mark.slow
def test_ci_matrix_both_sizes_both_strategies_fp32_fp16(tmp_path, capsys) -> None:
    folders = [export(tmp_path / f"{c}-{p}", c, p) for c in ("dynamic", "unrolled")
               for p in ("fp32", "fp16")]
    records = build_matrix(folders, tmp_path / "engines")
    table = capsys.readouterr().out
    print(table)  # shown again by `make parity` (-rP): CI's log lists every engine built
    assert len(records) == 4 * len(GRAPHS)
    assert {(r.name, r.meta["xcorr"], r.meta["precision"]) for r in records} == {
        (g, c, p) for g in GRAPHS for c in ("dynamic", "unrolled") for p in ("fp32", "fp16")}
    for r in records:
        assert r.engine_path.stat().st_size == r.meta["engine_bytes"]
