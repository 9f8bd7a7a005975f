"""FP16 graphs: FP16 inside, FP32 (and int64 pos) at the boundary, within the FP16 budget."""
from __future__ import annotations

import onnx
import pytest

from tests.helpers.export_helpers import export_small, real_crops, small_model
from masktrt.trackers.siammask.spec import SPEC
from masktrt.export.deploy import random_source
from masktrt.export.onnx_export import ExportOptions, export_onnx
from masktrt.export.parity_tensor import tensor_parity


@pytest.fixture(scope="module")
def model():
    return small_model()


@pytest.fixture(scope="module")
def half(model, tmp_path_factory):
    return export_small(model, tmp_path_factory.mktemp("fp16"), precision="fp16")


@pytest.fixture(scope="module")
def trained():
    """The shipped demo weights: FP16 budgets are set on trained weights (masktrt/budgets.py)."""
    from masktrt.trackers.siammask.export.checkpoint import load_checkpoint
    from masktrt.paths import demo_weights

    if demo_weights() is None:
        pytest.skip("this build has no demo checkpoint")
    return load_checkpoint(demo_weights())


def test_fp16_graphs_compute_in_fp16_with_fp32_io(half) -> None:
    assert half.precision == "fp16"
    for graph in half.graphs.values():
        proto = onnx.load(graph.path)
        onnx.checker.check_model(proto, full_check=True)
        weights = [i for i in proto.graph.initializer if len(i.dims) == 4]
        assert weights and all(w.data_type == onnx.TensorProto.FLOAT16 for w in weights)
        assert graph.compute_dtype == "float16"
        for t in graph.inputs + graph.outputs:
            assert t.dtype == ("int64" if t.name == "pos" else "float32"), (graph.name, t.name)
        declared = {v.name: v.type.tensor_type.elem_type
                    for v in list(proto.graph.input) + list(proto.graph.output)}
        assert all(d in (onnx.TensorProto.FLOAT, onnx.TensorProto.INT64) for d in declared.values())


def test_fp32_template_option_keeps_only_the_template_fp32(model, tmp_path) -> None:
    options = ExportOptions(precision="fp16", keep_fp32=("template",))
    deploy = export_onnx(model, tmp_path, random_source(0, 8), options)
    dtypes = {name: g.compute_dtype for name, g in deploy.graphs.items()}
    assert dtypes == {"template": "float32", "search": "float16", "refine": "float16"}


def test_fp16_parity_within_budget_on_real_crops(trained, tmp_path) -> None:
    from masktrt.export.deploy import checkpoint_source
    from masktrt.paths import demo_weights

    half = export_onnx(trained, tmp_path, checkpoint_source(demo_weights()),
                       ExportOptions(precision="fp16"))
    report = tensor_parity(trained, half, [real_crops("vot-bag", frames=1)],
                           positions=((0, 0), (24, 24)))
    print(report.table())
    assert report.passed
    budget = SPEC.budgets_for("tensor", "fp16")[0].value
    assert all(row.budget.value == budget for row in report.rows)
    # FP16 really is lower precision than FP32 here: errors well above float32 rounding.
    assert max(row.max_rel for row in report.rows if row.graph == "search") > 1e-3
