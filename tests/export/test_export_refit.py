"""`--xcorr refit`: search.onnx takes x only, its kernels are named Conv-weight initializers.

The graph is checked structurally (the names TensorRT will refit are initializers that a Conv
uses directly as W) and numerically: with the placeholders replaced by a real target's kernels,
ONNX Runtime gives the dynamic graph's outputs to float32 rounding; with the placeholders left in,
it does not (so the comparison shows the initializers are what the correlation reads).
"""
from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from tests.helpers.export_helpers import export_small, small_model
from masktrt.errors import MasktrtError
from masktrt.trackers.siammask.export.graphs import noise_crops
from masktrt.export.onnx_run import cpu_session, run_session
from masktrt.export.xcorr import STRATEGIES, correlation, xcorr_depthwise
from masktrt.runtime.contract import DEPLOY_FILE, load_contract
from masktrt.trackers.siammask.spec import IO_NAMES, REFIT_WEIGHTS, io_names

ROUNDING = 1e-5  # same bound as the unrolled-vs-dynamic comparison (test_export_xcorr.py)


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    model = small_model()
    root = tmp_path_factory.mktemp("refit")
    return {c: export_small(model, root / c, correlation=c) for c in ("dynamic", "refit")}


def scale_err(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / np.abs(b).max())


def with_kernels(proto: onnx.ModelProto, kernels: dict[str, np.ndarray]) -> onnx.ModelProto:
    """The refit graph with its placeholder initializers overwritten (what a refit does)."""
    out = onnx.ModelProto()
    out.CopyFrom(proto)
    for init in out.graph.initializer:
        if init.name in kernels:
            value = kernels[init.name].astype(numpy_helper.to_array(init).dtype)
            init.CopyFrom(numpy_helper.from_array(value.reshape(tuple(init.dims)), init.name))
    return out


def test_refit_search_graph_structure_and_deploy(exports) -> None:
    deploy = exports["refit"]
    proto = onnx.load(deploy.graph("search").path)
    onnx.checker.check_model(proto, full_check=True)
    assert [i.name for i in proto.graph.input] == ["x"] == list(io_names("search", "refit")[0])
    assert [o.name for o in proto.graph.output] == list(IO_NAMES["search"][1])
    inits = {t.name: t for t in proto.graph.initializer}
    conv_w = [n.input[1] for n in proto.graph.node if n.op_type == "Conv"]
    template_out = {t.name: t.shape for t in deploy.graph("template").outputs}
    for name in REFIT_WEIGHTS:
        assert name in inits and conv_w.count(name) == 1, name
        c = template_out[name][1]
        assert tuple(inits[name].dims) == (c, 1) + template_out[name][2:], name
    doc = json.loads((deploy.root / DEPLOY_FILE).read_text())
    assert doc["options"]["correlation"] == "refit" and "placeholder" in doc["siammask"]["refit"]
    assert [(w.name, list(w.shape), w.dtype) for w in deploy.graph("search").refit] == [
        (w["name"], w["shape"], w["dtype"]) for w in doc["graphs"]["search"]["refit"]]
    assert exports["dynamic"].graph("search").refit == ()


def test_template_graph_is_the_same_as_dynamic(exports) -> None:
    assert exports["refit"].graph("template").sha256 == exports["dynamic"].graph("template").sha256


def test_refit_graph_with_real_kernels_matches_dynamic(exports) -> None:
    z, x = noise_crops(seed=7)  # not the export's seed-0 crops: kernels differ from the placeholders
    kernels = run_session(cpu_session(exports["dynamic"].graph("template").path), {"z": z})
    dyn = run_session(cpu_session(exports["dynamic"].graph("search").path), {"x": x, **kernels})
    proto = onnx.load(exports["refit"].graph("search").path)
    refit = run_session(cpu_session(with_kernels(proto, kernels).SerializeToString()), {"x": x})
    stale = run_session(cpu_session(proto.SerializeToString()), {"x": x})
    for name in IO_NAMES["search"][1]:
        assert scale_err(refit[name], dyn[name]) < ROUNDING, name
    for name in ("cls", "loc", "corr"):  # the placeholders are another target's kernels
        assert scale_err(stale[name], dyn[name]) > 1e-3, name


def test_refit_torch_reference_is_the_depthwise_conv() -> None:
    assert set(STRATEGIES) == {"dynamic", "unrolled", "refit"}
    assert correlation("refit") is xcorr_depthwise
    with pytest.raises(MasktrtError, match="choose one of: dynamic, unrolled, refit"):
        correlation("static")


def test_refit_deploy_without_weight_table_is_refused(exports, tmp_path) -> None:
    import shutil

    folder = tmp_path / "broken"
    shutil.copytree(exports["refit"].root, folder)
    path = folder / DEPLOY_FILE
    doc = json.loads(path.read_text())
    doc["graphs"]["search"]["refit"][1]["shape"] = [3, 1, 5, 5]
    path.write_text(json.dumps(doc))
    with pytest.raises(MasktrtError, match="does not hold the graph output") as exc:
        load_contract(folder)
    assert "\n" not in str(exc.value)
    del doc["graphs"]["search"]["refit"]
    path.write_text(json.dumps(doc))
    with pytest.raises(MasktrtError, match="needs refit weights named"):
        load_contract(folder)
