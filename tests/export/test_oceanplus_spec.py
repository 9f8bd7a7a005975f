"""OceanPlus's spec: presets from the paper's table, geometry, budgets with reasons, and graph
I/O names that are exactly the reference model's entry points."""
from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

from masktrt.errors import MasktrtError
from masktrt.trackers.oceanplus import spec as op
from masktrt.specs.base import PER_FRAME, PER_TARGET

SPEC = op.SPEC


def test_spec_imports_without_torch() -> None:
    code = "import sys, masktrt.trackers.oceanplus.spec; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


@pytest.mark.parametrize("name,values", [
    ("vot2020", (0.06, 0.644, 0.484, 0.9)),
    ("davis2016", (0.032, 0.98, 0.45, 0.84)),
    ("davis2017", (0.031, 1.0, 0.35, 0.84)),
])
def test_presets_are_the_spec_table(name: str, values: tuple[float, ...]) -> None:
    preset = SPEC.preset(name)
    assert (preset.penalty_k, preset.lr, preset.window_influence, preset.seg_thr) == values
    assert (preset.small_size, preset.big_size) == op.INSTANCE_SIZES
    assert SPEC.preset_from_dict(preset.to_dict()) == preset


def test_default_preset_and_unknown_names() -> None:
    assert SPEC.preset().name == "vot2020" and op.PRESET_VARIANT["davis2017"] == "mms"
    assert SPEC.preset("davis2016", seg_thr=0.5).seg_thr == 0.5
    with pytest.raises(MasktrtError, match="vot2020, davis2016, davis2017"):
        SPEC.preset("vot")


def test_geometry() -> None:
    assert [op.score_size(s) for s in op.INSTANCE_SIZES] == [25, 29]
    assert [op.feature_size(s) for s in op.INSTANCE_SIZES] == [31, 35]
    assert op.KERNEL_SIDE == 7
    assert op.instance_size_for(0.0039 * 1e6, 1e6) == 287
    assert op.instance_size_for(0.004 * 1e6, 1e6) == 255


def test_graphs_and_how_often_they_run() -> None:
    assert SPEC.graph_names == ("template", "track_255", "track_287")
    assert SPEC.graph("template").runs == PER_TARGET
    assert {SPEC.graph(g).runs for g in op.TRACK_GRAPHS} == {PER_FRAME}
    template_out = SPEC.graph("template").outputs
    for g in op.TRACK_GRAPHS:  # the target state flows from template into track by name
        assert SPEC.graph(g).inputs[1:] == template_out
        assert set(SPEC.graph(g).inputs + SPEC.graph(g).outputs) <= set(op.tensor_shapes(g))
    assert SPEC.preprocessing.sizes == {"z": 127, "track_255/x": 255, "track_287/x": 287}


def test_budgets_are_named_with_reasons() -> None:
    names = [b.name for b in SPEC.budgets]
    assert len(names) == len(set(names))
    assert all(len(b.why) > 40 for b in SPEC.budgets)
    assert SPEC.budget("tensor-fp32").value == 2e-4
    assert {b.level for b in SPEC.budgets} == {"tensor", "frame", "closed-loop", "block", "accuracy"}


def test_contract_section_round_trip() -> None:
    section = SPEC.section({"correlation": "unrolled"})
    assert SPEC.section_problem(section, {"correlation": "unrolled"}) is None
    assert "unknown correlation" in SPEC.section_problem(section, {"correlation": "refit"})
    section["geometry"]["instance_sizes"] = [255, 303]
    assert "geometry differs" in SPEC.section_problem(section, {})


def test_graph_io_names_are_the_entry_points() -> None:
    """template(z, z_mask) and track(x, zf_reg, zf_cls, lut_key, lut_value) by name and order;
    the outputs' count and shapes are checked by test_oceanplus_model."""
    pytest.importorskip("torch")
    from masktrt.trackers.oceanplus.export import OceanPlus

    def params(method) -> tuple[str, ...]:
        names = list(inspect.signature(method).parameters)
        return tuple(n for n in names if n != "xcorr")

    assert params(OceanPlus.template)[1:] == SPEC.graph("template").inputs
    for g in op.TRACK_GRAPHS:
        assert params(OceanPlus.track)[1:] == SPEC.graph(g).inputs
