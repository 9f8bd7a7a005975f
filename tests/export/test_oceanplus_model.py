"""The reference OceanPlus: exact checkpoint names/shapes/counts, output shapes, pure entry points."""
from __future__ import annotations

import json

import pytest
import torch

from masktrt.errors import MasktrtError
from masktrt.export.depthcorr import xcorr_unrolled
from masktrt.trackers.oceanplus.export import OceanPlus
from masktrt.paths import REPO_ROOT
from masktrt.trackers.oceanplus.spec import (EXEMPLAR_SIZE, INSTANCE_SIZES, TEMPLATE, TRACK_GRAPHS,
                                     VARIANTS, tensor_shapes, track_graph)

SPEC_DIR = REPO_ROOT.parent / "shared" / "spec"
SMALL = 0.25  # width of the fast tests: every spatial shape is the full network's
TOP_LEVEL = ("features", "neck", "connect_model", "mask_model")

torch.set_num_threads(1)


def manifest(variant: str) -> dict:
    path = SPEC_DIR / f"arn_oceanplus_{variant}_state_dict.json"
    if not path.is_file():
        pytest.skip(f"state-dict manifest not found: needs {path}")
    return json.loads(path.read_text())


def crops(instance: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A template crop, its binary mask (a centred box) and a search crop, BGR 0..255."""
    g = torch.Generator().manual_seed(seed)
    z = torch.rand(1, 3, EXEMPLAR_SIZE, EXEMPLAR_SIZE, generator=g) * 255
    mask = torch.zeros(1, 1, EXEMPLAR_SIZE, EXEMPLAR_SIZE)
    mask[..., 40:90, 30:100] = 1.0
    return z, mask, torch.rand(1, 3, instance, instance, generator=g) * 255


@pytest.fixture(scope="module", params=VARIANTS)
def small(request) -> OceanPlus:
    torch.manual_seed(0)
    return OceanPlus(request.param, width=SMALL).eval()


@pytest.mark.parametrize("variant", VARIANTS)
def test_state_dict_matches_manifest_key_for_key(variant: str) -> None:
    entries = manifest(variant)["entries"]
    state = OceanPlus(variant).state_dict()
    assert list(state) == [e["name"] for e in entries]
    for e in entries:
        assert list(state[e["name"]].shape) == e["shape"], e["name"]
        assert str(state[e["name"]].dtype).removeprefix("torch.") == e["dtype"], e["name"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_parameter_counts_match_manifest(variant: str) -> None:
    expected = manifest(variant)["parameter_counts_per_top_level_module"]
    model = OceanPlus(variant)
    counts = {top: sum(p.numel() for p in getattr(model, top).parameters()) for top in TOP_LEVEL}
    assert counts == {k: expected[k] for k in TOP_LEVEL}
    assert sum(counts.values()) == expected["total"]


def test_trunk_is_siammask_trunk_key_for_key() -> None:
    """Appendix 2: `features.features` is name- and shape-identical to SiamMask's (258 keys)."""
    from masktrt.trackers.siammask.export import SiamMask

    ours = {k: v.shape for k, v in OceanPlus().state_dict().items() if k.startswith("features.")}
    theirs = {k: v.shape for k, v in SiamMask().state_dict().items()
              if k.startswith("features.features.")}
    assert len(ours) == 258 and ours == theirs


def test_reduced_width_keeps_keys_and_fixed_interfaces() -> None:
    full, small = OceanPlus("mms").state_dict(), OceanPlus("mms", width=SMALL).state_dict()
    assert list(full) == list(small)
    assert small["features.features.conv1.weight"].shape[0] == 16
    assert small["connect_model.bbox_pred.weight"].shape[0] == 4
    assert small["mask_model.iter2.r0.0.weight"].shape[0] == 2


def test_unknown_variant_is_one_line_error() -> None:
    with pytest.raises(MasktrtError, match="unknown OceanPlus variant 'xyz'.*mss, mms"):
        OceanPlus("xyz")


FIXED = {"cls", "bbox", "mask_prob", "lut_value"}  # channel counts that never scale


def check_shapes(found: tuple[torch.Tensor, ...], graph: str, width: float) -> None:
    """Spec shapes by output name; below full width only the fixed channel counts are known."""
    from masktrt.trackers.oceanplus.spec import SPEC

    names = SPEC.graph(graph).outputs
    assert len(found) == len(names)
    for tensor, name in zip(found, names):
        want = tensor_shapes(graph)[name]
        got = list(tensor.shape)
        if width != 1 and name not in FIXED:
            got[1] = want[1]  # scaled channels: checked by the manifest tests instead
        assert tuple(got) == want, (graph, name, tuple(tensor.shape), want)


def run_all(model: OceanPlus, width: float) -> None:
    for instance in INSTANCE_SIZES:
        z, mask, x = crops(instance)
        with torch.no_grad():
            state = model.template(z, mask)
            out = model.track(x, *state)
        check_shapes(state, TEMPLATE, width)
        check_shapes(out, track_graph(instance), width)
        assert all(bool(torch.isfinite(o).all()) for o in out)


def test_output_shapes_at_both_instance_sizes(small: OceanPlus) -> None:
    run_all(small, SMALL)


@pytest.mark.slow
@pytest.mark.parametrize("variant", VARIANTS)
def test_full_width_output_shapes(variant: str) -> None:
    """Spec §A1 "Shapes (measured)" and §A6 at the released width, both search sizes."""
    torch.manual_seed(0)
    run_all(OceanPlus(variant).eval(), 1.0)


def test_template_state_and_lut(small: OceanPlus) -> None:
    z, mask, _ = crops(255)
    with torch.no_grad():
        zf_reg, zf_cls, key, value = small.template(z, mask)
        ones = small.template(z, torch.ones_like(mask))[3]
    assert torch.equal(zf_reg, zf_cls)
    assert torch.allclose(ones, torch.ones_like(ones))  # the value is the resized mask
    assert 0.0 < float(value.mean()) < 1.0 and value.min() >= 0 and value.max() <= 1


def test_attention_is_a_mix_of_lut_values(small: OceanPlus) -> None:
    """Each search position retrieves a convex mix of the LUT values: all-ones in, ones out."""
    _, _, x = crops(255)
    arn = small.mask_model.sequential
    xf = torch.randn(1, small.channels.neck, 31, 31)
    key = torch.randn(1, small.channels.embed, 15, 15)
    with torch.no_grad():
        assert torch.allclose(arn(xf, key, torch.ones(1, 1, 15, 15)), torch.ones(1, 1, 31, 31))
        assert torch.equal(arn(xf, key, torch.zeros(1, 1, 15, 15)), torch.zeros(1, 1, 31, 31))
        mixed = arn(xf, key, torch.rand(1, 1, 15, 15))
    assert 0 <= float(mixed.min()) and float(mixed.max()) <= 1


def test_updated_cls_template_leaves_the_box_alone(small: OceanPlus) -> None:
    """§A2: only the cls branch (and the mask, through the cls correlation) sees zf_cls."""
    z, mask, x = crops(255)
    with torch.no_grad():
        zf_reg, zf_cls, key, value = small.template(z, mask)
        before = small.track(x, zf_reg, zf_cls, key, value)
        after = small.track(x, zf_reg, 0.5 * zf_cls + 0.1, key, value)
    assert torch.equal(before[1], after[1]) and torch.equal(before[3], after[3])
    assert not torch.equal(before[0], after[0]) and not torch.equal(before[2], after[2])


def test_entry_points_are_pure(small: OceanPlus) -> None:
    """Nothing is cached on the model: same inputs, same outputs, same attributes."""
    z, mask, x = crops(287)
    attributes = set(vars(small))
    with torch.no_grad():
        state = small.template(z, mask)
        first = small.track(x, *state)
        small.template(*crops(287, seed=1)[:2])
        again = small.track(x, *state)
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert set(vars(small)) == attributes


def test_unrolled_correlation_matches_dynamic(small: OceanPlus) -> None:
    z, mask, x = crops(255)
    with torch.no_grad():
        state = small.template(z, mask)
        dynamic = small.track(x, *state)
        unrolled = small.track(x, *state, xcorr=xcorr_unrolled)
    for a, b in zip(dynamic, unrolled):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-4 * float(a.abs().max()))


def test_track_graphs_cover_both_instance_sizes() -> None:
    assert TRACK_GRAPHS == ("track_255", "track_287")
