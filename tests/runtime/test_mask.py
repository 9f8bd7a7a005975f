"""Mask post-processing (spec §3.8): sub-window, affine paste-back, binarisation, polygon."""
import math

import cv2
import numpy as np
import pytest

from masktrt.runtime.mask import (binarize, box_polygon, mask_polygon, mask_subwindow, paste_back,
                                  paste_back_matrix, sigmoid)


def test_sigmoid_values_dtype_and_extremes():
    out = sigmoid(np.array([0.0, 2.0, -1000.0, 1000.0]))
    assert out.dtype == np.float32
    assert out[0] == 0.5 and math.isclose(out[1], 1 / (1 + math.exp(-2)), rel_tol=1e-6)
    assert out[2] == 0.0 and out[3] == 1.0


def test_subwindow_of_centre_cell_is_the_centred_127_window():
    assert mask_subwindow((100.0, 50.0, 255.0, 255.0), (12, 12)) == (164.0, 114.0, 127.0)
    # crop side 510 -> 2 image pixels per crop pixel; cell (row 12, col 14) is 16 crop px right
    sub_x, sub_y, side = mask_subwindow((0.0, 0.0, 510.0, 510.0), (12, 14))
    assert (sub_x, sub_y, side) == (160.0, 128.0, 254.0)


def test_matrix_matches_the_spec_equivalent_mapping():
    crop_box, pos, hw = (37.5, -20.5, 301.0, 301.0), (10, 15), (480, 640)
    m = paste_back_matrix(crop_box, pos, hw, 127)
    sub_x, sub_y, side = mask_subwindow(crop_box, pos)
    k = 127 / side
    for u, v in [(0, 0), (126, 0), (50, 99)]:
        ix, iy = m @ np.array([u, v, 1.0])
        assert math.isclose(ix, (639 / 640) * (sub_x + u / k), rel_tol=1e-12)
        assert math.isclose(iy, (479 / 480) * (sub_y + v / k), rel_tol=1e-12)


def test_paste_back_all_ones_lands_exactly_on_the_window():
    # crop_box (-64,-64,255,255) at the centre cell: sub-window (0,0,127), k = 1,
    # image_x = (127/128) u on a 128x128 frame -> mask u = 0..126 covers image x = 0..125.02
    prob = paste_back(np.ones((127, 127), np.float32), (-64.0, -64.0, 255.0, 255.0), (12, 12), (128, 128))
    assert prob.shape == (128, 128) and prob.dtype == np.float32
    assert (prob[:126, :126] == 1.0).all()
    assert (prob[126:, :] < 0).all() and (prob[:, 126:] < 0).all()
    assert prob[127, 127] == -1.0


def test_paste_back_border_is_minus_one_and_region_follows_the_cell():
    hw = (400, 600)
    crop_box = (100.0, 50.0, 255.0, 255.0)
    centre = binarize(paste_back(np.ones((127, 127), np.float32), crop_box, (12, 12), hw), 0.5)
    shifted = binarize(paste_back(np.ones((127, 127), np.float32), crop_box, (12, 14), hw), 0.5)
    ys, xs = np.nonzero(centre)
    assert abs(xs.min() - 164) <= 1 and abs(xs.max() - 290) <= 1
    assert abs(ys.min() - 114) <= 1 and abs(ys.max() - 240) <= 1
    ys2, xs2 = np.nonzero(shifted)
    assert abs(xs2.min() - xs.min() - 16) <= 1 and ys2.min() == ys.min()
    far = paste_back(np.ones((127, 127), np.float32), crop_box, (12, 12), hw)
    assert far[0, 0] == -1.0 and far[399, 599] == -1.0


def test_paste_back_equals_bilinear_sampling_of_the_inverse_map():
    rng = np.random.default_rng(0)
    prob = rng.random((127, 127), dtype=np.float32)
    crop_box, pos, hw = (20.0, 10.0, 180.0, 180.0), (11, 13), (200, 260)
    out = paste_back(prob, crop_box, pos, hw)
    m = paste_back_matrix(crop_box, pos, hw)
    iy, ix = np.mgrid[0:hw[0], 0:hw[1]].astype(np.float64)
    u = (ix - m[0, 2]) / m[0, 0]
    v = (iy - m[1, 2]) / m[1, 1]
    inside = (u >= 0) & (v >= 0) & (u < 126) & (v < 126)
    assert inside.sum() > 5000
    assert (out[(u < -1) | (v < -1) | (u > 127) | (v > 127)] == -1).all()
    u, v = u[inside], v[inside]
    u0, v0 = u.astype(int), v.astype(int)
    fu, fv = u - u0, v - v0
    ref = ((1 - fu) * (1 - fv) * prob[v0, u0] + fu * (1 - fv) * prob[v0, u0 + 1]
           + (1 - fu) * fv * prob[v0 + 1, u0] + fu * fv * prob[v0 + 1, u0 + 1])
    assert np.abs(out[inside] - ref).max() < 0.05  # OpenCV interpolates with 1/32-pixel weights


def test_paste_back_rejects_a_wrong_size():
    with pytest.raises(ValueError):
        paste_back(np.zeros((63, 63), np.float32), (0.0, 0.0, 255.0, 255.0), (12, 12), (100, 100))


def test_binarize_is_strictly_greater_uint8():
    out = binarize(np.array([0.35, 0.3500001, -1.0, 0.9], np.float32), 0.35)
    assert out.dtype == np.uint8 and out.tolist() == [0, 1, 0, 1]


def test_polygon_of_a_rotated_rectangle_is_its_min_area_rect():
    mask = np.zeros((200, 200), np.uint8)
    rect = ((100.0, 90.0), (80.0, 30.0), 30.0)
    cv2.fillPoly(mask, [np.round(cv2.boxPoints(rect)).astype(np.int32)], 1)
    poly, from_mask = mask_polygon(mask, (0, 0, 10, 10))
    assert from_mask and poly.shape == (4, 2) and poly.dtype == np.float32
    (cx, cy), (w, h), _ = cv2.minAreaRect(poly)
    assert abs(cx - 100) < 1.5 and abs(cy - 90) < 1.5
    assert abs(max(w, h) - 80) < 2.5 and abs(min(w, h) - 30) < 2.5


def test_polygon_takes_the_largest_blob():
    mask = np.zeros((100, 100), np.uint8)
    mask[5:20, 5:20] = 1  # area 14*14 = 196
    mask[40:80, 50:70] = 1  # area 39*19 = 741
    poly, from_mask = mask_polygon(mask, (0, 0, 1, 1))
    assert from_mask
    assert poly[:, 0].min() == 50 and poly[:, 0].max() == 69
    assert poly[:, 1].min() == 40 and poly[:, 1].max() == 79


def test_polygon_falls_back_to_the_box_for_empty_and_tiny_masks():
    box = (50.0, 40.0, 20.0, 10.0)
    expected = [[40, 35], [60, 35], [60, 45], [40, 45]]
    poly, from_mask = mask_polygon(np.zeros((100, 100), np.uint8), box)
    assert not from_mask and poly.tolist() == expected and poly.dtype == np.float32
    tiny = np.zeros((100, 100), np.uint8)
    tiny[10:21, 10:21] = 1  # contour area 10*10 = 100: not > 100
    assert mask_polygon(tiny, box)[1] is False
    tiny[10:22, 10:22] = 1  # 11*11 = 121
    assert mask_polygon(tiny, box)[1] is True
    assert box_polygon(box).tolist() == expected
