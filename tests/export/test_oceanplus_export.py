"""OceanPlus's export side: graphs through the generic exporter, ONNX Runtime vs PyTorch on real
crops at both search sizes and both correlations, FP16, seeded random weights, one-line errors.

Width 0.25 keeps every spatial shape of the released network at a fraction of the compute; 8
crop pairs fit the BatchNorm statistics in under a second (cached per test module).
"""
from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch

from masktrt import registry
from masktrt.errors import MasktrtError
from masktrt.export.deploy import random_source
from masktrt.export.backbones import RESNET50
from masktrt.export.onnx_export import ExportOptions, export_onnx
from masktrt.export.onnx_run import cpu_session, run_session
from masktrt.registry import TrackerEntry
from masktrt.trackers.oceanplus.spec import (BBOX, CLS, INSTANCE_SIZES, MASK_PROB, NAME, SEARCH_INPUT,
                                     SPEC, TEMPLATE, TEMPLATE_INPUT, TEMPLATE_MASK, TRACK_GRAPHS,
                                     VARIANTS, ZF_CLS, ZF_REG, tensor_shapes, track_graph)

WIDTH, PAIRS, SEED = 0.25, 8, 0
FIXED = (TEMPLATE_INPUT, TEMPLATE_MASK, SEARCH_INPUT, CLS, BBOX, MASK_PROB)  # width-independent
ENTRY = TrackerEntry(NAME, spec="masktrt.trackers.oceanplus.spec:SPEC",
                     runtime="masktrt.trackers.oceanplus.tracker:OceanPlusTracker",
                     export="masktrt.trackers.oceanplus.export.export_side:EXPORT")


@pytest.fixture(scope="module", autouse=True)
def registered():
    """OceanPlus in the registry for this module (restoring whatever was there before)."""
    before = registry.get(NAME) if NAME in registry.names() else None
    registry.register(ENTRY, replace=True)
    yield
    registry.register(before, replace=True) if before else registry.unregister(NAME)


@pytest.fixture(scope="module", autouse=True)
def private_cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MASKTRT_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture(scope="module")
def side():
    return registry.get(NAME).load_export()


@pytest.fixture(scope="module")
def model(side):
    return side.load_model(None, SEED, WIDTH, PAIRS)[0]


def export(model, folder, correlation="dynamic", precision="fp32"):
    options = ExportOptions(tracker=NAME, precision=precision, options={"correlation": correlation})
    return export_onnx(model, folder, random_source(SEED, PAIRS), options)


@pytest.fixture(scope="module")
def exported(model, tmp_path_factory):
    return export(model, tmp_path_factory.mktemp("dynamic"))


@pytest.fixture(scope="module")
def crops():
    from masktrt.export.parity_tensor import sequence_crops
    from tests.conftest import real_sequence

    return [sequence_crops(real_sequence("davis-dog"), 2)]


# -- graphs and contract ------------------------------------------------------------------------

def test_all_graphs_have_the_spec_names_and_shapes(exported, model) -> None:
    assert exported.tracker == NAME and exported.graph_names == SPEC.graph_names
    for name, graph in exported.graphs.items():
        proto = onnx.load(graph.path)
        onnx.checker.check_model(proto, full_check=True)
        inputs, outputs = SPEC.io_names(name)
        assert [i.name for i in proto.graph.input] == list(inputs)
        assert [o.name for o in proto.graph.output] == list(outputs)
        full = tensor_shapes(name)
        for t in graph.inputs + graph.outputs:
            if t.name in FIXED:
                assert t.shape == full[t.name], (name, t.name)
            assert t.shape[2:] == full[t.name][2:], (name, t.name)  # spatial sizes at any width
    assert exported.graph(TEMPLATE).output(ZF_CLS).shape[1] == model.channels.neck


def test_model_record_names_variant_width_and_channels(exported, model, side) -> None:
    record = side.model_record(model)
    assert record == {"name": f"{NAME}_{VARIANTS[0]}", "variant": VARIANTS[0],
                      "backbone": RESNET50, "width": WIDTH, "channels": model.channels.to_dict()}
    assert exported.model == record
    assert exported.options == {"correlation": "dynamic"}


def test_template_graph_outputs_zf_cls_equal_to_zf_reg(exported, model, side) -> None:
    feeds = side.trace_setup(model, exported.options)[1][TEMPLATE]
    out = run_session(cpu_session(exported.graph(TEMPLATE).path), feeds)
    np.testing.assert_array_equal(out[ZF_CLS], out[ZF_REG])


def test_tracing_feeds_give_finite_outputs(model, side) -> None:
    """An inf in the traced outputs would blind the exporter's slim and FP16 checks."""
    modules, feeds = side.trace_setup(model, {"correlation": "dynamic"})
    assert set(modules) == set(feeds) == set(SPEC.graph_names)
    for graph in TRACK_GRAPHS:
        out = side.run_graph(model, graph, {k: torch.from_numpy(v) for k, v in feeds[graph].items()})
        assert all(torch.isfinite(t).all() for t in out.values()), graph


# -- tensor parity ------------------------------------------------------------------------------

@pytest.mark.parametrize("correlation", ["dynamic", "unrolled"])
def test_fp32_parity_within_budget_at_both_sizes(model, exported, crops, correlation,
                                                  tmp_path) -> None:
    from masktrt.export.parity_tensor import tensor_parity

    deploy = exported if correlation == "dynamic" else export(model, tmp_path, correlation)
    report = tensor_parity(model, deploy, crops)
    print(report.table())
    assert report.passed, report.table()
    assert {r.graph for r in report.rows} == set(SPEC.graph_names)
    assert all(r.max_abs > 0 for r in report.rows if r.graph in TRACK_GRAPHS)  # really compared


def test_parity_cases_cover_both_sizes_with_an_updated_template(model, side, crops) -> None:
    cases = list(side.parity_cases(model, crops[0], {"correlation": "dynamic"}))
    graphs = [graph for _, graph, _, _ in cases]
    assert graphs[0] == TEMPLATE
    assert graphs.count(track_graph(INSTANCE_SIZES[0])) == graphs.count(track_graph(INSTANCE_SIZES[1])) == 2
    for _, graph, feeds, ref in cases[1:]:
        side_px = int(graph.split("_")[-1])
        assert feeds[SEARCH_INPUT].shape == (1, 3, side_px, side_px)
        assert not np.allclose(feeds[ZF_CLS], feeds[ZF_REG])
        assert all(np.isfinite(v).all() for v in ref.values())
    assert [label for label, *_ in cases if label] == ["0", "1"]


def test_fp16_graphs_compute_in_fp16_with_fp32_io(model, crops, tmp_path) -> None:
    """Exported through the FP16 sanity bound; the FP16 tensor budget is for trained weights
    (masktrt/budgets.py), so with random weights only finiteness and a loose bound are checked."""
    from masktrt.export.parity_tensor import tensor_parity

    half = export(model, tmp_path, precision="fp16")
    for graph in half.graphs.values():
        assert graph.compute_dtype == "float16"
        assert all(t.dtype == "float32" for t in graph.inputs + graph.outputs)
    report = tensor_parity(model, half, crops)
    print(report.table())
    assert all(np.isfinite(r.max_rel) and r.max_rel < 0.2 for r in report.rows), report.table()


# -- options, variants, feeds ---------------------------------------------------------------------

@pytest.mark.parametrize("bad", ["refit", "bogus"])
def test_unknown_correlation_is_one_line_error(side, bad) -> None:
    with pytest.raises(MasktrtError) as err:
        side.check_options({"correlation": bad})
    assert "\n" not in str(err.value) and bad in str(err.value)
    with pytest.raises(MasktrtError):
        ExportOptions(tracker=NAME, options={"correlation": bad}).validate()


def test_checkpoint_variant_is_detected_and_a_conflict_refused(model, side, tmp_path) -> None:
    from masktrt.trackers.oceanplus.export.checkpoint import save_checkpoint

    path = save_checkpoint(model, tmp_path / "mss.safetensors")
    loaded, source = side.load_model(path)
    assert loaded.variant == VARIANTS[0] and loaded.channels.width == WIDTH
    assert source["kind"] == "checkpoint"
    assert side.load_model(path, variant=VARIANTS[0])[0].variant == VARIANTS[0]
    with pytest.raises(MasktrtError) as err:
        side.load_model(path, variant=VARIANTS[1])
    assert "\n" not in str(err.value) and VARIANTS[1].upper() in str(err.value)
    with pytest.raises(MasktrtError):
        side.load_model(None, variant="xl")


def test_wrong_crop_size_is_one_line_error(model, side) -> None:
    x = torch.zeros(1, 3, INSTANCE_SIZES[0], INSTANCE_SIZES[0])
    feeds = side.trace_setup(model, {})[1][track_graph(INSTANCE_SIZES[1])]
    bad = {**{k: torch.from_numpy(v) for k, v in feeds.items()}, SEARCH_INPUT: x}
    with pytest.raises(MasktrtError) as err:
        side.run_graph(model, track_graph(INSTANCE_SIZES[1]), bad)
    assert "\n" not in str(err.value) and SEARCH_INPUT in str(err.value)


# -- seeded random weights ----------------------------------------------------------------------

def test_random_weights_finite_deterministic_and_cached(capsys) -> None:
    from masktrt.trackers.oceanplus.export.random_weights import cache_path, random_model
    from masktrt.export.random_weights import data_source

    first = random_model(seed=1, width=WIDTH, variant=VARIANTS[1], n_pairs=PAIRS)
    assert "fitting BatchNorm" in capsys.readouterr().err
    assert cache_path(1, WIDTH, VARIANTS[1], data_source(True), PAIRS).is_file()
    again = random_model(seed=1, width=WIDTH, variant=VARIANTS[1], n_pairs=PAIRS)
    assert "fitting BatchNorm" not in capsys.readouterr().err  # read from the cache
    a, b = first.state_dict(), again.state_dict()
    assert list(a) == list(b) and all(torch.equal(a[k], b[k]) for k in a)
    assert cache_path(1, WIDTH, VARIANTS[0], "x", PAIRS) != cache_path(1, WIDTH, VARIANTS[1], "x", PAIRS)


def test_random_weights_give_sane_outputs(model) -> None:
    """Plain init on 0..255 crops overflows the bbox head's exp; fitted statistics do not."""
    from masktrt.trackers.oceanplus.export.graphs import box_mask
    from masktrt.trackers.oceanplus.export.network import OceanPlus
    from masktrt.trackers.oceanplus.export.random_weights import official_init
    from masktrt.export.random_weights import calibration_crops

    crops = calibration_crops(2, seed=99)
    z, x = torch.from_numpy(crops.templates).float(), torch.from_numpy(crops.searches).float()
    mask = torch.from_numpy(np.concatenate([box_mask(w, h) for w, h in crops.target_sizes]))
    with torch.no_grad():
        raw = official_init(OceanPlus(VARIANTS[0], WIDTH), SEED).eval()
        assert not torch.isfinite(raw.track(x, *raw.template(z, mask))[1]).all()
        cls, bbox, mask_prob, xf = model.track(x, *model.template(z, mask))
    for out in (cls, mask_prob, xf):
        assert torch.isfinite(out).all() and out.abs().max() < 1e3
    # exp keeps a heavy tail on crops the statistics never saw (hundreds of pixels at a few
    # cells); what matters is finite and far below FP16's 65504
    assert torch.isfinite(bbox).all() and bbox.max() < 1e4 and bbox.median() < 50
    assert 0.3 < xf.std() < 3.0
