"""RTS's `filtering` export option: the MatMul + shifted-slices form of applying an input filter
(spec §B6, the default) against the Conv form, as torch functions and as exported graphs.

The reference always convolves, so tensor parity of a MatMul export (test_rts_export.py runs it
on the default export, and checks its graphs hold no Conv whose kernel is an input) measures the
rewrite itself; here the `filtering=conv` export must pass tensor parity too.
"""
from __future__ import annotations

import onnx
import pytest
import torch

from tests.helpers.rts_helpers import SMALL_OPTIONS, export_rts, registered, rts_model
from masktrt.errors import MasktrtError
from masktrt.trackers.rts.export import steepest_descent as sd
from masktrt.export.onnx_export import ExportOptions
from masktrt.export.parity_tensor import tensor_parity
from masktrt.trackers.rts import spec as rts
from tests.conftest import real_sequence

CONV_OPTIONS = {**SMALL_OPTIONS, rts.FILTERING: "conv"}
FILTER_GRAPHS = (rts.HEAD, rts.STA, *rts.SEG_LEARN_GRAPHS, *rts.CLF_LEARN_GRAPHS)


@pytest.mark.parametrize("k, filters, shape", [(3, 16, (3, 8, 6, 9)), (4, 1, (5, 8, 5, 7)),
                                               (3, 2, (1, 4, 1, 1))])
def test_matmul_forms_equal_the_convolutions(k, filters, shape) -> None:
    """Both the application (3x3 keeps the size, 4x4 grows it by one) and its adjoint in f."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(shape, dtype=torch.float64, generator=generator)
    f = torch.randn((filters, shape[1], k, k), dtype=torch.float64, generator=generator)
    applied = sd.apply_filter(x, f)
    assert torch.allclose(sd.apply_filter_matmul(x, f), applied, rtol=0, atol=1e-12)
    e = torch.randn(applied.shape, dtype=torch.float64, generator=generator)
    grad = sd.filter_gradient(x, e, k)
    assert grad.shape == f.shape
    assert torch.allclose(sd.filter_gradient_matmul(x, e, k), grad, rtol=0, atol=1e-12)


def test_an_unknown_filtering_is_one_line() -> None:
    options = ExportOptions(tracker="rts", options={**SMALL_OPTIONS, rts.FILTERING: "fft"})
    with pytest.raises(MasktrtError, match="filtering='fft'") as info:
        options.validate()
    assert "\n" not in str(info.value) and "matmul" in info.value.fix


@pytest.fixture(scope="module")
def model():
    return rts_model()


@pytest.fixture(scope="module")
def conv_deploy(model, tmp_path_factory):
    with registered():
        yield export_rts(model, tmp_path_factory.mktemp("rts_conv"), options=CONV_OPTIONS)


def input_kernels(proto: onnx.ModelProto) -> list[str]:
    """Conv nodes whose kernel is computed in the graph (not a weight stored in it)."""
    stored = {t.name for t in proto.graph.initializer}
    stored |= {o for n in proto.graph.node if n.op_type == "Constant" for o in n.output}
    return [n.name for n in proto.graph.node if n.op_type == "Conv" and n.input[1] not in stored]


def test_conv_export_convolves_its_input_kernels_within_the_fp32_budget(model, conv_deploy) -> None:
    """The MatMul export's check (test_rts_export.py) can fail: the Conv head has two such
    nodes; and the Conv form meets the tensor budget on real crops too."""
    from masktrt.trackers.rts.export.crops import sequence_crops

    assert conv_deploy.options[rts.FILTERING] == "conv"
    assert len(input_kernels(onnx.load(str(conv_deploy.graph(rts.HEAD).path)))) == 2
    crops = sequence_crops(real_sequence("davis-dog"), 2, rts.parse_sizes(SMALL_OPTIONS["sizes"]).crop_hw)
    report = tensor_parity(model, conv_deploy, [crops], threads=2)
    print(report.table())
    assert report.passed, report.table()
    assert {r.graph for r in report.rows} == set(rts.SPEC.graph_names)
