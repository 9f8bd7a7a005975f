"""TensorRT-RTX engines from the REAL exported graphs (reduced-width random SiamMask, no GPU).

The default run exports one folder (dynamic, FP32) and builds it; `-m slow` runs the CI matrix:
both correlation strategies x FP32/FP16, every graph, with the summary table CI's log shows.
"""
from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("tensorrt_rtx")
torch = pytest.importorskip("torch")
onnx_export = pytest.importorskip("masktrt.export.onnx_export")

from masktrt.export.deploy import random_source  # noqa: E402
from masktrt.trackers.siammask.export.network import SiamMask  # noqa: E402
from masktrt.engines import BuildRequest, build_engines, build_matrix  # noqa: E402
from masktrt.engines.network import parse_onnx, shape_tensor_inputs  # noqa: E402
from masktrt.runtime.trt_module import import_trt  # noqa: E402

WIDTH = 0.125  # same graph structure as full width, ~1/60 of the compute: fast export and build
TRT = import_trt("tensorrt-rtx")


def export(folder: Path, correlation: str, precision: str) -> Path:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    options = onnx_export.ExportOptions(options={"correlation": correlation}, precision=precision)
    onnx_export.export_onnx(SiamMask(width=WIDTH), folder, random_source(0), options)
    return folder


@pytest.fixture(scope="module")
def dynamic_fp32(tmp_path_factory) -> Path:
    return export(tmp_path_factory.mktemp("real") / "dynamic-fp32", "dynamic", "fp32")


def test_real_refine_follows_pos(dynamic_fp32) -> None:
    network = parse_onnx(TRT, dynamic_fp32 / "refine.onnx").network
    inputs = {network.get_input(i).name: network.get_input(i) for i in range(network.num_inputs)}
    assert inputs["pos"].is_shape_tensor is False
    assert shape_tensor_inputs(network) == []


def test_real_export_builds_and_matches_deploy_json(dynamic_fp32, tmp_path) -> None:
    records, notes = build_engines(BuildRequest(dynamic_fp32, out=tmp_path), trt=TRT)
    assert [r.name for r in records] == ["template", "search", "refine"]
    search = records[1].meta
    assert [t["name"] for t in search["inputs"]] == ["x", "k_cls", "k_loc", "k_mask"]
    assert search["inputs"][0]["shape"] == [1, 3, 255, 255]
    assert records[2].meta["outputs"] == [{"name": "mask", "shape": [1, 1, 127, 127], "dtype": "float32"}]
    assert all(r.meta["engine_bytes"] > 100_000 for r in records)


@pytest.mark.slow
def test_ci_matrix_every_graph_both_strategies_fp32_fp16(tmp_path, capsys) -> None:
    folders = [export(tmp_path / f"{c}-{p}", c, p) for c in ("dynamic", "unrolled") for p in ("fp32", "fp16")]
    records = build_matrix(folders, tmp_path / "engines")
    table = capsys.readouterr().out
    print(table)  # shown again by `make parity` (-rP): CI's log lists every engine built
    assert len(records) == 12
    assert {(r.meta["xcorr"], r.meta["precision"]) for r in records} == {
        (c, p) for c in ("dynamic", "unrolled") for p in ("fp32", "fp16")}
    for r in records:
        assert r.engine_path.stat().st_size == r.meta["engine_bytes"]
        assert f"{r.meta['xcorr']}" in table
    # FP16 engines are smaller than FP32 ones for the same graph and strategy
    size = {(r.name, r.meta["xcorr"], r.meta["precision"]): r.meta["engine_bytes"] for r in records}
    assert size[("search", "dynamic", "fp16")] < size[("search", "dynamic", "fp32")]
