"""Each kernel on a GPU against its reference (skipped without a GPU: never faked).

The cases and checks are kernel_cases.py's, the very ones test_cpu_kernels.py runs through the
CPU execution layer; here both tiers run (a GPU is fast). Budgets (kernel_cases): crop+resize
bit-identical; paste mask identical except pixels within PROB_TIE of seg_thr; MBR: official
decision and contour area exactly, the NumPy twin's component and corners (or a tied rectangle
of equal area: two minimum rectangles can be mirror images, issue 21), official area within 0.5 %.
"""
from __future__ import annotations

import numpy as np
import pytest

from tests.helpers.kernel_cases import (check_crop, check_mbr, check_paste, crop_cases, mbr_masks, paste_sequence,
                          roi_case, special_scale_cases)

pytestmark = pytest.mark.gpu
TIERS = ["fast", "slow"]


@pytest.fixture(scope="module")
def launch():
    from masktrt.kernels import launch as mod
    from masktrt.kernels.loader import ensure_context

    ensure_context(0)
    return mod


def _to_device(launch, array):
    buf = launch.DeviceBuffer(array.nbytes)
    buf.upload(np.ascontiguousarray(array))
    return buf


def _crop(launch, kernel, case, half):
    h, w = case.frame.shape[:2]
    frame = _to_device(launch, case.frame)
    out = launch.DeviceBuffer(3 * case.model ** 2 * (2 if half else 4))
    kernel.launch(frame.ptr, (h, w), w * 3, case.params, out.ptr, half)
    got = out.download((1, 3, case.model, case.model), np.float16 if half else np.float32)
    frame.close(), out.close()
    return got


@pytest.mark.parametrize("half", [False, True])
def test_crop_resize_matches_crop_subwindow(launch, half):
    kernel = launch.CropResizeKernel()
    cases = [*crop_cases("fast", seed=int(half)), *crop_cases("slow", count=6, seed=10 + int(half))]
    for case in cases + (list(special_scale_cases()) if not half else []):
        check_crop(case, _crop(launch, kernel, case, half), half)


@pytest.mark.parametrize("hw,count,seed", [((720, 1280), 25, 5), ((480, 854), 12, 480), ((97, 131), 12, 97),
                                           ((1080, 1920), 8, 1920), ((2160, 3840), 8, 3840)])
def test_paste_mask_matches_runtime_mask_and_clears_the_previous_region(launch, hw, count, seed):
    kernel = launch.PasteMaskKernel()
    h, w = hw
    mask = _to_device(launch, np.zeros((h, w), np.uint8))
    logits, prob = launch.DeviceBuffer(127 * 127 * 4), launch.DeviceBuffer(127 * 127 * 4)
    previous = None
    for case in paste_sequence(hw, count, seed):
        logits.upload(case.logits)
        previous = kernel.launch(logits.ptr, prob.ptr, case.params, case.thr, mask.ptr, w, previous)
        check_paste(case, mask.download((h, w), np.uint8))
    for buf in (mask, logits, prob):
        buf.close()


@pytest.mark.parametrize("tier", TIERS)
def test_mbr_matches_official_pipeline(launch, tier):
    kernel = launch.MbrKernel()
    masks = mbr_masks(tier)
    ws = launch.MbrWorkspace.allocate(max(m.shape[0] for m in masks), max(m.shape[1] for m in masks))
    for mask in masks:
        h, w = mask.shape
        dev = _to_device(launch, mask)
        kernel.launch(dev.ptr, w, (0, 0, w, h), ws)
        check_mbr(mask, kernel.read(ws))
        dev.close()
    ws.close()


def test_mbr_on_a_region_of_interest_offsets_corners(launch):
    kernel = launch.MbrKernel()
    mask, region = roi_case()
    dev = _to_device(launch, mask)
    ws = launch.MbrWorkspace.allocate(*mask.shape)
    kernel.launch(dev.ptr, mask.shape[1], region, ws)
    x0, y0, x1, y1 = region
    check_mbr(mask[y0:y1, x0:x1], kernel.read(ws), offset=(x0, y0))
    ws.close(), dev.close()
