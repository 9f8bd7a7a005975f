"""RTS's spec: presets from §B3, geometry, budgets with reasons, and graph I/O names that are
exactly the reference model's entry points."""
from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

from masktrt.trackers.rts import spec as rts
from masktrt.specs.base import PER_FRAME, PER_TARGET

SPEC = rts.SPEC


def test_spec_imports_without_torch() -> None:
    code = "import sys, masktrt.trackers.rts.spec; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_preset_is_the_parameter_file() -> None:
    p = SPEC.preset()
    assert (p.search_area_scale, p.border_mode, p.max_scale_change) == (6.0, "inside_major", (0.8, 1.2))
    assert (p.seg_memory, p.seg_learning_rate, p.init_samples_minimum_weight) == (32, 0.1, 0.25)
    assert (p.seg_init_iters, p.seg_update_iters, p.clf_init_iters, p.clf_update_iters) == (20, 3, 10, 2)
    assert (p.clf_memory, p.clf_learning_rate, p.target_not_found_threshold) == (50, 0.01, 0.30)
    assert (p.always_update_before, p.seg_train_skipping, p.min_mask_area) == (100, 20, 100.0)
    assert SPEC.preset_from_dict(p.to_dict()) == p


def test_geometry() -> None:
    assert rts.feature_hw(rts.SEG_STRIDE) == (30, 52) and rts.feature_hw(rts.CLF_STRIDE) == (15, 26)
    assert rts.clf_score_hw() == (16, 27)
    assert rts.NORM_SCALE == pytest.approx((1 / (512 * 9)) ** 0.5)
    assert rts.learn_iterations("seg_learn_20") == 20


def test_graphs_and_how_often_they_run() -> None:
    assert SPEC.graph_names == ("feat", "clf_init_feat", "head", "label_enc", "seg_learn_20",
                                "seg_learn_3", "clf_learn_10", "clf_learn_2", "sta")
    assert {SPEC.graph(g).runs for g in ("feat", "head")} == {PER_FRAME}
    assert all(SPEC.graph(g).runs == PER_TARGET for g in SPEC.graph_names[3:])
    head = SPEC.graph("head")
    assert head.inputs[:6] == SPEC.graph("feat").outputs  # features flow into head by name
    for g in SPEC.graph_names:
        decl = SPEC.graph(g)
        assert not set(decl.inputs) & set(decl.outputs)  # ONNX forbids a name used twice
        assert set(rts.tensor_shapes(g)) == set(decl.inputs + decl.outputs)


def test_budgets_are_named_with_reasons() -> None:
    names = [b.name for b in SPEC.budgets]
    assert len(names) == len(set(names)) and all(len(b.why) > 40 for b in SPEC.budgets)
    assert SPEC.budget("tensor-fp32").value == 2e-4


def test_contract_section_round_trip() -> None:
    section = SPEC.section({})
    assert SPEC.section_problem(section, {}) is None
    section["geometry"]["crop_hw"] = [480, 480]
    assert "geometry differs" in SPEC.section_problem(section, {})


def test_sizes_option_sets_the_section_geometry() -> None:
    assert SPEC.options == {"sizes": "480x832/32/50", "filtering": "matmul"}
    assert rts.sizes_of({}) == rts.FULL_SIZES
    small = {"sizes": "128x224/4/8"}
    section = SPEC.section(small)
    assert section["geometry"]["crop_hw"] == [128, 224] and section["geometry"]["clf_score_hw"] == [5, 8]
    assert (section["geometry"]["seg_memory"], section["geometry"]["clf_memory"]) == (4, 8)
    assert SPEC.section_problem(section, small) is None
    assert "geometry differs" in SPEC.section_problem(section, {})
    assert rts.parse_sizes(rts.parse_sizes("128X224/4/8").option()) == rts.GraphSizes((128, 224), 4, 8)
    assert rts.tensor_shapes("sta", rts.parse_sizes("128x224/4/8")) == {
        "im": (1, 3, 128, 224), "box": (1, 4), "sta_logits": (1, 1, 128, 224)}


def parameters(method) -> tuple[str, ...]:
    """The method's arguments but `ops` (the export's filtering choice, not a tensor)."""
    return tuple(p for p in inspect.signature(method).parameters if p != "ops")


def test_graph_io_names_are_the_entry_points() -> None:
    """Each graph's inputs are its entry point's arguments, in order (learner graphs add the
    fixed iteration count; their memories are (x, y, w) in the spec's order)."""
    pytest.importorskip("torch")
    from masktrt.trackers.rts.export import RTS

    model = RTS
    assert parameters(model.features)[1:] == SPEC.graph("feat").inputs
    assert parameters(model.clf_init_features)[1:] == SPEC.graph("clf_init_feat").inputs
    assert parameters(model.head)[1:] == SPEC.graph("head").inputs
    assert parameters(model.encode_label)[1:] == SPEC.graph("label_enc").inputs
    for graph, method, filt in ((rts.SEG_LEARN_GRAPHS, model.seg_learn, rts.SEG_FILTER),
                                (rts.CLF_LEARN_GRAPHS, model.clf_learn, rts.CLF_FILTER)):
        args = parameters(method)[1:]
        for g in graph:
            inputs = SPEC.graph(g).inputs
            assert args[0] == filt == inputs[0] and len(args) == len(inputs) + 1
            assert args[-1] == "iters"
    assert parameters(model.features)[1:] == (rts.IM,)
    assert parameters(model.box_init)[1:] == SPEC.graph("sta").inputs
