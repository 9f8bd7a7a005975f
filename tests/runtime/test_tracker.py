"""SiamMaskTracker logic (spec §3.6-3.8) with NumPy fake backends: hand-computed selection and update,
mask paste-back, polygon fallback, clipping, validation and a closed loop on synthetic frames."""
import math
from dataclasses import replace

import numpy as np
import pytest
from tests.helpers.fake_numpy_runners import FixedRunner, OracleRunner, crafted_maps, synthetic_sequence

from masktrt.errors import MasktrtError
from masktrt.trackers.siammask.spec import preset
from masktrt.runtime.crop import crop_subwindow
from masktrt.runtime.mask import box_polygon
from masktrt.trackers.siammask.tracker import (SiamMaskTracker, clip_target, decode_boxes, foreground_scores,
                                     initial_result)

DAVIS = preset("davis")
A, B = (2, 12, 14), (0, 3, 3)  # a likely candidate near the centre and a confident far one


def frame(h=400, w=600, seed=0):
    return np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8)


def hann(n):
    return 0.5 - 0.5 * math.cos(2 * math.pi * n / 24)


def sig(v):
    return 1 / (1 + math.exp(-v))


def crafted_backend(mask_logit=10.0):
    cls, loc = crafted_maps({A: 1.5, B: 8.0}, {A: (0.25, 0.0, 0.0, 0.0)})
    return FixedRunner(cls, loc, np.full((127, 127), mask_logit, np.float32))


def test_scores_use_class_major_channel_layout():
    cls = np.zeros((1, 10, 25, 25), np.float32)
    cls[0, 5 + 3, 7, 9] = 2.0  # foreground of anchor 3 at row 7, column 9
    cls[0, 1, 0, 4] = 2.0  # background of anchor 1 at row 0, column 4
    s = foreground_scores(cls)
    assert s.shape == (3125,) and s.dtype == np.float32
    assert math.isclose(s[3 * 625 + 7 * 25 + 9], sig(2.0), rel_tol=1e-6)
    assert math.isclose(s[1 * 625 + 0 * 25 + 4], sig(-2.0), rel_tol=1e-6)
    assert s[0] == 0.5


def test_decode_uses_dx_dy_dw_dh_channel_blocks():
    loc = np.zeros((1, 20, 25, 25), np.float32)
    loc[0, 4, 24, 0] = 0.5  # dx of anchor 4 (32x96) at row 24, column 0
    loc[0, 5 + 4, 24, 0] = -0.25  # dy
    loc[0, 10 + 4, 24, 0] = math.log(2.0)  # dw
    loc[0, 15 + 4, 24, 0] = math.log(0.5)  # dh
    anchors = np.array([[0, 0, 1, 1]] * 3125, np.float32)
    anchors[4 * 625 + 24 * 25] = [-96, 96, 32, 96]
    box = decode_boxes(loc, anchors)[:, 4 * 625 + 24 * 25]
    np.testing.assert_allclose(box, [-96 + 16, 96 - 24, 64, 48], rtol=1e-6)


def test_init_centre_mean_and_half_to_even_template_size():
    f = frame()
    backend = crafted_backend()
    state = SiamMaskTracker(backend, DAVIS).init(f, (100.0, 50.0, 10.25, 10.25))  # context side 20.5 -> 20
    np.testing.assert_array_equal(state.center, [105.125, 55.125])
    np.testing.assert_array_equal(state.avg_chans, f.reshape(-1, 3).mean(axis=0))
    assert state.avg_chans.dtype == np.float64 and state.frame_hw == (400, 600)
    assert state.kernels == {"k_cls": "kernels", "k_loc": "kernels", "k_mask": "kernels"}
    z = backend.templates[0]
    np.testing.assert_array_equal(z, crop_subwindow(f, state.center, 127, 20, state.avg_chans))
    assert not np.array_equal(z, crop_subwindow(f, state.center, 127, 21, state.avg_chans))


def test_selection_penalty_window_and_update_match_hand_computation():
    f = frame()
    backend = crafted_backend()
    tracker = SiamMaskTracker(backend, DAVIS)
    state = tracker.init(f, (268.0, 168.0, 64.0, 64.0))  # centre (300, 200), context side 128
    new, res = tracker.track(f, state)

    scale = 127 / 128  # target in crop = 63.5 x 63.5
    pen_a = math.exp(-(128 / 127 - 1) * DAVIS.penalty_k)  # 64x64 box: padded sizes 128 vs 127
    score_a = sig(1.5)
    pscore_a = pen_a * score_a * (1 - DAVIS.window_influence) + hann(12) * hann(14) * DAVIS.window_influence
    assert res.best == A and backend.refined == [(12, 14)]
    assert math.isclose(res.score, score_a, rel_tol=1e-6)
    assert math.isclose(res.extra["penalty"], pen_a, rel_tol=1e-6)
    assert math.isclose(res.extra["pscore"], pscore_a, rel_tol=1e-6)
    lr = pen_a * score_a * DAVIS.lr
    # decoded box (0.25*64 + 16, 0, 64, 64) crop px relative to the centre
    np.testing.assert_allclose(new.center, [300 + 32 / scale, 200.0], rtol=1e-9)
    w = 64 * (1 - lr) + 64 / scale * lr
    np.testing.assert_allclose(new.size, [w, w], rtol=1e-6)
    np.testing.assert_array_equal(res.center, new.center)
    assert res.lost is (score_a < DAVIS.lost_score) and new.score == res.score
    side = round(128 * 255 / 127)  # 257
    assert res.extra["crop_box"] == (300 - side / 2, 200 - side / 2, side, side)
    assert backend.searches[0].shape == (1, 3, 255, 255)
    np.testing.assert_array_equal(state.center, [300.0, 200.0])  # the input state is untouched


def test_without_window_the_confident_far_candidate_wins():
    f = frame()
    tracker = SiamMaskTracker(crafted_backend(), replace(DAVIS, window_influence=0.0))
    _, res = tracker.track(f, tracker.init(f, (268.0, 168.0, 64.0, 64.0)))
    assert res.best == B  # penalty ~0.91 x 0.9997 beats 0.9997 x 0.818


def test_full_mask_at_the_chosen_cell_lands_on_its_subwindow():
    f = frame()
    tracker = SiamMaskTracker(crafted_backend(mask_logit=10.0), DAVIS)
    _, res = tracker.track(f, tracker.init(f, (268.0, 168.0, 64.0, 64.0)))
    x0, y0, side, _ = res.extra["crop_box"]
    s = side / 255
    sub_x, sub_y = x0 + 8 * (14 - 4) * s, y0 + 8 * (12 - 4) * s
    ys, xs = np.nonzero(res.mask)
    assert res.mask.dtype == np.uint8 and res.mask.shape == (400, 600)
    assert abs(xs.min() - sub_x) <= 1 and abs(xs.max() - (sub_x + 126 * s)) <= 1.5
    assert abs(ys.min() - sub_y) <= 1 and abs(ys.max() - (sub_y + 126 * s)) <= 1.5
    assert res.prob.dtype == np.float32 and res.prob[0, 0] == -1.0
    assert res.extra["polygon_from_mask"]
    assert abs(res.polygon[:, 0].min() - xs.min()) < 1 and abs(res.polygon[:, 1].max() - ys.max()) < 1


def test_empty_mask_falls_back_to_the_unclipped_box_then_clips():
    f = frame()
    cls, loc = crafted_maps({(2, 12, 12): 3.0}, {(2, 12, 12): (-60 / 64, 0.0, 0.0, 0.0)})
    tracker = SiamMaskTracker(FixedRunner(cls, loc, np.full((127, 127), -10.0, np.float32)), DAVIS)
    state = tracker.init(f, (0.0, 150.0, 40.0, 40.0))  # centre (20, 170), context side 80
    new, res = tracker.track(f, state)
    assert res.best == (2, 12, 12) and res.mask.sum() == 0
    scale = 127 / 80
    unclipped_cx = 20 - 60 / scale
    assert unclipped_cx < 0 and new.center[0] == 0.0 and res.center[0] == 0.0
    lr = res.extra["penalty"] * res.score * DAVIS.lr
    w = 40 * (1 - lr) + 64 / scale * lr
    assert not res.extra["polygon_from_mask"]
    np.testing.assert_allclose(res.polygon, box_polygon((unclipped_cx, 170.0, w, w)), atol=1e-4)


def test_clipping_bounds():
    c, s = clip_target(np.array([-5.0, 500.0]), np.array([3.0, 900.0]), (400, 600))
    assert c.tolist() == [0.0, 400.0] and s.tolist() == [10.0, 400.0]
    c, s = clip_target(np.array([700.0, 10.0]), np.array([700.0, 5.0]), (400, 600))
    assert c.tolist() == [600.0, 10.0] and s.tolist() == [600.0, 10.0]


def test_low_score_is_lost():
    f = frame()
    cls, loc = crafted_maps({}, {}, base_fg=-3.0)  # every candidate ~0.047
    tracker = SiamMaskTracker(FixedRunner(cls, loc, np.zeros((127, 127), np.float32)), DAVIS)
    _, res = tracker.track(f, tracker.init(f, (268.0, 168.0, 64.0, 64.0)))
    assert res.lost is True and res.score < DAVIS.lost_score


def test_tracking_is_a_pure_function_of_state_and_frame():
    f = frame()
    tracker = SiamMaskTracker(crafted_backend(), DAVIS)
    state = tracker.init(f, (268.0, 168.0, 64.0, 64.0))
    a_state, a = tracker.track(f, state)
    b_state, b = tracker.track(f, state)
    np.testing.assert_array_equal(a_state.center, b_state.center)
    np.testing.assert_array_equal(a.prob, b.prob)


def test_initial_result_is_the_given_box():
    f = frame()
    state = SiamMaskTracker(crafted_backend(), DAVIS).init(f, (10.0, 20.0, 30.0, 40.0))
    res = initial_result(state)
    np.testing.assert_array_equal(res.xywh, [10, 20, 30, 40])
    assert res.polygon.tolist() == [[10, 20], [40, 20], [40, 60], [10, 60]]


@pytest.mark.parametrize("box", [(10, 10, 0, 20), (10, 10, 20, -1), (600, 10, 20, 20),
                                 (-30, 10, 20, 20), (10, 400, 5, 5), (10, -5, 5, 5),
                                 (float("nan"), 1, 2, 3)])
def test_bad_boxes_are_one_line_errors(box):
    with pytest.raises(MasktrtError) as err:
        SiamMaskTracker(crafted_backend(), DAVIS).init(frame(), box)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("bad", [np.zeros((40, 60), np.uint8), np.zeros((40, 60, 3), np.float32),
                                 np.zeros((40, 60, 4), np.uint8), [[1, 2, 3]]])
def test_bad_frames_are_one_line_errors(bad):
    tracker = SiamMaskTracker(crafted_backend(), DAVIS)
    with pytest.raises(MasktrtError, match="HxWx3 uint8"):
        tracker.init(bad, (1, 1, 5, 5))
    state = tracker.init(frame(40, 60), (1, 1, 5, 5))
    with pytest.raises(MasktrtError, match="HxWx3 uint8"):
        tracker.track(bad, state)


def test_frame_size_change_is_an_error():
    tracker = SiamMaskTracker(crafted_backend(), DAVIS)
    state = tracker.init(frame(), (268.0, 168.0, 64.0, 64.0))
    with pytest.raises(MasktrtError, match="frame size changed from 600x400 to 601x400"):
        tracker.track(frame(400, 601), state)


def test_closed_loop_follows_a_moving_target_with_an_oracle_network():
    frames, boxes = synthetic_sequence(15)
    tracker = SiamMaskTracker(OracleRunner(), DAVIS)
    state = tracker.init(frames[0], boxes[0])
    for f, (x, y, w, h) in zip(frames[1:], boxes[1:]):
        state, res = tracker.track(f, state)
        np.testing.assert_allclose(res.xywh, [x, y, w, h], atol=1.5)
        gt = np.zeros(f.shape[:2], np.uint8)
        gt[y:y + h, x:x + w] = 1
        iou = (gt & res.mask).sum() / (gt | res.mask).sum()
        assert iou > 0.85 and res.extra["polygon_from_mask"] and not res.lost
