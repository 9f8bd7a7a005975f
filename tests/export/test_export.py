"""`masktrt export`: graphs, deploy.json, refine's runtime `pos`, and one-line errors."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest

from tests.helpers.export_helpers import WIDTH, export_small, real_crops, small_model
from masktrt.cli import main
from masktrt.errors import MasktrtError
from masktrt.trackers.siammask.export.graphs import refine_feeds, run_torch
from masktrt.export.onnx_export import ExportOptions, export_onnx
from masktrt.export.onnx_run import cpu_session, max_rel_range_err, run_session
from masktrt.export.xcorr import correlation
from masktrt.runtime.contract import DEPLOY_FILE, load_contract
from masktrt.trackers.siammask.spec import IO_NAMES


@pytest.fixture(scope="module")
def model():
    return small_model()


@pytest.fixture(scope="module")
def exported(model, tmp_path_factory):
    return export_small(model, tmp_path_factory.mktemp("dynamic-fp32"))


def test_graphs_have_the_contract_names_static_shapes_and_opset_17(exported) -> None:
    for name, graph in exported.graphs.items():
        proto = onnx.load(graph.path)
        onnx.checker.check_model(proto, full_check=True)
        assert [o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")] == [17]
        assert [i.name for i in proto.graph.input] == list(IO_NAMES[name][0])
        assert [o.name for o in proto.graph.output] == list(IO_NAMES[name][1])
        assert all(d > 0 for t in graph.inputs + graph.outputs for d in t.shape)
        assert graph.inputs[0].shape[0] == 1  # batch 1
    assert exported.graph("refine").input("pos").dtype == "int64"
    assert exported.graph("refine").input("pos").shape == (2,)
    assert exported.graph("refine").output("mask").shape == (1, 1, 127, 127)


def test_shapes_follow_the_model_width(exported, model) -> None:
    spec = model.spec
    search = exported.graph("search")
    assert search.input("k_cls").shape == (1, spec.hidden, 5, 5)
    assert search.output("p0").shape == (1, spec.stem, 125, 125)
    assert search.output("p1").shape == (1, spec.p1, 63, 63)
    assert search.output("p2").shape == (1, spec.p2, 31, 31)
    assert exported.model["channels"]["hidden"] == spec.hidden
    assert exported.model["width"] == WIDTH


def test_mask_head_is_left_out(exported, model) -> None:
    """No tensor of the 3969-channel head (weight [3969, hidden, 1, 1]) in any graph."""
    for graph in exported.graphs.values():
        for init in onnx.load(graph.path).graph.initializer:
            assert model.spec.mask_out not in init.dims, (graph.name, init.name)


def test_refine_keeps_the_legacy_nearest_resize(exported) -> None:
    resizes = [n for n in onnx.load(exported.graph("refine").path).graph.node
               if n.op_type == "Resize"]
    assert len(resizes) == 3
    for node in resizes:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        assert attrs["mode"] == b"nearest"
        assert attrs["coordinate_transformation_mode"] == b"asymmetric"
        assert attrs["nearest_mode"] == b"floor"


def test_refine_follows_pos_at_runtime(exported, model) -> None:
    """Two positions through ONE refine.onnx session: each matches PyTorch at that position,
    and the masks differ (pos is neither frozen at the tracing position nor ignored)."""
    crops = real_crops()
    xcorr = correlation("dynamic")
    kernels = run_torch(model, "template", {"z": crops.z}, xcorr)
    search = run_torch(model, "search", {"x": crops.xs[0], **kernels}, xcorr)
    session = cpu_session(exported.graph("refine").path)
    masks = []
    for pos in [(0, 24), (19, 3)]:
        feeds = refine_feeds(search, pos)
        got = run_session(session, feeds)["mask"]
        ref = run_torch(model, "refine", feeds, xcorr)["mask"]
        assert max_rel_range_err(got, ref)[1] < 1e-4
        masks.append(got)
    assert np.abs(masks[0] - masks[1]).max() > 1e-3


def test_deploy_json_records_the_contract(exported) -> None:
    doc = json.loads((exported.root / DEPLOY_FILE).read_text())
    assert doc["schema"] == "masktrt.deploy" and doc["schema_version"] == 2
    assert doc["tracker"] == "siammask"
    assert doc["source"] == {"kind": "random", "seed": 0, "sha256": "random:0", "pairs": 8}
    assert doc["options"]["correlation"] == "dynamic"
    assert doc["precision"] == "fp32" and doc["opset"] == 17
    pre = doc["preprocessing"]
    assert (pre["color_order"], pre["value_range"], pre["layout"]) == ("BGR", [0, 255], "NCHW")
    assert pre["mean"] == [0.0, 0.0, 0.0] and pre["std"] == [1.0, 1.0, 1.0]
    assert doc["preset"]["name"] == "davis"
    assert doc["siammask"]["geometry"]["score_size"] == 25
    assert doc["siammask"]["anchors"]["ratios"] == [0.33, 0.5, 1.0, 2.0, 3.0]
    for package in ("torch", "onnx", "onnxslim", "masktrt"):
        assert doc["versions"][package] not in ("", "absent")
    assert exported.preset.seg_thr == 0.35


def test_runtime_reader_imports_neither_torch_nor_onnx(exported) -> None:
    code = ("import sys; from masktrt.runtime.contract import load_contract; "
            f"d = load_contract({str(exported.root)!r}); "
            "assert d.graph('search').output('cls').shape[1] == 10; "
            "assert 'torch' not in sys.modules and 'onnx' not in sys.modules, 'heavy import'")
    subprocess.run([sys.executable, "-c", code], check=True)


def _rewrite(folder: Path, edit) -> None:
    path = folder / DEPLOY_FILE
    doc = json.loads(path.read_text())
    edit(doc)
    path.write_text(json.dumps(doc))


@pytest.mark.parametrize("edit, message", [
    (lambda d: d.update(schema_version=99), "schema_version"),
    (lambda d: d["siammask"]["geometry"].update(instance_size=287), "geometry"),
    (lambda d: d.update(tracker="siamfc"), "not registered"),
    (lambda d: d["options"].update(correlation="static"), "unknown correlation"),
    (lambda d: d["graphs"]["refine"].update(file="gone.onnx"), "missing"),
    (lambda d: d["graphs"]["search"]["outputs"][0].update(shape=[1, -1, 25, 25]), "non-static"),
    (lambda d: d["graphs"]["refine"]["inputs"][4].update(name="position"), "I/O names"),
    (lambda d: d.pop("model"), "lacks model"),
])
def test_load_deploy_rejects_a_broken_contract(exported, tmp_path, edit, message) -> None:
    for file in exported.root.iterdir():
        (tmp_path / file.name).write_bytes(file.read_bytes())
    _rewrite(tmp_path, edit)
    with pytest.raises(MasktrtError, match=message) as info:
        load_contract(tmp_path)
    assert "\n" not in str(info.value)


def _as_version_1(doc: dict) -> dict:
    """The same export as masktrt 0.1 wrote it (deploy.json schema version 1)."""
    pre = {k: v for k, v in doc["preprocessing"].items() if k != "sizes"}
    refit = doc["graphs"]["search"].pop("refit", None)
    correlation = {"strategy": doc["options"]["correlation"], "kernel_inputs": ["k_cls", "k_loc", "k_mask"]}
    if refit:
        correlation.update(kernel_inputs=[], refit_weights=refit)
    section = doc["siammask"]
    return {"schema": "masktrt.deploy", "schema_version": 1, "model": doc["model"],
            "source": doc["source"], "correlation": correlation, "precision": doc["precision"],
            "opset": doc["opset"], "graphs": doc["graphs"],
            "preprocessing": {**pre, "template_size": 127, "search_size": 255},
            "tracker": {"preset": doc["preset"], "geometry": section["geometry"]},
            "anchors": section["anchors"], "window": section["window"], "versions": doc["versions"]}


def test_version_1_contracts_still_load(exported, tmp_path) -> None:
    for file in exported.root.iterdir():
        (tmp_path / file.name).write_bytes(file.read_bytes())
    doc = json.loads((tmp_path / DEPLOY_FILE).read_text())
    (tmp_path / DEPLOY_FILE).write_text(json.dumps(_as_version_1(doc)))
    old = load_contract(tmp_path)
    assert (old.tracker, old.options, old.preset, old.precision) == (
        exported.tracker, exported.options, exported.preset, exported.precision)
    for name, graph in exported.graphs.items():
        mine = old.graph(name)
        assert (mine.inputs, mine.outputs, mine.sha256) == (graph.inputs, graph.outputs, graph.sha256)
    assert old.raw["siammask"]["geometry"] == doc["siammask"]["geometry"]


@pytest.mark.parametrize("opset", [12, 21])
def test_unsupported_opset_is_one_line(model, tmp_path, opset) -> None:
    with pytest.raises(MasktrtError, match=f"opset {opset} is not supported") as info:
        export_onnx(model, tmp_path, {}, ExportOptions(opset=opset))
    assert "\n" not in str(info.value)
    assert not (tmp_path / "template.onnx").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_unwritable_output_folder_is_one_line(model, tmp_path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(MasktrtError, match="not writable"):
            export_onnx(model, locked / "out", {}, ExportOptions())
    finally:
        locked.chmod(0o700)


def test_output_path_that_is_a_file_is_one_line(model, tmp_path) -> None:
    """Works as root too: a regular file where the folder should be."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(MasktrtError, match="not writable"):
        export_onnx(model, blocker / "out", {}, ExportOptions())


def test_cli_errors_are_one_line_and_exit_2(tmp_path, capsys) -> None:
    bogus = tmp_path / "weights.pth"
    bogus.write_bytes(b"definitely not a checkpoint")
    assert main(["export", "--checkpoint", str(bogus), "--out", str(tmp_path / "o")]) == 2
    assert main(["export", "--random-weights", "--opset", "11", "--out", str(tmp_path / "o")]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line]
    assert len(errors) == 2 and all(line.startswith("error: ") for line in errors)
    assert "checkpoint" in errors[0] and "opset 11" in errors[1]


def test_full_width_export_has_the_official_shapes(tmp_path) -> None:
    """The one full-width export: default-init weights (shapes, not values, are the point)."""
    import torch

    from masktrt.export.deploy import random_source
    from masktrt.trackers.siammask.export import SiamMask

    torch.manual_seed(0)
    deploy = export_onnx(SiamMask().eval(), tmp_path, random_source(0), ExportOptions())
    search = deploy.graph("search")
    assert [t.shape for t in search.outputs] == [
        (1, 10, 25, 25), (1, 20, 25, 25), (1, 256, 25, 25),
        (1, 64, 125, 125), (1, 256, 63, 63), (1, 512, 31, 31)]
    assert search.input("k_mask").shape == (1, 256, 5, 5)
    assert deploy.graph("template").output("k_cls").shape == (1, 256, 5, 5)
