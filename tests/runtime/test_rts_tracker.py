"""RTSTracker (spec arn-rts.md Part B) over crafted NumPy runners at the small test sizes: crop
geometry (inside_major shift, pre-subsampling), paste-back, PrRoIPool, labels, blur, memory
slots and weights, the update schedule, zero-weight padding, lost logic, invalid outputs, bad
input, replay. Torch only as an optional oracle, and in the end-to-end test through the torch
reference runner and ONNX Runtime at the small export sizes (closed-loop parity in miniature)."""
from __future__ import annotations

import importlib.util
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from masktrt.errors import MasktrtError
from masktrt.runtime.backends.base import RunnerBase
from masktrt.trackers.rts import geometry as geo_mod
from masktrt.trackers.rts import host
from masktrt.trackers.rts.tracker import RTSTracker, graph_sizes, target_from_box
from masktrt.trackers.rts import spec

SMALL = spec.GraphSizes(crop_hw=(128, 224), seg_memory=4, clf_memory=8)
CONFIG = spec.PRESETS["rts50"]
HAS_TORCH = importlib.util.find_spec("torch") is not None
needs_torch = pytest.mark.skipif(not HAS_TORCH, reason="torch is not installed (optional oracle)")


def frame(h: int = 240, w: int = 320, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8)


def target_mask(h: int = 240, w: int = 320, box=(140, 100, 40, 30)) -> np.ndarray:
    mask = np.zeros((h, w), np.uint8)
    x, y, bw, bh = box
    mask[y:y + bh, x:x + bw] = 1
    return mask


class FakeRTS(RunnerBase):
    """The GraphRunner contract with crafted outputs at SMALL sizes; records every call.

    head: mask logits +8 inside a centred box of the crop (`logit_box`, crop px), -8 elsewhere;
    clf scores `base` everywhere and `peak` at `peak_cell`. Learners return the start filter
    plus one, so the filters count learner calls. sta: `sta_logit` everywhere (STA's mask is
    then exactly what the box cut leaves)."""

    name = "fake-rts"

    def __init__(self, peak: float = 1.0, peak_cell=(2, 4), base: float = 0.0,
                 logit_box=(0.4, 0.6), nan: str | None = None, sta_logit: float = 8.0) -> None:
        rng = np.random.default_rng(0)
        self.feats = {n: rng.standard_normal(s).astype(np.float32)
                      for n, s in spec.tensor_shapes(spec.FEAT, SMALL).items() if n != spec.IM}
        self.peak, self.peak_cell, self.base, self.logit_box, self.nan = peak, peak_cell, base, logit_box, nan
        self.calls: list[tuple[str, dict]] = []
        self.sta_logit = sta_logit

    def graphs(self, name: str) -> list[dict]:
        return [feeds for graph, feeds in self.calls if graph == name]

    def run(self, graph: str, feeds: dict, keep_on_device=()) -> dict:
        self.calls.append((graph, dict(feeds)))
        shapes = spec.tensor_shapes(graph, SMALL)
        for name, value in feeds.items():
            assert np.asarray(value).shape == shapes[name], (graph, name)
        return getattr(self, graph.rstrip("0123456789_").replace("learn", "learn_"))(feeds, shapes)

    def feat(self, feeds, shapes):
        return dict(self.feats)

    def clf_init_feat(self, feeds, shapes):
        x5 = np.repeat(self.feats[spec.CLF_X], 5, axis=0)
        return {spec.CLF_X5: x5, spec.CLF_POOL_IN5: x5}

    def label_enc(self, feeds, shapes):
        m = float(feeds[spec.MASK].mean())
        return {spec.LABEL: np.full(shapes[spec.LABEL], m, np.float32),
                spec.LABEL_W: np.ones(shapes[spec.LABEL_W], np.float32)}

    def head(self, feeds, shapes):
        h, w = SMALL.crop_hw
        logits = np.full(shapes[spec.MASK_LOGITS], -8.0, np.float32)
        lo, hi = self.logit_box
        logits[..., int(lo * h):int(hi * h), int(lo * w):int(hi * w)] = 8.0
        scores = np.full(shapes[spec.CLF_SCORES], self.base, np.float32)
        scores[0, 0, self.peak_cell[0], self.peak_cell[1]] = self.peak
        if self.nan:
            (logits if self.nan == spec.MASK_LOGITS else scores)[..., 0, 0] = np.nan
        return {spec.MASK_LOGITS: logits, spec.CLF_SCORES: scores}

    def sta(self, feeds, shapes):
        return {spec.STA_LOGITS: np.full(shapes[spec.STA_LOGITS], self.sta_logit, np.float32)}

    def seg_learn_(self, feeds, shapes):
        return {spec.SEG_FILTER_OUT: feeds[spec.SEG_FILTER] + 1}

    def clf_learn_(self, feeds, shapes):
        return {spec.CLF_FILTER_OUT: feeds[spec.CLF_FILTER] + 1}


def start(runner=None, config=CONFIG, f=None, mask=None, box=(140, 100, 40, 30)):
    runner = runner or FakeRTS()
    tracker = RTSTracker(runner, config, sizes=SMALL)
    f = frame() if f is None else f
    mask = target_mask(box=box) if mask is None else mask
    return tracker, runner, tracker.init(f, box, mask=mask), f


# ---------------------------------------------------------------- crop geometry
def test_target_state_and_scale_from_the_box():
    pos, size, scale = target_from_box((10, 20, 40, 30), (480, 832), 6.0)
    np.testing.assert_allclose(pos, [20 + 29 / 2, 10 + 39 / 2])
    np.testing.assert_allclose(size, [30, 40])
    assert scale == pytest.approx(np.sqrt(30 * 6 * 40 * 6) / np.sqrt(480 * 832))


def test_small_crop_needs_no_subsampling_and_is_centred():
    g = geo_mod.sample_geometry((400, 600), (200.7, 300.2), (120.0, 208.0), (120, 208), "inside_major")
    assert g.df == 1 and g.offset == (0, 0)
    assert g.tl == (200 - 59, 300 - 103) and g.br == (200 + 61, 300 + 105)  # trunc, (s-1)//2, s//2+1
    assert g.sample_scale == pytest.approx(1.0)


def test_large_crop_is_pre_subsampled_with_integer_stride():
    # 4.2x the output: df = int(4.2 - 0.1) = 4; posl // 4 after removing posl % 4
    g = geo_mod.sample_geometry((2000, 3000), (1003.0, 1501.0), (4.2 * 120, 4.2 * 208), (120, 208))
    assert g.df == 4 and g.offset == (1003 % 4, 1501 % 4)
    size = np.round(np.array([4.2 * 120, 4.2 * 208]) / 4).astype(int)
    assert (g.br[0] - g.tl[0], g.br[1] - g.tl[1]) == tuple(size)
    # 2.05x: int(2.05 - 0.1) = 1, no subsampling (the 0.1 margin)
    assert geo_mod.sample_geometry((2000, 3000), (1000.0, 1500.0), (246.0, 426.4), (120, 208)).df == 1


def test_inside_major_shrinks_by_the_smaller_overflow_and_shifts_inside():
    # crop 300x520 on a 240x640 image: overflow ratios 1.25 (h) and 0.81 (w) -> min 1 -> no shrink;
    # it then sticks out at the top (pos y 20): shifted down to start at row 0; h still overflows
    # by 60 rows -> centred (30 above, 30 below)
    g = geo_mod.sample_geometry((240, 640), (20.0, 320.0), (300.0, 520.0), (120, 208), "inside_major")
    assert g.df == 2  # min(300/120, 520/208) = 2.5 -> int(2.4) = 2
    assert g.br[0] - g.tl[0] == 150 and g.tl[0] == -15 and g.br[0] == 135  # 120 rows of im[::2]
    # both overflow (ratio 2 and 1.5): shrink by 1.5, the width then fits exactly
    g = geo_mod.sample_geometry((100, 200), (50.0, 100.0), (200.0, 300.0), (100, 150), "inside_major")
    assert (g.tl[1], g.br[1]) == (0, 200) and g.br[0] - g.tl[0] == 133


def test_replicate_mode_does_not_shift():
    g = geo_mod.sample_geometry((100, 200), (5.0, 5.0), (64.0, 112.0), (64, 112))
    assert g.tl == (5 - 31, 5 - 55)


def test_crop_replicates_the_border_and_masks_pad_with_zero():
    f = frame(60, 80)
    g = geo_mod.sample_geometry((60, 80), (2.0, 3.0), (16.0, 16.0), (16, 16))
    crop = geo_mod.crop_image(f, g)[0].transpose(1, 2, 0)
    np.testing.assert_array_equal(crop[0, 0], f[0, 0])  # replicated corner
    np.testing.assert_array_equal(crop[-1, -1], f[2 + 8, 3 + 8])
    m = geo_mod.crop_mask(np.ones((60, 80), np.float32), g)[0, 0]
    assert m[0, 0] == 0 and m[-1, -1] == 1 and m[:5].sum() == 0  # rows -5..-1 lie outside


@needs_torch
@pytest.mark.parametrize("pos, size, mode", [((120.3, 150.8), (300.0, 520.0), "inside_major"),
                                             ((20.0, 30.0), (90.0, 150.0), "replicate"),
                                             ((200.0, 10.0), (500.0, 860.0), "inside_major")])
def test_crop_matches_a_torch_transcription_of_sample_patch(pos, size, mode):
    import torch
    import torch.nn.functional as F

    f = frame(240, 320, seed=3)
    g = geo_mod.sample_geometry((240, 320), pos, size, (64, 112), mode)
    im = torch.from_numpy(f).float().permute(2, 0, 1)[None]
    im2 = im[..., g.offset[0]::g.df, g.offset[1]::g.df]
    (t0, t1), (b0, b1) = g.tl, g.br
    patch = F.pad(im2, (-t1, b1 - im2.shape[3], -t0, b0 - im2.shape[2]), "replicate")
    ref = F.interpolate(patch, [64, 112], mode="bilinear").numpy()
    np.testing.assert_allclose(geo_mod.crop_image(f, g), ref, atol=2e-3)
    mref = F.interpolate(F.pad(im2[:, :1], (-t1, b1 - im2.shape[3], -t0, b0 - im2.shape[2])),
                         [64, 112], mode="nearest").numpy()
    np.testing.assert_array_equal(geo_mod.crop_mask(f[..., 0], g), mref)


def test_shift_crop_is_the_identity_transforms_window():
    patch = np.arange(8 * 10, dtype=np.float32).reshape(1, 1, 8, 10)
    out = geo_mod.shift_crop(patch, (4, 4), (0, 0))
    np.testing.assert_array_equal(out[0, 0], patch[0, 0, 2:6, 3:7])
    # pads top floor(-2) - 3 = -5, left floor(-3) + 4 = 1: rows 5.. (7 replicated), cols -1..2
    out = geo_mod.shift_crop(patch, (4, 4), (-3, 4))
    np.testing.assert_array_equal(out[0, 0], patch[0, 0][[5, 6, 7, 7]][:, [0, 0, 1, 2]])


# ---------------------------------------------------------------- paste-back
@needs_torch
@pytest.mark.parametrize("factor", [0.73, 1.0, 2.37])
def test_scale_factor_resize_matches_torch(factor):
    import torch
    import torch.nn.functional as F

    x = np.random.default_rng(1).standard_normal((32, 56)).astype(np.float32)
    ref = F.interpolate(torch.from_numpy(x)[None, None], scale_factor=factor, mode="bilinear")
    np.testing.assert_allclose(geo_mod.resize_by_factor(x, factor), ref[0, 0].numpy(), atol=1e-5)


def test_paste_puts_the_resized_crop_at_its_window_in_a_minus_100_canvas():
    g = geo_mod.sample_geometry((100, 200), (30.0, 60.0), (32.0, 56.0), (32, 56))
    logits = np.full((1, 1, 32, 56), 5.0, np.float32)
    out = geo_mod.paste_logits(logits, g, (100, 200), -100.0)
    pos = g.sample_pos
    r1, c1 = int(pos[0] - 16), int(pos[1] - 28)
    assert (out[r1:r1 + 32, c1:c1 + 56] == 5).all() and (out == 5).sum() == 32 * 56
    assert out.min() == -100.0 and out.dtype == np.float32
    clipped = geo_mod.paste_logits(logits, geo_mod.sample_geometry(
        (100, 200), (5.0, 190.0), (32.0, 56.0), (32, 56)), (100, 200), -100.0)
    assert 0 < (clipped == 5).sum() < 32 * 56


# ---------------------------------------------------------------- host arithmetic
@needs_torch
def test_prroi_pool_host_equals_the_export_reference():
    import torch
    from masktrt.trackers.rts.export.prroi import prroi_pool as torch_pool

    rng = np.random.default_rng(2)
    feat = rng.standard_normal((5, 7, 15, 26)).astype(np.float32)
    boxes = np.array([[100, 80, 200, 150], [-30, 10, 90, 60], [800, 400, 100, 100],
                      [0, 0, 0, 10], [300.5, 200.25, 64.75, 33.5]], np.float32)
    ref = torch_pool(torch.from_numpy(feat), torch.from_numpy(boxes), 4, spec.CLF_POOL_SCALE)
    np.testing.assert_allclose(host.prroi_pool(feat, boxes, 4, spec.CLF_POOL_SCALE), ref.numpy(),
                               rtol=1e-5, atol=1e-6)


def test_prroi_pool_of_a_constant_map_is_that_constant_inside():
    feat = np.full((1, 2, 15, 26), 3.0, np.float32)
    out = host.prroi_pool(feat, np.array([[32, 32, 128, 64]]), 4, 1 / 16)
    np.testing.assert_allclose(out, 3.0, rtol=1e-6)


@needs_torch
def test_blur_is_separable_gaussian_with_zero_padding_as_the_release():
    import torch
    import torch.nn.functional as F

    im = np.random.default_rng(4).uniform(0, 255, (1, 3, 20, 30)).astype(np.float32)
    for sy, sx in spec.CLF_INIT_BLURS:
        ky, kx = host.gaussian_taps(sy), host.gaussian_taps(sx)
        t = torch.from_numpy(im).view(-1, 1, 20, 30)
        t = F.conv2d(t, torch.from_numpy(ky).view(1, 1, -1, 1), padding=(len(ky) // 2, 0))
        t = F.conv2d(t, torch.from_numpy(kx).view(1, 1, 1, -1), padding=(0, len(kx) // 2))
        np.testing.assert_allclose(host.blur(im, (sy, sx)), t.view(1, 3, 20, 30).numpy(), atol=1e-3)


def test_five_augmentations_in_the_release_order():
    im = np.random.default_rng(5).uniform(0, 255, (1, 3, 16, 24)).astype(np.float32)
    five = host.augmented5(im)
    assert five.shape == (5, 3, 16, 24)
    np.testing.assert_array_equal(five[0], im[0])
    np.testing.assert_array_equal(five[1], im[0, :, :, ::-1])
    assert len(host.gaussian_taps(3.0)) == 13 and len(host.gaussian_taps(1.0)) == 5
    assert five[2, :, 0].mean() < im[0, :, 0].mean()  # zero padding darkens the top row


def test_gaussian_label_peaks_at_the_target_with_the_half_cell_offset():
    label = host.clf_label((15, 26), 1.5, np.array([1.0, 0.5]))
    assert label.shape == (1, 1, 16, 27)
    # k runs -7 .. 8 (rows) and -12.5 .. 13.5 (cols): k = 1.0 is row 8, k = 0.5 is col 13
    row, col = np.unravel_index(np.argmax(label), label.shape[-2:])
    assert (row, col) == (8, 13) and label.max() == pytest.approx(1.0)
    centre = host.label_center(np.array([100.0, 200.0]), np.array([100.0, 200.0]), 1.0, (15, 26),
                               (480, 832))
    np.testing.assert_allclose(centre, [0.5, 0.5])


def test_crop_box_is_the_iounet_box():
    box = host.crop_box(np.array([50.0, 60.0]), np.array([20.0, 40.0]), np.array([50.0, 60.0]),
                        2.0, (480, 832))
    np.testing.assert_allclose(box, [415.5 - 9.5, 239.5 - 4.5, 20, 10])


def test_var_box_and_mask_box():
    prob = np.zeros((50, 60), np.float32)
    prob[10:20, 30:34] = 1.0
    (cy, cx), (sy, sx) = host.var_box(prob)
    assert (cy, cx) == (14.5, 31.5)
    assert sy == pytest.approx(np.sqrt(((np.arange(10) - 4.5) ** 2).mean()))
    assert host.var_box(np.zeros((5, 5))) is None
    assert host.mask_box(prob > 0) == (30.0, 10.0, 4.0, 10.0)
    assert host.mask_box(np.zeros((5, 5), bool)) == spec.LOST_SEG_BOX


def test_rescaling_averages_recent_larger_scales():
    scales = (1.0, 2.0, 0.5, 3.0, 1.5)
    assert host.rescaled(scales, 1, 60, 30) == pytest.approx((3.0 + 1.5) / 2)  # at least 2
    assert host.rescaled(scales, 5, 60, 30) == pytest.approx((2.0 + 3.0 + 1.5) / 3)
    assert host.clip_scale(2.0, 1.0, (0.8, 1.2)) == 1.2 and host.clip_scale(0.5, 1.0, (0.8, 1.2)) == 0.8


# ---------------------------------------------------------------- memories and weights
def test_memory_weights_follow_the_release_and_keep_the_init_sample():
    mem = host.Memory.start([("init",)], 4, 0.25)
    slots = []
    for i in range(6):
        mem, slot = mem.insert((f"s{i}",), 0.1)
        slots.append(slot)
        assert mem.weights.sum() == pytest.approx(1.0, abs=1e-6) and mem.weights[0] >= 0.25 - 1e-7
    assert slots[:3] == [1, 2, 3] and mem.slots[0] == ("init",)
    # first insert: [1/0.9, 0.1] normalised; next: previous slot's weight / 0.9
    first = host.Memory.start([("i",)], 4, 0.25).insert(("a",), 0.1)[0]
    np.testing.assert_allclose(first.weights[:2], np.array([1 / 0.9, 0.1]) / (1 / 0.9 + 0.1), rtol=1e-6)
    assert slots[3] == 1 + int(np.argmin([0.1 / 0.9, 0.1 / 0.81, 0.1 / 0.729]))  # oldest non-init


def test_classifier_memory_can_replace_init_samples():
    mem = host.Memory.start([(i,) for i in range(5)], 6, None)
    mem, slot = mem.insert(("a",), 0.5)  # init 0.2 / 0.5 each, new 0.5: normalised 0.16 / 0.2
    assert slot == 5 and mem.weights.sum() == pytest.approx(1.0, abs=1e-6)
    mem, slot = mem.insert(("b",), 0.5)
    assert slot == 0 and mem.slots[0] == ("b",)  # full: the lowest weight, init samples included


def test_memories_are_padded_to_the_graph_slots_with_zero_weights():
    _, runner, state, _ = start()
    (seg_feeds,) = runner.graphs("seg_learn_20")
    assert seg_feeds["seg_mem_x"].shape[0] == SMALL.seg_memory
    assert (seg_feeds["seg_mem_w"][1:] == 0).all() and (seg_feeds["seg_mem_x"][1:] == 0).all()
    np.testing.assert_array_equal(seg_feeds["seg_mem_w"][0], 1.0)  # label_w x init weight 1
    (clf_feeds,) = runner.graphs("clf_learn_10")
    np.testing.assert_allclose(clf_feeds["clf_mem_w"], [0.2] * 5 + [0] * 3)
    assert (clf_feeds["clf_mem_y"][5:] == 0).all()


# ---------------------------------------------------------------- init
def test_init_runs_the_init_graphs_in_order_with_the_mask_label():
    tracker, runner, state, _ = start()
    assert [g for g, _ in runner.calls] == ["feat", "label_enc", "seg_learn_20", "clf_init_feat",
                                            "clf_learn_10"]
    mask = runner.graphs("label_enc")[0]["mask"]
    assert set(np.unique(mask)) == {0.0, 1.0} and 0 < mask.mean() < 0.2
    assert (state.seg_filter == 1).all()  # one learner call from zero
    assert state.frame_num == 1 and state.box == (140, 100, 40, 30)
    assert state.prev_raw.max() == 100 and state.prev_raw.min() == -100
    np.testing.assert_allclose(state.pos, [100 + 29 / 2, 140 + 39 / 2])


def test_clf_init_filter_is_the_mean_prroi_pool_of_the_five_boxes():
    tracker, runner, state, _ = start()
    pool_in = runner.feats[spec.CLF_X]
    start_filter = runner.graphs("clf_learn_10")[0]["clf_filter"]
    box = host.crop_box(state.pos, state.target_sz, np.round(state.pos), state.target_scale,
                        SMALL.crop_hw)
    expected = host.prroi_pool(pool_in, box[None], 4, spec.CLF_POOL_SCALE)
    np.testing.assert_allclose(start_filter, expected, rtol=1e-5, atol=1e-6)
    labels = runner.graphs("clf_learn_10")[0]["clf_mem_y"][:5]
    assert all(np.array_equal(labels[0], lab) for lab in labels)  # unflipped, as released


def test_box_only_init_runs_sta_first_then_the_mask_init():
    runner = FakeRTS()
    tracker = RTSTracker(runner, CONFIG, sizes=SMALL)
    box = (140.6, 100.2, 40.9, 30.5)
    state = tracker.init(frame(), box)
    assert [g for g, _ in runner.calls] == ["sta", "feat", "label_enc", "seg_learn_20",
                                            "clf_init_feat", "clf_learn_10"]
    assert state.box == box  # the given box, not the mask's
    inside = state.prev_raw > 0  # STA's logits (+8 everywhere) cut to the truncated box
    assert inside.sum() == 40 * 30 and inside[100:130, 140:180].all()
    np.testing.assert_allclose(state.pos, [100.2 + 29.5 / 2, 140.6 + 39.9 / 2])


def test_sta_crop_is_a_replicate_crop_at_scale_4_with_the_box_in_crop_pixels():
    runner = FakeRTS()
    box = (140, 100, 40, 30)
    RTSTracker(runner, CONFIG, sizes=SMALL).init(frame(), box)
    (feeds,) = runner.graphs("sta")
    pos, size, scale = target_from_box(box, SMALL.crop_hw, CONFIG.sta_search_area_scale)
    assert scale == pytest.approx(np.sqrt(16 * 40 * 30 / (128 * 224)))
    geo = geo_mod.sample_geometry((240, 320), pos, scale * np.asarray(SMALL.crop_hw), SMALL.crop_hw)
    np.testing.assert_array_equal(feeds["im"], geo_mod.crop_image(frame(), geo))
    expected = host.crop_box(pos, size, geo.sample_pos, geo.sample_scale, SMALL.crop_hw)
    np.testing.assert_array_equal(feeds["box"], np.trunc(expected)[None])
    x, y, w, h = feeds["box"][0]  # centred, 1/16 of the crop's area (truncated)
    assert abs(x + w / 2 - 112) < 2 and abs(y + h / 2 - 64) < 2
    assert w * h == pytest.approx(128 * 224 / 16, rel=0.05)


def test_sta_mask_is_pasted_into_a_minus_100_canvas_and_cut_to_the_box():
    scores = np.full((6, 8), 5.0, np.float32)
    out = host.outside_box(scores, (2.7, 1.2, 3.9, 2.5), -100.0)
    assert (out[1:3, 2:5] == 5).all() and (out == -100).sum() == 48 - 6
    clipped = host.outside_box(scores, (-1.5, 4.0, 3.0, 9.0), -100.0)  # x: int(-1.5) = -1 .. 2
    assert (clipped[4:, :2] == 5).all() and (clipped == 5).sum() == 4  # clipped at 0, not wrapped


def test_neither_box_nor_mask_is_a_one_line_error():
    tracker = RTSTracker(FakeRTS(), CONFIG, sizes=SMALL)
    with pytest.raises(MasktrtError, match="box or mask") as err:
        tracker.init(frame(), None)
    assert "\n" not in str(err.value)


def test_mask_without_box_uses_its_bounding_box():
    tracker = RTSTracker(FakeRTS(), CONFIG, sizes=SMALL)
    state = tracker.init(frame(), None, mask=target_mask(box=(10, 20, 30, 40)))
    assert state.box == (10.0, 20.0, 30.0, 40.0)


@pytest.mark.parametrize("bad", [np.zeros((240, 320), np.uint8), np.ones((10, 10), np.uint8)])
def test_bad_masks_are_one_line_errors(bad):
    with pytest.raises(MasktrtError):
        RTSTracker(FakeRTS(), CONFIG, sizes=SMALL).init(frame(), (140, 100, 40, 30), mask=bad)


@pytest.mark.parametrize("bad", [np.zeros((10, 10), np.uint8), np.zeros((10, 10, 3), np.float32)])
def test_bad_frames_are_one_line_errors(bad):
    with pytest.raises(MasktrtError, match="frame"):
        RTSTracker(FakeRTS(), CONFIG, sizes=SMALL).init(bad, (1, 1, 4, 4), mask=np.ones((10, 10)))


def test_frame_size_change_is_an_error():
    tracker, _, state, _ = start()
    with pytest.raises(MasktrtError, match="frame size changed"):
        tracker.track(frame(100, 100), state)


@pytest.mark.parametrize("change, match", [(dict(seg_to_bb_mode="max"), "seg_to_bb_mode"),
                                           (dict(border_mode="mirror"), "border_mode"),
                                           (dict(clf_memory=4), "init samples")])
def test_unsupported_settings_are_one_line_errors(change, match):
    with pytest.raises(MasktrtError, match=match):
        RTSTracker(FakeRTS(), replace(CONFIG, **change), sizes=SMALL)


# ---------------------------------------------------------------- per frame
def test_track_output_mask_box_and_paste():
    tracker, runner, state, f = start()
    state2, res = tracker.track(f, state)
    assert res.invalid is None and not res.lost and res.extra["clf_flag"] == "normal"
    assert res.mask.shape == f.shape[:2] and res.mask.dtype == np.uint8
    ys, xs = np.nonzero(res.mask)
    np.testing.assert_allclose(res.xywh, [xs.min(), ys.min(), np.ptp(xs) + 1, np.ptp(ys) + 1])
    assert res.prob.dtype == np.float32 and res.prob[res.mask == 0].max() <= 0.5
    assert res.prob[0, 0] < 1e-30  # the -100 canvas
    assert state2.frame_num == 2 and state2.prev_crop is not None
    assert res.score == pytest.approx(1.0)


def test_second_frame_repositions_on_the_first_masks_var_box():
    tracker, runner, state, f = start()
    moved = tracker._reposition(state)
    ys, xs = np.nonzero(target_mask())
    np.testing.assert_allclose(moved.pos, [ys.mean(), xs.mean()])
    raw = 16 * np.sqrt(ys.var() * xs.var())  # (4 sigma_y)(4 sigma_x)
    expected = np.clip(np.sqrt(raw / np.prod(state.base_target_sz)), 0.8 * state.target_scale,
                       1.2 * state.target_scale)
    assert moved.target_scale == pytest.approx(expected)
    np.testing.assert_allclose(moved.target_sz, state.base_target_sz * moved.target_scale)


def test_search_crop_is_centred_half_a_cell_off():
    tracker, runner, state, f = start()
    tracker.track(f, state)
    # seg features 8x14 (even) + 3x3 kernel: odd, so the crop centre moves by scale x 8 px
    np.testing.assert_allclose(tracker.center_shift, [8.0, 8.0])


def test_learner_schedule_every_frame_then_every_skip():
    config = replace(CONFIG, always_update_before=5, seg_train_skipping=3, clf_train_skipping=4)
    tracker, runner, state, f = start(config=config)
    seen = []
    for _ in range(9):
        state, res = tracker.track(f, state)
        seen.append((state.frame_num, res.extra["seg_update"], res.extra["clf_update"]))
    # seg: no sample before frame 3; learn t < 5 or (t-1) % 3 == 0; clf: learn t < 5 or (t-1) % 4 == 0
    assert seen == [(2, "no", "learn"), (3, "learn", "learn"), (4, "learn", "learn"),
                    (5, "insert", "learn"), (6, "insert", "insert"), (7, "learn", "insert"),
                    (8, "insert", "insert"), (9, "insert", "learn"), (10, "learn", "insert")]
    assert state.seg_memory.count == 4 and state.clf_memory.count == 8


def test_seg_memory_stores_the_previous_soft_mask_crop_and_features():
    tracker, runner, state, f = start()
    s2, _ = tracker.track(f, state)
    runner.calls.clear()
    tracker.track(f, s2)
    enc_mask = runner.graphs("label_enc")[0]["mask"]
    np.testing.assert_array_equal(enc_mask, geo_mod.crop_mask(s2.prev_raw, s2.prev_crop))
    assert 0 < enc_mask.max() <= 1 and not set(np.unique(enc_mask)) <= {0.0, 1.0}  # soft
    learn = runner.graphs("seg_learn_3")[0]
    np.testing.assert_array_equal(learn["seg_mem_x"][1], runner.feats[spec.SEG_X][0])
    assert (learn["seg_mem_w"][2:] == 0).all() and learn["seg_mem_w"][1].max() > 0


def test_not_found_is_lost_and_the_next_frame_keeps_position_and_rescales():
    tracker, runner, state, f = start(FakeRTS(peak=0.2))
    s2, res = tracker.track(f, state)
    assert res.lost and res.extra["clf_flag"] == "not_found" and res.extra["clf_update"] == "no"
    assert s2.lost_clf and s2.clf_memory.count == 5
    s3 = tracker._reposition(s2)
    np.testing.assert_array_equal(s3.pos, s2.pos)
    larger = [s for s in s2.scales if s >= s2.scales[-1]]
    assert s3.not_found_count == 1 and s3.target_scale == pytest.approx(np.mean(larger[-2:]))


def test_empty_mask_reports_the_classifier_box_at_the_peak():
    runner = FakeRTS(logit_box=(0.0, 0.0), peak_cell=(1, 6))
    tracker, runner, state, f = start(runner)
    s2, res = tracker.track(f, state)
    assert res.extra["lost_seg"] and res.mask.sum() == 0
    geo = s2.prev_crop
    disp = (np.array([1, 6]) - np.array([2.0, 3.5])) * 32.0 * geo.sample_scale  # 128/4 px cells
    size = s2.clf.base_sz * np.clip(geo.sample_scale, s2.clf.min_scale, s2.clf.max_scale)
    pos = np.clip(geo.sample_pos + disp, -0.3 * size, np.array(f.shape[:2]) + 0.3 * size)
    np.testing.assert_allclose(res.xywh, [pos[1] - (size[1] - 1) / 2, pos[0] - (size[0] - 1) / 2,
                                          size[1], size[0]])
    moved = tracker._reposition(s2)  # seg lost, clf found: the classifier's target
    np.testing.assert_allclose(moved.pos, s2.clf_pos)


def test_unsafe_frames_after_the_forced_period_skip_the_seg_update():
    config = replace(CONFIG, always_update_before=0)
    tracker, runner, state, f = start(FakeRTS(peak=0.2), config=config)
    for _ in range(3):
        state, res = tracker.track(f, state)
        assert res.extra["seg_update"] == "no"


@pytest.mark.parametrize("name", [spec.MASK_LOGITS, spec.CLF_SCORES])
def test_nonfinite_output_is_an_invalid_frame_and_keeps_the_state(name):
    tracker, runner, state, f = start()
    s2, _ = tracker.track(f, state)
    runner.nan = name
    s3, res = tracker.track(f, s2)
    assert s3 is s2 and res.invalid == f"nonfinite {name}" and res.lost and res.score == 0.0
    np.testing.assert_allclose(res.xywh, s2.box)


def test_state_is_not_mutated_and_replay_is_identical():
    tracker, runner, state, f = start()
    s2, _ = tracker.track(f, state)
    weights = s2.seg_memory.weights.copy()
    s3, r3 = tracker.track(f, s2)
    again, r3b = tracker.track(f, s2)
    np.testing.assert_array_equal(s2.seg_memory.weights, weights)
    np.testing.assert_array_equal(r3.mask, r3b.mask)
    np.testing.assert_array_equal(again.seg_filter, s3.seg_filter)


def test_stage_timer_sees_every_stage():
    from contextlib import nullcontext

    stages = []

    def timer(stage):
        stages.append(stage)
        return nullcontext()

    runner = FakeRTS()
    tracker = RTSTracker(runner, CONFIG, timer=timer, sizes=SMALL)
    f = frame()
    state = tracker.init(f, (140, 100, 40, 30), mask=target_mask())
    tracker.track(f, state)
    assert {"crop", "init", "update", "features", "head", "post", "classifier"} <= set(stages)


def test_sizes_come_from_the_contract_then_the_runner_options():
    class Contract:
        options = {"sizes": "128x224/4/8"}
        model = {}

    class Legacy:  # exported before the `sizes` option: model.sizes
        options = {}
        model = {"sizes": SMALL.to_dict()}

    class With:
        def __init__(self, contract=None, options=None):
            self.contract, self.options = contract, options

    assert graph_sizes(With(Contract())) == SMALL and graph_sizes(With(Legacy())) == SMALL
    assert graph_sizes(With(options={"sizes": "128x224/4/8"})) == SMALL  # TorchRunner
    assert graph_sizes(With(options={"sizes": "480x832/32/50"})) == spec.FULL_SIZES
    assert graph_sizes(object()) == spec.FULL_SIZES


def test_tensorrt_runner_exposes_the_sizes_its_engines_record(monkeypatch, tmp_path):
    """Engines' metadata records the export options (engines.metadata.contract_entry); the
    TensorRT runner exposes them as its `contract`, as ONNX Runtime exposes deploy.json."""
    from tests.helpers.tensorrt_fakes import FakeCudart, toy_engines

    import masktrt.runtime.backends.tensorrt as trt_backend

    def engines():
        loaded = toy_engines()
        for engine in loaded.values():
            engine.meta.update(tracker="rts", options={"sizes": SMALL.option()}, preset=None)
        return loaded

    monkeypatch.setenv("MASKTRT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(trt_backend, "_cudart", lambda: FakeCudart())
    monkeypatch.setattr(trt_backend, "load_folder", lambda folder: engines())
    runner = trt_backend.TensorRTRunner("engines")
    try:
        assert runner.contract.tracker == "rts" and runner.contract.graph_names == ("template", "search")
        assert graph_sizes(runner) == SMALL
        assert RTSTracker(runner, CONFIG).sizes == SMALL
    finally:
        runner.close()


# ---------------------------------------------------------------- end to end (torch and ORT)
DATA = Path("/work/shared/data")


@pytest.fixture(scope="module")
def small_export(rts_small_export):
    """(seeded random model with STA, its ONNX export at 128x224/4/8): the session's one export."""
    if not HAS_TORCH or importlib.util.find_spec("onnxruntime") is None:
        pytest.skip("torch and onnxruntime are needed")
    model, folder, _ = rts_small_export
    return model, folder


def track_frames(tracker, seq, frames: int, box_only: bool = False):
    mask = None if box_only else seq.init_mask()
    state = tracker.init(seq.frame(0), tuple(seq.init_box()), mask=mask)
    results = []
    for index in range(1, frames):
        state, res = tracker.track(seq.frame(index), state)
        results.append(res)
    return state, results


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def trackers(small_export):
    """The torch reference runner and ONNX Runtime on the same small export, as trackers."""
    from masktrt.export.torch_backend import TorchRunner
    from masktrt.runtime.backends.onnxruntime import OnnxRuntimeRunner
    from masktrt.runtime.trackers import make_tracker

    model, folder = small_export
    torch_tracker = RTSTracker(TorchRunner(model, tracker="rts", options={"sizes": SMALL.option()}),
                               CONFIG)
    assert torch_tracker.sizes == SMALL  # from the runner's options
    ort = OnnxRuntimeRunner(folder, provider="cpu", threads=2)
    ort_tracker = make_tracker("rts", ort)
    assert ort_tracker.sizes == SMALL  # from deploy.json's options
    return torch_tracker, ort_tracker, ort


def assert_agree(ref, got) -> None:
    for a, b in zip(ref, got):
        assert a.invalid is None and b.invalid is None
        assert a.extra["clf_flag"] == b.extra["clf_flag"]
        np.testing.assert_allclose(a.xywh, b.xywh, atol=2.0)
        assert mask_iou(a.mask, b.mask) > 0.97
        assert np.abs(a.prob - b.prob).max() < 0.05


@pytest.mark.data
@pytest.mark.parametrize("box_only", (False, True), ids=("mask-init", "box-init-sta"))
def test_end_to_end_torch_and_onnxruntime_agree_at_the_small_sizes(small_export, box_only):
    """4 DAVIS frames through the seeded random RTS (+ STA) at 128x224 / 4 / 8 slots: the torch
    reference runner and ONNX Runtime on the same small export track together, from the
    first-frame mask and from the box alone (STA predicts the mask)."""
    if not (DATA / "davis-dog").is_dir():
        pytest.skip(f"{DATA / 'davis-dog'} is absent (shared test data)")
    from masktrt.runtime.sequences import load_sequence

    seq = load_sequence(DATA / "davis-dog")
    torch_tracker, ort_tracker, ort = trackers(small_export)
    try:
        _, ref = track_frames(torch_tracker, seq, 4, box_only)
        _, got = track_frames(ort_tracker, seq, 4, box_only)
        if box_only:  # STA's masks in both runners: the same first-frame mask from the box
            first = [tracker.init(seq.frame(0), tuple(seq.init_box())).prev_raw > 0
                     for tracker in (torch_tracker, ort_tracker)]
            assert first[0].any() and mask_iou(*first) > 0.97
    finally:
        ort.close()
    assert_agree(ref, got)


def test_crop_corners_are_integers_a_stated_deviation_from_pytracking_on_new_pytorch():
    """README "Deviations": the crop's corners use floor division, tl = p - (s-1)//2 and
    br = p + s//2 + 1, as the RTS release computed them on the PyTorch its install pins (integer
    tensors divided with `/` floored). pytracking's `sample_patch` on PyTorch >= 1.6 divides
    truly, giving half-pixel corners (here tl 140.5, one column narrower after padding). An even
    crop of s pixels is exactly s pixels wide and centred on the truncated position."""
    g = geo_mod.sample_geometry((400, 600), (200.7, 300.2), (120.0, 208.0), (120, 208))
    assert (g.br[0] - g.tl[0], g.br[1] - g.tl[1]) == (120, 208)
    assert g.tl == (200 - 59, 300 - 103) and all(isinstance(v, int) for v in g.tl + g.br)
    true_division_tl = 200 - (120 - 1) / 2  # pytracking on PyTorch >= 1.6
    assert true_division_tl == 140.5 != g.tl[0]
