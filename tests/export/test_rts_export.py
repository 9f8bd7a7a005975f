"""RTS's export side: every graph through the generic exporter, tensor parity in ONNX Runtime,
the unrolled learner graphs against the closed-form step, zero-weight padding, FP16 marks.

Fast tests trace at 128x224 with 4 / 8 memory slots (rts_helpers.py); the full-size export
(480x832, 32 / 50 slots) is `slow`.
"""
from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch

from tests.helpers.rts_helpers import (CROPS, SEED, SMALL_EXPORT, SMALL_OPTIONS, SMALL_SIZES, export_rts, registered,
                         rts_model)
from masktrt.errors import MasktrtError
from masktrt.export.onnx_export import ExportOptions, export_graph
from masktrt.export.onnx_run import cpu_session, max_rel_range_err, run_session
from masktrt.trackers.rts.export.fp32_nodes import feeding_square
from masktrt.export.parity_tensor import tensor_parity
from masktrt.trackers.rts import spec as rts
from tests.conftest import real_sequence


@pytest.fixture(scope="module")
def model(rts_small_export):
    return rts_small_export[0]


@pytest.fixture(scope="module")
def small_rts():
    with registered():
        yield


@pytest.fixture(scope="module")
def deploy(rts_small_export):
    return rts_small_export[2]  # the session's one small export (tests/conftest.py)


@pytest.fixture(scope="module")
def traced(model):
    """(modules, feeds) by graph, traced once: the chain at the small size."""
    return SMALL_EXPORT.trace_setup(model, SMALL_OPTIONS)


@pytest.fixture(scope="module")
def crops():
    from masktrt.trackers.rts.export.crops import sequence_crops

    return sequence_crops(real_sequence("davis-dog"), 2, SMALL_SIZES.crop_hw)


def session(deploy, graph: str):
    return cpu_session(deploy.graph(graph).path, threads=2)


def learn_case(traced, deploy, graph: str):
    """The graph's traced feeds (a chained memory) and its ONNX Runtime output."""
    feeds = traced[1][graph]
    return feeds, next(iter(run_session(session(deploy, graph), feeds).values()))


def test_every_graph_is_exported_with_the_spec_names(deploy) -> None:
    assert deploy.tracker == "rts" and set(deploy.graph_names) == set(rts.SPEC.graph_names)
    for name in deploy.graph_names:
        shapes = rts.tensor_shapes(name, SMALL_SIZES)
        graph = deploy.graph(name)
        assert {t.name: t.shape for t in graph.inputs + graph.outputs} == shapes
    assert deploy.options == {**SMALL_OPTIONS, rts.FILTERING: rts.DEFAULT_FILTERING}
    assert rts.sizes_of(deploy.options) == SMALL_SIZES
    assert deploy.section["geometry"] == rts.geometry(SMALL_SIZES)  # the sizes traced
    assert deploy.section["geometry"]["seg_feature_hw"] == [8, 14]


def test_the_default_export_applies_filters_without_tensor_kernels(deploy) -> None:
    """MatMul filtering (spec §B6): no Conv whose kernel is computed in the graph."""
    from test_rts_filtering import FILTER_GRAPHS, input_kernels

    assert deploy.options[rts.FILTERING] == "matmul"
    for graph in FILTER_GRAPHS:
        proto = onnx.load(str(deploy.graph(graph).path))
        assert not input_kernels(proto), graph
        assert any(n.op_type == "MatMul" for n in proto.graph.node), graph


def test_sizes_option_is_checked_before_tracing() -> None:
    for bad in ("128x224", "100x224/4/8", "128x224/0/8", "128x224/4/3", "axb/4/8"):
        options = ExportOptions(tracker="rts", options={"sizes": bad})
        with pytest.raises(MasktrtError, match="sizes=") as info:
            options.validate()
        assert "\n" not in str(info.value)
    ExportOptions(tracker="rts", options=SMALL_OPTIONS).validate()


def test_tensor_parity_within_the_fp32_budget_on_real_crops(model, deploy, crops) -> None:
    report = tensor_parity(model, deploy, [crops], threads=2)
    print(report.table())
    assert report.passed, report.table()
    assert {r.graph for r in report.rows} == set(rts.SPEC.graph_names)


@pytest.mark.parametrize("graph", rts.SEG_LEARN_GRAPHS + rts.CLF_LEARN_GRAPHS)
def test_unrolled_learner_graph_equals_n_closed_form_steps(model, deploy, traced, graph) -> None:
    feeds, onnx_out = learn_case(traced, deploy, graph)
    seg = graph in rts.SEG_LEARN_GRAPHS
    step = model.seg_step if seg else model.clf_step
    f, *memory = (torch.from_numpy(feeds[n]) for n in rts.SPEC.graph(graph).inputs)
    with torch.no_grad():
        for _ in range(rts.learn_iterations(graph)):
            f = step(f, *memory)
    budget = rts.SPEC.budget("learner-fp32").value
    assert max_rel_range_err(onnx_out, f.numpy())[1] <= budget
    assert not np.array_equal(feeds[rts.SPEC.graph(graph).inputs[0]], onnx_out)  # it learned


@pytest.mark.parametrize("graph", (rts.SEG_LEARN_GRAPHS[1], rts.CLF_LEARN_GRAPHS[1]))
def test_zero_weight_padding_leaves_the_learned_filter_unchanged(model, deploy, traced, graph) -> None:
    feeds, onnx_out = learn_case(traced, deploy, graph)
    names = rts.SPEC.graph(graph).inputs
    weights = feeds[names[3]].reshape(len(feeds[names[3]]), -1)
    used = int(np.flatnonzero(np.abs(weights).sum(axis=1))[-1]) + 1
    assert used < len(weights)  # the traced memory is padded
    unpadded = [torch.from_numpy(feeds[names[0]])] + [torch.from_numpy(feeds[n][:used]) for n in names[1:]]
    with torch.no_grad():
        ref = (model.seg_learn if graph in rts.SEG_LEARN_GRAPHS else model.clf_learn)(
            *unpadded, rts.learn_iterations(graph))
    assert max_rel_range_err(onnx_out, ref.numpy())[1] <= 1e-5


def fp16_graph(traced, graph: str) -> onnx.ModelProto:
    modules, feeds = traced
    options = ExportOptions(tracker="rts", precision="fp16", options=SMALL_OPTIONS)
    return export_graph(graph, modules[graph], feeds[graph], options, SMALL_OPTIONS)


def float_types(proto: onnx.ModelProto) -> dict[str, int]:
    inferred = onnx.shape_inference.infer_shapes(proto)
    values = list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output)
    return {v.name: v.type.tensor_type.elem_type for v in values}


@pytest.mark.parametrize("graph", (rts.FEAT, rts.SEG_LEARN_GRAPHS[1], rts.CLF_LEARN_GRAPHS[1]))
def test_fp16_export_keeps_the_overflowing_reductions_fp32(traced, small_rts, graph) -> None:
    proto = fp16_graph(traced, graph)
    types = float_types(proto)
    reductions = [n for n in proto.graph.node if n.op_type == "ReduceSum"]
    assert reductions
    producers = {out: n for n in proto.graph.node for out in n.output}
    norms = [n for n in reductions if feeding_square(n, producers)]
    assert norms
    for node in reductions:
        assert types[node.input[0]] == onnx.TensorProto.FLOAT, node.name
        assert types[node.output[0]] == onnx.TensorProto.FLOAT, node.name
    for node in norms:  # a squared norm feeds the step length in FP32: no FP16 round trip (a
        # gradient's sum over samples goes back to FP16, as the Conv form's output always did)
        consumers = [n for n in proto.graph.node if node.output[0] in n.input]
        assert all(n.op_type != "Cast" for n in consumers), node.name
    half = [t for t in types.values() if t == onnx.TensorProto.FLOAT16]
    assert half or graph != rts.FEAT  # the feature maps themselves are FP16


def test_load_model_refuses_variants_and_widths() -> None:
    with pytest.raises(MasktrtError, match="no variant"):
        SMALL_EXPORT.load_model(None, variant="mms")
    with pytest.raises(MasktrtError, match="no width"):
        SMALL_EXPORT.load_model(None, width=0.5)


def test_run_graph_refuses_a_crop_of_another_size(model) -> None:
    with pytest.raises(MasktrtError, match="expected H x W"):
        SMALL_EXPORT.run_graph(model, rts.FEAT, {rts.IM: torch.zeros(1, 3, 64, 64)}, SMALL_OPTIONS)


def test_random_weights_are_cached_and_reproducible(model) -> None:
    again = rts_model()
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(),
                                                  again.state_dict().values()))
    record = SMALL_EXPORT.load_model(None, SEED, pairs=CROPS)[1]
    assert record == {"kind": "random", "seed": SEED, "sha256": f"random:{SEED}", "pairs": CROPS}


@pytest.mark.slow
@pytest.mark.full
def test_full_size_export_matches_torch(model, tmp_path) -> None:
    """480x832 crops, 32 / 50 memory slots: the deployment's graphs."""
    from masktrt.trackers.rts.export.crops import sequence_crops

    with registered():
        deploy = export_rts(model, tmp_path, options={})
        crops = sequence_crops(real_sequence("davis-dog"), 2)
        report = tensor_parity(model, deploy, [crops], threads=2)
    print(report.table())
    assert deploy.graph(rts.FEAT).input(rts.IM).shape == (1, 3, *rts.CROP_HW)
    assert report.passed, report.table()


def test_cli_option_pairs_become_export_options() -> None:
    """`--option KEY=VALUE` (export, parity) reaches ExportOptions; --xcorr only where the
    tracker declares `correlation`; a pair without '=' is one line."""
    import argparse

    from masktrt.commands import args as common

    given = argparse.Namespace(tracker="rts", xcorr="dynamic", option=["sizes=128x224/4/8"])
    assert common.export_options(given) == SMALL_OPTIONS
    siam = argparse.Namespace(tracker="siammask", xcorr="unrolled", option=[])
    assert common.export_options(siam) == {"correlation": "unrolled"}
    with pytest.raises(MasktrtError, match="not KEY=VALUE") as info:
        common.parse_options(["sizes"])
    assert "\n" not in str(info.value)
    parser = argparse.ArgumentParser()
    common.add_option_argument(parser)
    assert parser.parse_args(["--option", "a=1", "--option", "b=2"]).option == ["a=1", "b=2"]


def test_no_graph_holds_a_cubic_resize(deploy) -> None:
    """The decoders' bicubic x2 (head and STA) is exported as convolutions (rts/bicubic.py)."""
    for name in deploy.graph_names:
        proto = onnx.load(str(deploy.graph(name).path), load_external_data=False)
        modes = [a.s for n in proto.graph.node if n.op_type == "Resize" for a in n.attribute
                 if a.name == "mode"]
        assert b"cubic" not in modes, name
