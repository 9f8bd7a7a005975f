"""OceanPlusTracker (spec arn-rts.md §A2-§A4, §A8) over crafted NumPy runners: instance size,
crop geometry, selection, double size smoothing, clamping, the host template update and its
sampler, mask paste-back and the VOT small-mask rule, invalid outputs, bad input, cyclic
initialisation and replay. No torch, except an optional grid_sample cross-check and one
end-to-end test through the torch reference runner when the export side exists."""
from __future__ import annotations

import importlib.util
import math
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from masktrt.errors import MasktrtError
from masktrt.runtime.backends.base import RunnerBase
from masktrt.runtime.crop import crop_subwindow
from masktrt.runtime.mask import box_polygon
from masktrt.trackers.oceanplus import tracker as op
from masktrt.trackers.oceanplus.tracker import OceanPlusTracker
from masktrt.trackers.oceanplus import spec

VOT = spec.PRESETS["vot2020"]
DAVIS = spec.PRESETS["davis2016"]
CENTRE = (12, 12)  # the centre cell of the 25x25 map
HALF = 31.75  # l = t = r = b giving a 63.5 px box: the 64 px target at scale 127/128
BOX64 = (268.0, 168.0, 64.0, 64.0)  # centre (300, 200), context side 128, search side 257


def sig(v: float) -> float:
    return 1 / (1 + math.exp(-v))


def hann(n: int, size: int = 25) -> float:
    return 0.5 - 0.5 * math.cos(2 * math.pi * n / (size - 1))


def frame(h: int = 400, w: int = 600, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8)


class FakeOcean(RunnerBase):
    """The GraphRunner contract with crafted outputs; records every call's graph and feeds.

    template: fixed random kernels and key; lut_value = the z_mask's mean everywhere (so the
    mask a template run saw is visible in the state). track: the crafted maps (defaults: every
    box HALF on each side, one confident centre cell, an empty mask, random xf)."""

    name = "fake-oceanplus"

    def __init__(self, cells: dict | None = None, boxes: dict | None = None, base: float = -6.0,
                 mask_prob: np.ndarray | float = 0.0, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.zf = rng.standard_normal((1, spec.NECK, 7, 7)).astype(np.float32)
        self.key = rng.standard_normal((1, spec.EMBED, 15, 15)).astype(np.float32)
        self.cells = {CENTRE: 6.0} if cells is None else cells
        self.boxes, self.base, self.mask_prob = boxes or {}, base, mask_prob
        self.xf = {s: rng.standard_normal(spec.tensor_shapes(spec.track_graph(s))["xf"])
                   .astype(np.float32) for s in spec.INSTANCE_SIZES}
        self.calls: list[tuple[str, dict]] = []

    def graphs(self, name: str) -> list[dict]:
        return [feeds for graph, feeds in self.calls if graph == name]

    def run(self, graph: str, feeds: dict, keep_on_device=()) -> dict:
        self.calls.append((graph, dict(feeds)))
        if graph == spec.TEMPLATE:
            assert feeds["z"].shape == (1, 3, 127, 127)
            assert feeds["z_mask"].shape == (1, 1, 127, 127)
            lut = np.full((1, 1, 15, 15), feeds["z_mask"].mean(), np.float32)
            return {"zf_reg": self.zf, "zf_cls": self.zf, "lut_key": self.key, "lut_value": lut}
        size = spec.INSTANCE_SIZES[spec.TRACK_GRAPHS.index(graph)]
        assert feeds["x"].shape == (1, 3, size, size)
        return self.track_maps(size)

    def track_maps(self, size: int) -> dict:
        r = spec.score_size(size)
        cls = np.full((1, 1, r, r), self.base, np.float32)
        bbox = np.full((1, 4, r, r), HALF, np.float32)
        for (row, col), logit in self.cells.items():
            cls[0, 0, row, col] = logit
        for (row, col), ltrb in self.boxes.items():
            bbox[0, :, row, col] = ltrb
        prob = np.broadcast_to(np.asarray(self.mask_prob, np.float32), (size, size))
        return {"cls": cls, "bbox": bbox, "mask_prob": prob.reshape(1, 1, size, size).copy(),
                "xf": self.xf[size].copy()}


def start(runner: FakeOcean, config=VOT, box=BOX64, f=None, mask=None):
    f = frame() if f is None else f
    tracker = OceanPlusTracker(runner, config)
    if mask is None:
        mask = np.zeros(f.shape[:2], np.uint8)
        x, y, w, h = (int(v) for v in box)
        mask[max(y, 0):y + h, max(x, 0):x + w] = 1
    return tracker, tracker.init(f, box, mask=mask), f


# ---------------------------------------------------------------- init
@pytest.mark.parametrize("side, graph", [(30, "track_287"), (31, "track_255")])
def test_instance_size_by_area_ratio(side, graph):
    # 600x400 = 240000 px; 0.004 of it = 960: a 30x30 box (900) is small, 31x31 (961) is not
    runner = FakeOcean()
    tracker, state, f = start(runner, box=(100.0, 100.0, float(side), float(side)))
    assert state.graph == graph and state.instance == int(graph[-3:])
    tracker.track(f, state)
    assert runner.calls[-1][0] == graph and runner.calls[-1][1]["x"].shape[-1] == state.instance


def test_mask_init_crops_image_and_mask_with_half_to_even_side():
    f = frame()
    mask = np.zeros((400, 600), np.uint8)
    mask[50:56, 100:110] = 7  # nonzero = target
    runner = FakeOcean()
    state = OceanPlusTracker(runner, VOT).init(f, (100.0, 50.0, 10.25, 10.25), mask=mask)
    assert [g for g, _ in runner.calls] == ["template"]  # a given mask: one template run, no cycles
    np.testing.assert_array_equal(state.center, [105.125, 55.125])
    np.testing.assert_array_equal(state.avg_chans, f.reshape(-1, 3).mean(axis=0))
    feeds = runner.calls[0][1]
    # context side 2 * 10.25 = 20.5 -> 20 (half to even)
    z = crop_subwindow(f, state.center, 127, 20, state.avg_chans)
    np.testing.assert_array_equal(feeds["z"], z)
    # the 20 px window starts at round(105.125 - 10.5) = 95 (x), round(55.125 - 10.5) = 45 (y)
    patch = np.zeros((20, 20), np.uint8)
    patch[5:11, 5:15] = 1
    expected = (cv2.resize(patch, (127, 127)) > 0.5).astype(np.float32)
    np.testing.assert_array_equal(feeds["z_mask"][0, 0], expected)
    assert set(np.unique(feeds["z_mask"])) == {0.0, 1.0}
    np.testing.assert_array_equal(state.ma, runner.zf.astype(np.float64))
    assert state.zf_cls is runner.zf and state.updates == 0 and state.score == 1.0


def test_mask_without_box_uses_its_bounding_box():
    mask = np.zeros((400, 600), np.uint8)
    mask[40:60, 200:230] = 1
    state = OceanPlusTracker(FakeOcean(), VOT).init(frame(), None, mask=mask)
    np.testing.assert_array_equal(state.center, [215.0, 50.0])
    np.testing.assert_array_equal(state.size, [30.0, 20.0])


def test_python2round_rounds_halves_away_from_zero():
    assert [op.python2round(v) for v in (2.5, 3.5, 2.4999, -2.5, 256.5)] == [3, 4, 2, -3, 257]
    assert round(2.5) == 2  # unlike the template side (Python 3 round)


def test_search_crop_geometry():
    runner = FakeOcean()
    tracker, state, f = start(runner)
    _, res = tracker.track(f, state)
    side = op.python2round(128 * 255 / 127)  # s_z = 128 unrounded: s_x = 257.008
    assert side == 257 and res.extra["crop_box"] == (171.0, 71.0, 257.0, 257.0)
    np.testing.assert_array_equal(runner.calls[-1][1]["x"],
                                  crop_subwindow(f, state.center, 255, side, state.avg_chans))
    geo = op.search_geometry(np.array([0.0, 0.0]), np.array([30.0, 50.0]), 287)
    s_z = math.sqrt(70 * 90)
    assert geo.scale_z == 127 / s_z and geo.side == op.python2round(s_z + 160 * s_z / 127)


# ---------------------------------------------------------------- selection and motion
A, B = (12, 14), (3, 3)  # a likely candidate near the centre and a confident far one


def test_window_picks_the_near_candidate_and_scores_match_hand_computation():
    tracker, state, f = start(FakeOcean(cells={A: 1.5, B: 8.0}))
    new, res = tracker.track(f, state)
    wi = VOT.window_influence
    pscore_a = sig(1.5) * (1 - wi) + hann(12) * hann(14) * wi  # penalty 1: every box is 63.5
    assert res.best == (0, 12, 14)
    assert math.isclose(res.score, sig(1.5), rel_tol=1e-6)
    assert math.isclose(res.extra["pscore"], pscore_a, rel_tol=1e-6)
    assert res.extra["penalty"] == 1.0 and res.lost is (sig(1.5) < VOT.lost_score)
    # cell (12, 14) lies 16 crop px right of the centre: 16 / (127/128) image px
    np.testing.assert_allclose(new.center, [300 + 16 * 128 / 127, 200.0], rtol=1e-12)
    np.testing.assert_allclose(new.size, [64.0, 64.0], rtol=1e-12)


def test_without_window_the_confident_far_candidate_wins():
    runner = FakeOcean(cells={A: 1.5, B: 8.0})
    tracker = OceanPlusTracker(runner, replace(VOT, window_influence=0.0))
    f = frame()
    _, res = tracker.track(f, tracker.init(f, BOX64, mask=np.ones((400, 600), np.uint8)))
    assert res.best == (0, 3, 3)


def padded(w: float, h: float) -> float:
    return math.sqrt((w + (w + h) / 2) * (h + (w + h) / 2))


def test_scale_penalty_and_double_size_smoothing():
    # the chosen cell predicts an 80 x 63.5 px box (crop px) shifted 6 px down
    runner = FakeOcean(cells={CENTRE: 2.0}, boxes={CENTRE: (40.0, HALF - 6, 40.0, HALF + 6)})
    tracker, state, f = start(runner, config=DAVIS)
    new, res = tracker.track(f, state)
    scale = 127 / 128
    s_c = padded(80, 63.5) / padded(63.5, 63.5)
    r_c = 80 / 63.5
    penalty = math.exp(-(r_c * s_c - 1) * DAVIS.penalty_k)
    assert res.best == (0, 12, 12) and math.isclose(res.extra["penalty"], penalty, rel_tol=1e-12)
    rate = penalty * sig(2.0) * DAVIS.lr
    once = np.array([80, 63.5]) / scale * rate + (1 - rate) * 64.0
    twice = 64.0 * (1 - rate) + rate * once
    np.testing.assert_allclose(new.size, twice, rtol=1e-6)
    assert not np.allclose(new.size, once, rtol=1e-3)  # the double smoothing is reproduced
    np.testing.assert_allclose(new.center, [300.0, 200 + 6 / scale], rtol=1e-9)


def test_clamping_centre_and_size():
    c, s = op.clamp_target(np.array([-5.0, 500.0]), np.array([3.0, 900.0]), (400, 600))
    assert c.tolist() == [0.0, 400.0] and s.tolist() == [10.0, 400.0]
    c, s = op.clamp_target(np.array([700.0, 10.0]), np.array([700.0, 5.0]), (400, 600))
    assert c.tolist() == [600.0, 10.0] and s.tolist() == [600.0, 10.0]
    # a box at the left edge predicted to move further left ends at x = 0
    runner = FakeOcean(cells={CENTRE: 4.0}, boxes={CENTRE: (HALF + 40, HALF, HALF - 40, HALF)})
    tracker, state, f = start(runner, box=(0.0, 150.0, 40.0, 40.0))
    new, res = tracker.track(f, state)
    assert new.center[0] == 0.0 and res.center[0] == 0.0


def test_low_score_is_lost():
    tracker, state, f = start(FakeOcean(cells={}, base=-3.0))
    _, res = tracker.track(f, state)
    assert res.lost is True and res.score < VOT.lost_score


# ---------------------------------------------------------------- template update
def reference_sample(xf: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Bilinear, align_corners=False, zero padding, by explicit loops (C, len(ys), len(xs))."""
    c, h, w = xf.shape
    out = np.zeros((c, len(ys), len(xs)))
    for i, gy in enumerate(ys):
        for j, gx in enumerate(xs):
            px, py = ((gx + 1) * w - 1) / 2, ((gy + 1) * h - 1) / 2
            x0, y0 = math.floor(px), math.floor(py)
            for yy in (y0, y0 + 1):
                for xx in (x0, x0 + 1):
                    if 0 <= xx < w and 0 <= yy < h:
                        weight = (1 - abs(px - xx)) * (1 - abs(py - yy))
                        out[:, i, j] += weight * xf[:, yy, xx].astype(np.float64)
    return out


def expected_grid(offset: tuple[float, float], extent: float, side: int):
    points = np.linspace(-extent / 2, extent / 2, 17)[5:12]
    return (offset[0] + points) / (side // 2), (offset[1] + points) / (side // 2)


@pytest.mark.parametrize("offset", [(0.3, -1.2), (14.0, 15.5), (-16.0, 2.0)])  # inside / edges
def test_grid_sample_matches_explicit_loops(offset):
    xf = np.random.default_rng(1).standard_normal((5, 31, 31)).astype(np.float32)
    grid = op.update_grid(np.array(offset), np.array([12.7, 9.0]), 31)
    xs, _ = expected_grid(offset, 12.7, 31)
    _, ys = expected_grid(offset, 9.0, 31)
    np.testing.assert_allclose(grid[0, :, 0], xs, rtol=1e-15)
    np.testing.assert_allclose(grid[:, 0, 1], ys, rtol=1e-15)
    np.testing.assert_allclose(op.grid_sample(xf, grid), reference_sample(xf, xs, ys), atol=1e-12)


def test_grid_sample_matches_torch_when_available():
    if importlib.util.find_spec("torch") is None:
        pytest.skip("torch is not installed: the loop reference above is the check")
    import torch
    import torch.nn.functional as F

    xf = np.random.default_rng(2).standard_normal((1, 8, 35, 35)).astype(np.float32)
    grid = op.update_grid(np.array([3.3, -17.1]), np.array([20.0, 11.0]), 35)
    ours = op.grid_sample(xf[0], grid)
    theirs = F.grid_sample(torch.from_numpy(xf).double(), torch.from_numpy(grid)[None],
                           mode="bilinear", padding_mode="zeros", align_corners=False)
    np.testing.assert_allclose(ours, theirs[0].numpy(), atol=1e-12)


def update_runner(logit: float) -> FakeOcean:
    # centre cell's box shifted by (+4, -8) crop px, same size as the target
    shifted = (HALF - 4, HALF + 8, HALF + 4, HALF - 8)
    return FakeOcean(cells={CENTRE: logit}, boxes={CENTRE: shifted})


def test_update_samples_the_grid_around_the_new_position():
    runner = update_runner(6.0)
    tracker, state, f = start(runner)
    new, res = tracker.track(f, state)
    wi = VOT.window_influence
    s = res.extra["pscore"]  # the rate uses the fused score: penalty 1, window 1 at the centre
    assert res.extra["updated"] is True and new.updates == 1
    assert math.isclose(s, sig(6.0) * (1 - wi) + wi, rel_tol=1e-6)  # float32 sigmoid
    extent = (63.5 + 0.3 * 127) / 8  # previous size in crop px plus context, in cells
    xs, _ = expected_grid((4 / 8, -8 / 8), extent, 31)
    _, ys = expected_grid((4 / 8, -8 / 8), extent, 31)
    sample = reference_sample(runner.xf[255][0], xs, ys)[None]
    ma = (1 - 0.1 * s) * runner.zf.astype(np.float64) + 0.1 * s * sample
    np.testing.assert_allclose(new.ma, ma, atol=1e-12)
    assert new.zf_cls.dtype == np.float32
    zf_cls = (0.2 * runner.zf + 0.8 * ma).astype(np.float32)
    np.testing.assert_allclose(new.zf_cls, zf_cls, atol=1e-6)
    tracker.track(f, new)  # the next frame feeds the updated kernel, zf_reg unchanged
    feeds = runner.calls[-1][1]
    assert feeds["zf_cls"] is new.zf_cls and feeds["zf_reg"] is runner.zf


@pytest.mark.parametrize("score, updates", [(0.9, False), (0.91, True)])
def test_update_only_above_the_threshold(score, updates):
    # fused peak = score * 0.516 + 0.484: 0.9484 for 0.9 (no update), 0.9536 for 0.91
    tracker, state, f = start(update_runner(math.log(score / (1 - score))))
    new, res = tracker.track(f, state)
    assert (res.extra["pscore"] > spec.UPDATE_SCORE) is updates and res.extra["updated"] is updates
    assert (new.zf_cls is state.zf_cls) is (not updates) and new.updates == int(updates)


# ---------------------------------------------------------------- masks
def test_mask_is_pasted_back_from_the_crop_box():
    prob = np.zeros((255, 255), np.float32)
    prob[100:155, 80:200] = 1.0
    tracker, state, f = start(FakeOcean(mask_prob=prob))
    _, res = tracker.track(f, state)
    x0, y0, side, _ = res.extra["crop_box"]  # (171, 71, 257, 257)
    k = side / 255
    ys, xs = np.nonzero(res.mask)
    assert res.mask.dtype == np.uint8 and res.mask.shape == (400, 600)
    # crop columns 80..199 and rows 100..154 cover image pixels x0 + [80, 200) k, y0 + [100, 155) k
    assert abs(xs.min() - (x0 + 80 * k)) <= 1 and abs(xs.max() + 1 - (x0 + 200 * k)) <= 1
    assert abs(ys.min() - (y0 + 100 * k)) <= 1 and abs(ys.max() + 1 - (y0 + 155 * k)) <= 1
    assert res.prob.dtype == np.float32 and res.prob[0, 0] == 0.0
    assert res.extra["polygon_from_mask"] and not res.extra["mask_from_box"]
    assert abs(res.polygon[:, 0].min() - xs.min()) < 1
    assert abs(res.polygon[:, 1].max() - ys.max()) < 1


def test_paste_clips_to_the_frame():
    prob = np.ones((1, 1, 255, 255), np.float32)
    pasted = op.paste_prob(prob, np.array([10.0, 390.0]), 101, (400, 600))
    assert pasted.shape == (400, 600)
    ys, xs = np.nonzero(pasted > 0.5)
    # the 101 px window starts at round(10 - 51) = -41 and round(390 - 51) = 339
    assert xs.min() == 0 and xs.max() == -41 + 100 and ys.min() == 339 and ys.max() == 399


def test_mask_crop_pads_with_zeros_outside_the_frame():
    mask = np.ones((400, 600), np.uint8)
    crop = op.crop_mask(mask, np.array([10.0, 20.0]), 60, model_size=60)  # window from (-20, -10)
    assert crop[:10].sum() == 0 and crop[:, :20].sum() == 0 and crop[10:, 20:].min() == 1


def test_vot_small_mask_reports_the_filled_box():
    tracker, state, f = start(FakeOcean(mask_prob=0.0))
    new, res = tracker.track(f, state)
    assert res.extra["mask_from_box"] and not res.extra["polygon_from_mask"]
    box = (new.center[0], new.center[1], new.size[0], new.size[1])
    np.testing.assert_array_equal(res.mask, op.box_mask(box, (400, 600)))
    assert res.mask.sum() == 64 * 64
    np.testing.assert_array_equal(res.polygon, box_polygon(box))


def test_davis_keeps_an_empty_mask():
    tracker, state, f = start(FakeOcean(mask_prob=0.0), config=DAVIS)
    _, res = tracker.track(f, state)
    assert res.mask.sum() == 0 and not res.extra["mask_from_box"]
    np.testing.assert_array_equal(res.polygon, box_polygon((*res.center, *res.size)))


# ---------------------------------------------------------------- invalid frames and input
@pytest.mark.parametrize("name", ["cls", "bbox", "mask_prob", "xf"])
def test_nonfinite_output_is_an_invalid_frame_and_keeps_the_state(name):
    runner = FakeOcean()
    tracker, state, f = start(runner)
    maps = runner.track_maps(255)
    maps[name].flat[7] = np.nan
    runner.track_maps = lambda size: maps
    new, res = tracker.track(f, state)
    assert new is state and res.invalid == f"nonfinite {name}" and res.lost and res.score == 0.0
    np.testing.assert_array_equal(res.center, state.center)


@pytest.mark.parametrize("box", [(10, 10, 0, 20), (10, 10, 20, -1), (600, 10, 20, 20),
                                 (-30, 10, 20, 20), (float("nan"), 1, 2, 3)])
def test_bad_boxes_are_one_line_errors(box):
    with pytest.raises(MasktrtError) as err:
        OceanPlusTracker(FakeOcean(), VOT).init(frame(), box)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("bad", [np.zeros((40, 60), np.uint8), np.zeros((40, 60, 3), np.float32),
                                 [[1, 2, 3]]])
def test_bad_frames_are_one_line_errors(bad):
    tracker = OceanPlusTracker(FakeOcean(), VOT)
    with pytest.raises(MasktrtError, match="HxWx3 uint8"):
        tracker.init(bad, (1, 1, 5, 5))
    state = tracker.init(frame(40, 60), (1, 1, 5, 5), mask=np.ones((40, 60), np.uint8))
    with pytest.raises(MasktrtError, match="HxWx3 uint8"):
        tracker.track(bad, state)
    with pytest.raises(MasktrtError, match="frame size changed"):
        tracker.track(frame(41, 60), state)


@pytest.mark.parametrize("mask, match", [(np.ones((400, 601), np.uint8), "frame's size"),
                                         (np.zeros((400, 600), np.uint8), "no target pixels"),
                                         ("mask.png", "HxW array")])
def test_bad_masks_are_one_line_errors(mask, match):
    with pytest.raises(MasktrtError, match=match):
        OceanPlusTracker(FakeOcean(), VOT).init(frame(), BOX64, mask=mask)


def test_neither_box_nor_mask_is_an_error():
    with pytest.raises(MasktrtError, match="neither a box nor a mask"):
        OceanPlusTracker(FakeOcean(), VOT).init(frame(), None)


# ---------------------------------------------------------------- cyclic initialisation
def test_box_only_init_is_cyclic():
    runner = FakeOcean(mask_prob=1.0)
    f = frame()
    state = OceanPlusTracker(runner, VOT).init(f, BOX64)
    order = [g for g, _ in runner.calls]
    assert order == ["template"] + ["track_255", "template"] * spec.CYCLIC_INIT_STEPS
    templates, tracks = runner.graphs("template"), runner.graphs("track_255")
    # step 0: the box-filled mask (64 px of the 128 px exemplar window: the middle half)
    first = templates[0]["z_mask"][0, 0]
    assert first[63, 63] == 1 and first[0, 0] == 0 and abs(first.mean() - 0.25) < 0.02
    # every later step: the pasted mask_prob (1 everywhere in the crop) above seg_thr
    for feeds in templates[1:]:
        assert feeds["z"] is templates[0]["z"] and feeds["z_mask"].min() == 1.0
    # each track run sees the LUT value of the template run before it, the same kernels and key
    for feeds, before in zip(tracks, templates):
        assert feeds["lut_value"].mean() == before["z_mask"].mean()
        assert feeds["zf_reg"] is runner.zf and feeds["zf_cls"] is runner.zf
        assert feeds["lut_key"] is runner.key
        np.testing.assert_array_equal(feeds["x"], crop_subwindow(f, state.center, 255, 257,
                                                                 state.avg_chans))
    assert state.lut_value.mean() == 1.0 and state.lut_key is runner.key
    np.testing.assert_array_equal(state.center, [300.0, 200.0])
    np.testing.assert_array_equal(state.size, [64.0, 64.0])


def test_cyclic_init_thresholds_at_seg_thr():
    # a uniform probability just under seg_thr empties the mask, just over fills it
    for prob, filled in ((VOT.seg_thr - 0.01, 0.0), (VOT.seg_thr + 0.01, 1.0)):
        runner = FakeOcean(mask_prob=prob)
        state = OceanPlusTracker(runner, VOT).init(frame(), BOX64)
        assert state.lut_value.mean() == filled


# ---------------------------------------------------------------- purity, replay, parity helpers
def test_state_is_not_mutated_and_replay_is_identical():
    runner = update_runner(6.0)
    tracker, state, f = start(runner)
    before = {k: np.array(getattr(state, k), copy=True) for k in ("center", "size", "ma", "zf_cls")}
    a_state, a = tracker.track(f, state)
    b_state, b = tracker.track(f, state)
    for k, v in before.items():
        np.testing.assert_array_equal(getattr(state, k), v)
    assert a.extra["updated"] and state.updates == 0
    np.testing.assert_array_equal(a_state.center, b_state.center)
    np.testing.assert_array_equal(a_state.ma, b_state.ma)
    np.testing.assert_array_equal(a.prob, b.prob)


def test_stage_timer_sees_every_stage():
    from contextlib import nullcontext

    stages: list[str] = []

    def timer(stage: str) -> nullcontext:
        stages.append(stage)
        return nullcontext()

    tracker = OceanPlusTracker(update_runner(6.0), VOT, timer=timer)
    state = tracker.init(frame(), BOX64)
    assert stages == ["crop", "template", "crop"] + ["search", "template"] * 3
    stages.clear()
    tracker.track(frame(), state)
    assert stages == ["crop", "search", "select", "update", "post"]


def test_initial_result_is_the_given_box():
    _, state, _ = start(FakeOcean(), box=(10.0, 20.0, 30.0, 40.0))
    res = OceanPlusTracker(FakeOcean(), VOT).initial_result(state)
    np.testing.assert_array_equal(res.xywh, [10, 20, 30, 40])
    assert res.score == 1.0 and not res.lost


def test_frame_state_takes_reference_geometry_and_own_template():
    tracker, ref, f = start(update_runner(6.0))
    own = tracker.init(f, BOX64, mask=np.ones((400, 600), np.uint8))
    own = replace(own, zf_reg=own.zf_reg * 2, zf_cls=own.zf_cls * 2, lut_key=own.lut_key + 1)
    moved, _ = tracker.track(f, ref)  # an update frame
    shared = tracker.frame_state(moved, own)
    np.testing.assert_array_equal(shared.center, moved.center)
    assert shared.graph == moved.graph and shared.lut_key is own.lut_key
    assert shared.zf_reg is own.zf_reg and shared.ma is moved.ma
    np.testing.assert_allclose(shared.zf_cls, 0.2 * own.zf_reg + 0.8 * moved.ma, atol=1e-6)
    before_update = tracker.frame_state(ref, own)
    assert before_update.zf_cls is own.zf_cls and before_update.ma is own.ma


# ---------------------------------------------------------------- end to end (torch reference)
DATA = Path("/work/shared/data")


@pytest.fixture
def oceanplus_registered():
    from masktrt import registry
    from masktrt.registry import TrackerEntry

    previous = registry.get("oceanplus") if "oceanplus" in registry.names() else None
    registry.register(TrackerEntry(
        "oceanplus", spec="masktrt.trackers.oceanplus.spec:SPEC",
        runtime="masktrt.trackers.oceanplus.tracker:OceanPlusTracker",
        export="masktrt.trackers.oceanplus.export.export_side:EXPORT"), replace=True)
    yield
    if previous is None:
        registry.unregister("oceanplus")
    else:
        registry.register(previous, replace=True)


@pytest.mark.data
def test_end_to_end_small_width_through_the_torch_runner(oceanplus_registered, monkeypatch):
    """A few DAVIS frames through the real network (random weights, width 1/8) and the torch
    reference runner: mask init, per-frame tracking with the template update forced on every
    frame (real xf shapes), replay, and the box-only cyclic init."""
    if importlib.util.find_spec("torch") is None:
        pytest.skip("torch is not installed")
    if not (DATA / "davis-blackswan").is_dir():
        pytest.skip(f"{DATA / 'davis-blackswan'} is absent (shared test data)")
    from masktrt.trackers.oceanplus.export.random_weights import random_model
    from masktrt.export.torch_backend import TorchRunner
    from masktrt.runtime.sequences import load_sequence

    seq = load_sequence(DATA / "davis-blackswan")
    model = random_model(seed=0, width=0.125, n_pairs=8, cache=False)
    tracker = OceanPlusTracker(TorchRunner(model, tracker="oceanplus"), spec.PRESETS["davis2016"])
    state = tracker.init(seq.frame(0), tuple(seq.init_box()), mask=seq.init_mask())
    assert state.graph == "track_255"  # the swan covers far more than 0.4 % of the frame
    monkeypatch.setattr(op, "UPDATE_SCORE", -1.0)  # every frame updates the template
    for index in range(1, 4):
        previous = state
        state, res = tracker.track(seq.frame(index), state)
        assert res.invalid is None and np.isfinite(res.xywh).all() and res.extra["updated"]
        assert res.mask.shape == seq.frame(index).shape[:2] and res.prob.dtype == np.float32
        assert state.updates == index and state.zf_cls.dtype == np.float32
        again, _ = tracker.track(seq.frame(index), previous)
        np.testing.assert_array_equal(again.center, state.center)
    cyclic = tracker.init(seq.frame(0), tuple(seq.init_box()))
    assert np.asarray(cyclic.lut_value).shape == np.asarray(state.lut_value).shape
