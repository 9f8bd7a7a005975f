"""The two correlation strategies compute the same thing, in PyTorch and in the exported graphs."""
from __future__ import annotations

import numpy as np
import onnx
import pytest

from tests.helpers.export_helpers import export_small, real_crops, small_model
from masktrt.trackers.siammask.export.graphs import run_torch
from masktrt.export.onnx_run import cpu_session, run_session
from masktrt.export.xcorr import STRATEGIES, correlation
from masktrt.errors import MasktrtError
from masktrt.trackers.siammask.spec import IO_NAMES

# Both sum the same 25 products per output element in a different order: a few float32 ulps of
# the largest partial sums. Measured here: ~1e-6 relative to each output's magnitude.
ROUNDING = 1e-5


@pytest.fixture(scope="module")
def model():
    return small_model()


@pytest.fixture(scope="module")
def crops():
    return real_crops("davis-blackswan", frames=2)


def scale_err(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| over max |b|: float32 rounding level is ~1e-7 .. 1e-6."""
    return float(np.abs(a - b).max() / np.abs(b).max())


def test_unrolled_equals_dynamic_on_real_crops_in_torch(model, crops) -> None:
    kernels = run_torch(model, "template", {"z": crops.z}, correlation("dynamic"))
    for x in crops.xs:
        dyn = run_torch(model, "search", {"x": x, **kernels}, correlation("dynamic"))
        unr = run_torch(model, "search", {"x": x, **kernels}, correlation("unrolled"))
        for name in ("cls", "loc", "corr"):
            assert scale_err(unr[name], dyn[name]) < ROUNDING, name
            assert np.abs(dyn[name]).max() > 0  # not a vacuous comparison of zeros
        for name in ("p0", "p1", "p2"):  # the trunk does not depend on the strategy
            np.testing.assert_array_equal(unr[name], dyn[name])


@pytest.fixture(scope="module")
def both(model, tmp_path_factory):
    return {c: export_small(model, tmp_path_factory.mktemp(c), correlation=c)
            for c in ("dynamic", "unrolled")}


def test_unrolled_graph_has_no_dynamic_weight_conv(both) -> None:
    """Every Conv weight in unrolled search.onnx is an initializer; dynamic has three that are
    not (the kernels), which is what older TensorRT parsers refuse."""
    def runtime_weight_convs(path) -> int:
        graph = onnx.load(path).graph
        inits = {i.name for i in graph.initializer}
        return sum(1 for n in graph.node if n.op_type == "Conv" and n.input[1] not in inits)

    assert runtime_weight_convs(both["dynamic"].graph("search").path) == 3
    assert runtime_weight_convs(both["unrolled"].graph("search").path) == 0
    inputs = [t.name for t in both["unrolled"].graph("search").inputs]
    assert inputs == list(IO_NAMES["search"][0])  # kernels stay inputs
    assert both["unrolled"].options["correlation"] == "unrolled"


def test_unrolled_graph_equals_dynamic_graph_on_real_crops(model, both, crops) -> None:
    kernels = run_torch(model, "template", {"z": crops.z}, correlation("dynamic"))
    feeds = {"x": crops.xs[-1], **kernels}
    dyn = run_session(cpu_session(both["dynamic"].graph("search").path), feeds)
    unr = run_session(cpu_session(both["unrolled"].graph("search").path), feeds)
    for name in IO_NAMES["search"][1]:
        assert scale_err(unr[name], dyn[name]) < ROUNDING, name


def test_unknown_strategy_is_one_line() -> None:
    assert set(STRATEGIES) == {"dynamic", "unrolled", "refit"}
    with pytest.raises(MasktrtError, match="choose one of: dynamic, unrolled, refit"):
        correlation("static")
