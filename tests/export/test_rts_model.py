"""The reference RTS: exact checkpoint names/shapes/counts, entry-point shapes, purity, and the
closed-form learner steps against the released autograd arithmetic."""
from __future__ import annotations

import json

import pytest
import torch
from masktrt.trackers.rts.export import RTS
from masktrt.trackers.rts.export import gn_autograd as ga
from masktrt.trackers.rts.export.features import InstanceL2Norm
from masktrt.trackers.rts.export.prroi import prroi_pool

from masktrt.paths import REPO_ROOT
from masktrt.trackers.rts import spec

SPEC_DIR = REPO_ROOT.parent / "shared" / "spec"
SMALL_CROP = (64, 112)  # every stride divides it; layer4 2x4, seg 4x7, clf 2x4 -> scores 3x5
TOP_LEVEL = ("target_model", "label_encoder", "clf_encoder", "classifier", "feature_extractor",
             "decoder")

torch.set_num_threads(1)


def manifest() -> dict:
    path = SPEC_DIR / "rts50_state_dict.json"
    if not path.is_file():
        pytest.skip(f"state-dict manifest not found: needs {path}")
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def model() -> RTS:
    torch.manual_seed(0)
    return RTS().eval()


def crop(size: tuple[int, int] = SMALL_CROP, batch: int = 1, seed: int = 0) -> torch.Tensor:
    return torch.rand(batch, 3, *size, generator=torch.Generator().manual_seed(seed)) * 255


def test_state_dict_matches_manifest_key_for_key(model: RTS) -> None:
    entries = manifest()["entries"]
    state = model.state_dict()
    assert list(state) == [e["name"] for e in entries]
    for e in entries:
        assert list(state[e["name"]].shape) == e["shape"], e["name"]
        assert str(state[e["name"]].dtype).removeprefix("torch.") == e["dtype"], e["name"]


def test_parameter_counts_match_manifest(model: RTS) -> None:
    expected = manifest()["parameter_counts_per_top_level_module"]
    counts = {top: sum(p.numel() for p in getattr(model, top).parameters()) for top in TOP_LEVEL}
    assert counts == {k: expected[k] for k in TOP_LEVEL}
    assert sum(counts.values()) == expected["total"] == 43_848_002


def test_pixel_mean_is_not_a_weight(model: RTS) -> None:
    assert "pixel_mean" not in model.state_dict()


def head_inputs(model: RTS, size: tuple[int, int] = SMALL_CROP) -> tuple[torch.Tensor, ...]:
    torch.manual_seed(1)
    with torch.no_grad():
        feats = model.features(crop(size))
    return (*feats, torch.randn(16, 512, 3, 3) * 0.01, torch.randn(1, 512, 4, 4) * 0.01)


def test_entry_point_shapes_at_a_small_crop(model: RTS) -> None:
    inputs = head_inputs(model)
    assert [tuple(t.shape) for t in inputs[:6]] == [
        (1, 256, 16, 28), (1, 512, 8, 14), (1, 1024, 4, 7), (1, 2048, 2, 4), (1, 512, 4, 7),
        (1, 512, 2, 4)]
    with torch.no_grad():
        logits, scores = model.head(*inputs)
        label, weight = model.encode_label(torch.rand(3, 1, *SMALL_CROP))
        x5, pool_in = model.clf_init_features(crop(batch=2))
    assert logits.shape == (1, 1, *SMALL_CROP) and scores.shape == (1, 1, 3, 5)
    assert label.shape == weight.shape == (3, 16, 4, 7)
    assert x5.shape == pool_in.shape == (2, 512, 2, 4)
    assert bool(torch.isfinite(logits).all())


def test_untrained_weight_head_gives_unit_weights(model: RTS) -> None:
    """samp_w_pred starts at weight 0, bias 1 (official init): every pixel weighs 1."""
    with torch.no_grad():
        _, weight = RTS().encode_label(torch.rand(1, 1, *SMALL_CROP))
    assert torch.equal(weight, torch.ones_like(weight))


def test_entry_points_are_pure(model: RTS) -> None:
    inputs = head_inputs(model)
    attributes = set(vars(model))
    with torch.no_grad():
        first = model.head(*inputs)
        model.features(crop(seed=3))
        again = model.head(*inputs)
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert set(vars(model)) == attributes


def test_instance_l2_norm_gives_the_scaled_unit_energy() -> None:
    x = torch.randn(2, 512, 4, 7) * 50
    y = InstanceL2Norm()(x)
    energy = (y * y).flatten(1).mean(dim=1)
    assert torch.allclose(energy, torch.full((2,), spec.NORM_SCALE ** 2), rtol=1e-4)


def seg_memory(n: int, empty: int = 0, seed: int = 0) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    x = InstanceL2Norm()(torch.randn(n, 512, 4, 7, generator=g))
    y = torch.randn(n, 16, 4, 7, generator=g)
    w = torch.rand(n, 16, 4, 7, generator=g)
    w[n - empty:] = 0
    return x, y, w


def clf_memory(m: int, seed: int = 0) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    x = InstanceL2Norm()(torch.randn(m, 512, 2, 4, generator=g))
    y = torch.rand(m, 1, 3, 5, generator=g)  # Gaussians reach above and stay below 0.05
    y[:, :, 0] = 0.01
    return x, y, torch.full((m,), 1.0 / m)


def assert_close(a: torch.Tensor, b: torch.Tensor, rel: float) -> None:
    assert float((a - b).abs().max()) <= rel * float(b.abs().max()), float((a - b).abs().max())


def test_seg_closed_form_matches_autograd(model: RTS) -> None:
    """Spec §B6: ~1e-6 in FP32; 20 steps from zeros, as at init."""
    x, y, w = seg_memory(4, empty=1)
    reg = model.target_model.reg.detach()
    f0 = model.target_model.initial_filter(x)
    ours = model.seg_learn(f0, x, y, w, spec.SEG_INIT_ITERS).detach()
    released = ga.learn(f0, ga.seg_residual(x, y, w, reg), spec.SEG_INIT_ITERS)
    assert_close(ours, released, 1e-4)
    assert_close(model.seg_step(f0, x, y, w).detach(), ga.gn_step(f0, ga.seg_residual(x, y, w, reg)),
                 1e-5)


def test_clf_closed_form_matches_autograd(model: RTS) -> None:
    x, y, sw = clf_memory(5)
    f0 = torch.randn(1, 512, 4, 4, generator=torch.Generator().manual_seed(2)) * 0.01
    ours = model.clf_learn(f0, x, y, sw, spec.CLF_INIT_ITERS)
    released = ga.learn(f0, ga.clf_residual(x, y, sw, spec.CLF_REG), spec.CLF_INIT_ITERS)
    assert_close(ours, released, 1e-4)
    assert_close(model.clf_step(f0, x, y, sw), ga.gn_step(f0, ga.clf_residual(x, y, sw,
                                                                               spec.CLF_REG)), 1e-5)


def test_zero_weight_padding_is_exact(model: RTS) -> None:
    """Spec §B6: a memory padded with zero-weight slots learns the same filter."""
    x, y, w = seg_memory(6, empty=4)
    f0 = model.target_model.initial_filter(x)
    with torch.no_grad():
        padded = model.seg_learn(f0, x, y, w, 3)
        unpadded = model.seg_learn(f0, x[:2], y[:2], w[:2], 3)
    assert_close(padded, unpadded, 1e-5)
    cx, cy, sw = clf_memory(4)
    sw = torch.tensor([0.5, 0.5, 0.0, 0.0])
    f1 = torch.randn(1, 512, 4, 4) * 0.01
    assert_close(model.clf_learn(f1, cx, cy, sw, 2), model.clf_learn(f1, cx[:2], cy[:2], sw[:2], 2),
                 1e-5)


def test_learning_lowers_the_loss(model: RTS) -> None:
    x, y, w = seg_memory(3)
    reg = model.target_model.reg.detach()
    f0 = model.target_model.initial_filter(x)

    def loss(f: torch.Tensor) -> float:
        data, regular = ga.seg_residual(x, y, w, reg)(f)
        return float((data ** 2).sum() + (regular ** 2).sum())

    with torch.no_grad():
        losses = [loss(model.seg_learn(f0, x, y, w, k)) for k in (0, 1, 3, 20)]
    assert losses == sorted(losses, reverse=True) and losses[-1] < 0.9 * losses[0]


def test_prroi_pool_is_the_bin_average_of_the_bilinear_map() -> None:
    """Against dense midpoint sampling of the bilinear interpolant (zero outside the map)."""
    feat = torch.randn(1, 3, 6, 9, dtype=torch.float64)
    box = torch.tensor([[8.0, 4.0, 100.0, 60.0]], dtype=torch.float64)  # crosses the border
    ours = prroi_pool(feat, box, 4, 1.0 / 16)[0]
    n = 200
    x0, y0, bw, bh = (box[0] / 16).tolist()
    for p, q in ((0, 0), (1, 2), (3, 3)):
        ys = y0 + bh / 4 * (p + (torch.arange(n, dtype=torch.float64) + 0.5) / n)
        xs = x0 + bw / 4 * (q + (torch.arange(n, dtype=torch.float64) + 0.5) / n)
        wy = torch.clamp(1 - (ys[:, None] - torch.arange(6)).abs(), min=0)
        wx = torch.clamp(1 - (xs[:, None] - torch.arange(9)).abs(), min=0)
        dense = torch.einsum("ay,cyx,bx->c", wy, feat[0], wx) / n / n
        assert torch.allclose(ours[:, p, q], dense, atol=1e-4)
    assert torch.equal(prroi_pool(feat, torch.tensor([[5.0, 5.0, 0.0, 10.0]]), 4, 1.0)[0],
                       torch.zeros(3, 4, 4, dtype=torch.float64))


def test_clf_init_filter_averages_the_samples(model: RTS) -> None:
    pool_in = torch.randn(2, 512, 2, 4)
    boxes = torch.tensor([[10.0, 8.0, 40.0, 30.0], [12.0, 6.0, 38.0, 28.0]])
    f = model.clf_init_filter(pool_in, boxes)
    each = [model.clf_init_filter(pool_in[i:i + 1], boxes[i:i + 1]) for i in range(2)]
    assert f.shape == (1, 512, 4, 4) and torch.allclose(f, (each[0] + each[1]) / 2)


@pytest.mark.slow
def test_full_size_shapes_are_the_specs(model: RTS) -> None:
    """Spec §B1 shapes at 480x832 for the feat, head and label_enc graphs."""
    inputs = head_inputs(model, spec.CROP_HW)
    names = spec.SPEC.graph(spec.HEAD).inputs
    with torch.no_grad():
        outputs = model.head(*inputs)
        label = model.encode_label(torch.rand(1, 1, *spec.CROP_HW))
    shapes = spec.tensor_shapes(spec.HEAD)
    for name, tensor in zip(names + spec.SPEC.graph(spec.HEAD).outputs, inputs + outputs):
        assert tuple(tensor.shape) == shapes[name], name
    assert all(tuple(t.shape) == spec.tensor_shapes(spec.LABEL_ENC)[spec.LABEL] for t in label)
