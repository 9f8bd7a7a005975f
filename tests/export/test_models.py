"""The reference SiamMask: exact checkpoint names/shapes, output shapes, export-safe ops."""
from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from masktrt.trackers.siammask.export import SiamMask
from masktrt.export.depthcorr import xcorr_depthwise, xcorr_unrolled
from masktrt.trackers.siammask.export.refine import upsample
from masktrt.paths import REPO_ROOT
from masktrt.trackers.siammask.spec import EXEMPLAR_SIZE, INSTANCE_SIZE, MASK_OUT_SIZE, SCORE_SIZE

MANIFEST = REPO_ROOT.parent / "shared" / "spec" / "siammask_state_dict.json"

torch.set_num_threads(1)


def manifest_entries() -> list[dict]:
    if MANIFEST.is_file():
        return json.loads(MANIFEST.read_text())["entries"]
    pytest.skip("state-dict manifest not found: needs ../shared/spec/siammask_state_dict.json")


@pytest.fixture(scope="module")
def small() -> SiamMask:
    torch.manual_seed(0)
    return SiamMask(width=0.125).eval()


def test_state_dict_matches_manifest_key_for_key() -> None:
    entries = manifest_entries()
    state = SiamMask().state_dict()
    assert list(state) == [e["name"] for e in entries]
    for e in entries:
        assert list(state[e["name"]].shape) == e["shape"], e["name"]
        assert str(state[e["name"]].dtype).removeprefix("torch.") == e["dtype"], e["name"]


def test_spec_describes_official_channels() -> None:
    spec = SiamMask().spec
    assert (spec.stem, spec.p1, spec.p2, spec.p3) == (64, 256, 512, 1024)
    assert (spec.adjust, spec.hidden, spec.cls_out, spec.loc_out, spec.mask_out) == (256, 256, 10, 20, 3969)
    assert spec.refine_out == (4, 16, 32)


def test_reduced_width_scales_consistently(small: SiamMask) -> None:
    state = small.state_dict()
    assert len(state) == 356
    assert state["features.features.conv1.weight"].shape[0] == 8
    assert state["mask_model.mask.head.3.weight"].shape[0] == 3969


def test_full_width_output_shapes() -> None:
    model = SiamMask().eval()
    with torch.no_grad():
        kernels = model.template(torch.rand(1, 3, EXEMPLAR_SIZE, EXEMPLAR_SIZE) * 255)
        outs = model.search(torch.rand(1, 3, INSTANCE_SIZE, INSTANCE_SIZE) * 255, *kernels)
        logits = model.refine(*outs[3:], outs[2], torch.tensor([12, 12]))
    assert [tuple(k.shape) for k in kernels] == [(1, 256, 5, 5)] * 3
    s = SCORE_SIZE
    assert [tuple(o.shape) for o in outs] == [
        (1, 10, s, s), (1, 20, s, s), (1, 256, s, s),
        (1, 64, 125, 125), (1, 256, 63, 63), (1, 512, 31, 31)]
    assert tuple(logits.shape) == (1, 1, MASK_OUT_SIZE, MASK_OUT_SIZE)


def naive_refine(model: SiamMask, p0, p1, p2, corr, y: int, x: int) -> torch.Tensor:
    """Spec §2.5 literally: pad, python-slice, legacy nearest resizes."""
    r = model.refine_model
    q0 = F.pad(p0, [16] * 4)[:, :, 4 * y:4 * y + 61, 4 * x:4 * x + 61]
    q1 = F.pad(p1, [8] * 4)[:, :, 2 * y:2 * y + 31, 2 * x:2 * x + 31]
    q2 = F.pad(p2, [4] * 4)[:, :, y:y + 15, x:x + 15]
    q3 = corr[:, :, y, x].reshape(1, -1, 1, 1)
    out = r.post0(F.interpolate(r.h2(r.deconv(q3)) + r.v2(q2), size=(31, 31)))
    out = r.post1(F.interpolate(r.h1(out) + r.v1(q1), size=(61, 61)))
    return r.post2(F.interpolate(r.h0(out) + r.v0(q0), size=(127, 127)))


@pytest.mark.parametrize("pos", [(0, 24), (17, 5)])
def test_refine_gather_equals_pad_and_slice(small: SiamMask, pos: tuple[int, int]) -> None:
    with torch.no_grad():
        kernels = small.template(torch.rand(1, 3, EXEMPLAR_SIZE, EXEMPLAR_SIZE) * 255)
        _, _, corr, p0, p1, p2 = small.search(torch.rand(1, 3, INSTANCE_SIZE, INSTANCE_SIZE) * 255, *kernels)
        got = small.refine(p0, p1, p2, corr, torch.tensor(pos, dtype=torch.int64))
        want = naive_refine(small, p0, p1, p2, corr, *pos)
    assert torch.allclose(got, want, rtol=1e-5, atol=1e-5)
    other = small.refine(p0, p1, p2, corr, torch.tensor((pos[0] + 3) % 25, dtype=torch.int64).repeat(2))
    assert not torch.allclose(got, other)


def test_legacy_nearest_uses_floor_indices() -> None:
    src = torch.arange(15, dtype=torch.float32).reshape(1, 1, 1, 15).expand(1, 1, 15, 15)
    row = upsample(src, 31)[0, 0, 0]
    assert row.tolist() == [float(i * 15 // 31) for i in range(31)]


@pytest.mark.parametrize("fn", [xcorr_depthwise, xcorr_unrolled])
def test_xcorr_equals_per_channel_conv(fn) -> None:
    g = torch.Generator().manual_seed(1)
    search, kernel = torch.randn(2, 6, 11, 9, generator=g), torch.randn(2, 6, 5, 3, generator=g)
    want = torch.stack([torch.cat([F.conv2d(search[b:b + 1, c:c + 1], kernel[b:b + 1, c:c + 1])
                                   for c in range(6)], dim=1)[0] for b in range(2)])
    got = fn(search, kernel)
    assert got.shape == (2, 6, 7, 7)
    assert torch.allclose(got, want, atol=1e-5)


def test_entry_points_keep_no_state(small: SiamMask) -> None:
    z = torch.rand(1, 3, EXEMPLAR_SIZE, EXEMPLAR_SIZE) * 255
    x = torch.rand(1, 3, INSTANCE_SIZE, INSTANCE_SIZE) * 255
    with torch.no_grad():
        k1 = small.template(z)
        out1 = small.search(x, *k1)
        small.template(torch.rand_like(z) * 255)
        out2 = small.search(x, *k1)
    assert all(torch.equal(a, b) for a, b in zip(out1, out2))


def test_spec_names_its_backbone_and_lite0_taps_do_not_scale() -> None:
    from masktrt.trackers.siammask.export import SiamMaskSpec

    assert SiamMaskSpec().to_dict()["backbone"] == "resnet50"
    lite = SiamMaskSpec(0.5, "efficientnet_lite0")
    assert (lite.stem, lite.p1, lite.p2, lite.p3) == (16, 24, 40, 112)
    assert (lite.adjust, lite.hidden) == (128, 128)
