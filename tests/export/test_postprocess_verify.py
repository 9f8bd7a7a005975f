"""The check that simplifying a graph left its outputs unchanged cannot be fooled by NaN/inf."""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper  # noqa: E402

from masktrt.errors import MasktrtError  # noqa: E402
from masktrt.export.postprocess import verify_same  # noqa: E402


def graph(second: str, scale: float = 1.0) -> onnx.ModelProto:
    """x -> (a = x, b = op(x)): a second output whose op we choose."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    outs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 4]) for n in ("a", "b")]
    k = helper.make_tensor("k", TensorProto.FLOAT, [1], [scale])
    nodes = [helper.make_node("Identity", ["x"], ["a"]), helper.make_node(second, ["x", "k"], ["b"])]
    model = helper.make_model(helper.make_graph(nodes, "g", [x], outs, [k]),
                              opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


FEEDS = {"x": np.array([[0.0, 1.0, 2.0, 3.0]], np.float32)}


def test_identical_graphs_pass() -> None:
    assert verify_same(graph("Mul"), graph("Mul"), FEEDS, "g") == 0.0


def test_nan_in_a_later_output_fails() -> None:
    # b = x / 0 -> nan/inf where the reference (x * 1) is finite
    with pytest.raises(MasktrtError, match="changed its results"):
        verify_same(graph("Mul"), graph("Div", 0.0), FEEDS, "g")


def test_non_finite_reference_is_named() -> None:
    with pytest.raises(MasktrtError, match="non-finite b on its tracing feeds"):
        verify_same(graph("Div", 0.0), graph("Div", 0.0), FEEDS, "g")
