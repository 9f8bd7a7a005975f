"""The paste kernel's NumPy model equals runtime.mask's binarize(paste_back(sigmoid(logits)))."""
from __future__ import annotations

import numpy as np
import pytest

from masktrt.kernels.paste_reference import PROB_TIE, paste_mask_reference, paste_params
from masktrt.trackers.siammask.spec import PRESETS
from masktrt.runtime.mask import binarize, paste_back, sigmoid

FRAMES = [(480, 854), (720, 1280), (1080, 1920), (97, 131)]


def _case(rng, hw):
    h, w = hw
    logits = rng.normal(0, 4, (127, 127)).astype(np.float32)
    side = float(round(rng.uniform(60, 1.2 * max(h, w))))
    crop = (float(rng.uniform(-side, w)), float(rng.uniform(-side, h)), side, side)
    pos = (int(rng.integers(0, 25)), int(rng.integers(0, 25)))
    return logits, crop, pos


@pytest.mark.parametrize("hw", FRAMES)
def test_mask_equals_official_paste_and_binarize(hw):
    rng = np.random.default_rng(hw[0])
    covered = 0
    for i in range(12):
        logits, crop, pos = _case(rng, hw)
        thr = list(PRESETS.values())[i % len(PRESETS)].seg_thr
        warped = paste_back(sigmoid(logits), crop, pos, hw)
        ref = binarize(warped, thr)
        got = paste_mask_reference(logits, paste_params(crop, pos, hw), thr)
        diff = ref != got
        # stated budget: only ties (OpenCV's scalar row tail rounds differently, ~1e-5)
        assert np.all(np.abs(warped[diff] - thr) < PROB_TIE), np.argwhere(diff)[:5]
        covered += int(ref.sum())
    assert covered > 0


@pytest.mark.parametrize("hw", FRAMES)
def test_region_covers_every_pixel_the_map_reaches(hw):
    rng = np.random.default_rng(7 + hw[1])
    for _ in range(12):
        logits, crop, pos = _case(rng, hw)
        warped = paste_back(sigmoid(logits), crop, pos, hw)
        x0, y0, x1, y1 = paste_params(crop, pos, hw).region
        outside = warped.copy()
        outside[y0:y1, x0:x1] = -1
        assert np.all(outside == -1)
        if x1 > x0 and y1 > y0:  # and the region is tight: a few pixels of margin at most
            ys, xs = np.nonzero(warped > -1)
            assert xs.min() - x0 <= 3 and x1 - 1 - xs.max() <= 3
            assert ys.min() - y0 <= 3 and y1 - 1 - ys.max() <= 3


def test_map_entirely_outside_the_frame_gives_an_empty_region():
    p = paste_params((5000.0, 5000.0, 300.0, 300.0), (12, 12), (480, 640))
    x0, y0, x1, y1 = p.region
    assert x1 <= x0 or y1 <= y0
    assert paste_mask_reference(np.full((127, 127), 10, np.float32), p, 0.3).sum() == 0


def test_centred_cell_maps_the_window_onto_the_crop_centre():
    hw = (480, 640)
    crop = (100.0, 50.0, 255.0, 255.0)  # s = 1: the 127 window of cell (12,12) starts at crop + 64
    mask = paste_mask_reference(np.full((127, 127), 5, np.float32), paste_params(crop, (12, 12), hw), 0.35)
    ys, xs = np.nonzero(mask)
    assert xs.min() == 164 and ys.min() == 114
    assert abs(xs.max() - (164 + 126)) <= 1 and abs(ys.max() - (114 + 126)) <= 1
