"""Each kernel on a GPU against its reference (skipped without a GPU: never faked).

Budgets: crop+resize bit-identical (integer arithmetic); paste mask identical except pixels whose
official probability lies within PROB_TIE of seg_thr; MBR: same found/fallback decision and exactly
the official contour area, rectangle area within 0.5 %, corners within 0.5 px (mbr_cases).
"""
from __future__ import annotations

import numpy as np
import pytest

from masktrt.kernels.crop_reference import crop_params
from masktrt.kernels.paste_reference import PROB_TIE, paste_params
from masktrt.runtime.crop import crop_subwindow
from masktrt.runtime.mask import binarize, paste_back, sigmoid

from mbr_cases import degenerate_masks, official, random_masks, same_rectangle

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def launch():
    from masktrt.kernels import launch as mod
    from masktrt.kernels.loader import ensure_context

    ensure_context(0)
    return mod


def _to_device(launch, array):
    buf = launch.DeviceBuffer(array.nbytes)
    buf.upload(array)
    return buf


@pytest.mark.parametrize("half", [False, True])
def test_crop_resize_matches_crop_subwindow(launch, half):
    kernel = launch.CropResizeKernel()
    rng = np.random.default_rng(int(half))
    for i in range(20):
        h, w = [(480, 854), (720, 1280), (1080, 1920), (37, 53)][i % 4]
        frame = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        avg = frame.reshape(-1, 3).mean(0)
        center = (float(rng.uniform(-60, w + 60)), float(rng.uniform(-60, h + 60)))
        model, source = (127, 255)[i % 2], int(rng.integers(30, 900))
        dev_frame = _to_device(launch, frame)
        out = launch.DeviceBuffer(3 * model * model * (2 if half else 4))
        kernel.launch(dev_frame.ptr, (h, w), w * 3, crop_params(center, model, source, avg), out.ptr, half)
        got = out.download((1, 3, model, model), np.float16 if half else np.float32)
        np.testing.assert_array_equal(got.astype(np.float32), crop_subwindow(frame, center, model, source, avg))
        dev_frame.close(), out.close()


def test_paste_mask_matches_runtime_mask_and_clears_the_previous_region(launch):
    kernel = launch.PasteMaskKernel()
    rng = np.random.default_rng(5)
    h, w = 720, 1280
    mask = launch.DeviceBuffer(h * w)
    mask.upload(np.zeros((h, w), np.uint8))
    logits_dev, prob_dev = launch.DeviceBuffer(127 * 127 * 4), launch.DeviceBuffer(127 * 127 * 4)
    previous = None
    for i in range(25):
        logits = rng.normal(0, 4, (127, 127)).astype(np.float32)
        side = float(round(rng.uniform(80, 900)))
        crop = (float(rng.uniform(-side, w)), float(rng.uniform(-side, h)), side, side)
        pos = (int(rng.integers(0, 25)), int(rng.integers(0, 25)))
        logits_dev.upload(logits)
        previous = kernel.launch(logits_dev.ptr, prob_dev.ptr, paste_params(crop, pos, (h, w)), 0.35,
                                 mask.ptr, w, previous)
        warped = paste_back(sigmoid(logits), crop, pos, (h, w))
        got = mask.download((h, w), np.uint8)
        diff = got != binarize(warped, 0.35)
        assert np.all(np.abs(warped[diff] - 0.35) < PROB_TIE), (i, int(diff.sum()))
    for buf in (mask, logits_dev, prob_dev):
        buf.close()


def test_mbr_matches_official_pipeline(launch):
    kernel = launch.MbrKernel()
    masks = random_masks(11, 80, [(64, 64), (240, 320), (480, 640)])
    for hw in [(7, 9), (101, 67), (480, 640)]:
        masks += list(degenerate_masks(*hw).values())
    ws = launch.MbrWorkspace.allocate(480, 640)
    for i, mask in enumerate(masks):
        h, w = mask.shape
        dev = _to_device(launch, np.ascontiguousarray(mask))
        kernel.launch(dev.ptr, w, (0, 0, w, h), ws)
        got = kernel.read(ws)
        found, area, ref = official(mask)
        assert got.found == found, i
        assert got.contour_area == area, (i, got.contour_area, area)
        if found:
            ok, why = same_rectangle(ref, got.corners)
            assert ok, (i, why)
        dev.close()
    ws.close()


def test_mbr_on_a_region_of_interest_offsets_corners(launch):
    kernel = launch.MbrKernel()
    mask = np.zeros((300, 400), np.uint8)
    mask[100:150, 200:260] = 1
    dev = _to_device(launch, mask)
    ws = launch.MbrWorkspace.allocate(300, 400)
    kernel.launch(dev.ptr, 400, (150, 80, 320, 200), ws)
    got = kernel.read(ws)
    ok, why = same_rectangle(official(mask)[2], got.corners)
    assert got.found and ok, why
    ws.close(), dev.close()
