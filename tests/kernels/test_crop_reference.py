"""The crop kernel's NumPy model equals the official crop (cv2.resize INTER_LINEAR) bit for bit."""
from __future__ import annotations

import numpy as np
import pytest

from masktrt.kernels.crop_reference import crop_params, crop_resize_reference, resize_coefficients
from masktrt.trackers.siammask.spec import EXEMPLAR_SIZE, INSTANCE_SIZE
from masktrt.runtime.crop import crop_subwindow


def _frame(rng, h, w):
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize("model_size", [EXEMPLAR_SIZE, INSTANCE_SIZE])
def test_matches_crop_subwindow_on_random_geometry(model_size):
    rng = np.random.default_rng(model_size)
    for _ in range(40):
        h, w = (int(v) for v in rng.integers(40, 500, 2))
        frame = _frame(rng, h, w)
        avg = frame.reshape(-1, 3).mean(0)
        center = (float(rng.uniform(-80, w + 80)), float(rng.uniform(-80, h + 80)))
        source = int(rng.integers(20, 700))
        ref = crop_subwindow(frame, center, model_size, source, avg)
        got = crop_resize_reference(frame, crop_params(center, model_size, source, avg))
        assert got.dtype == np.float32 and got.shape == ref.shape
        np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("source", [63, 126, 127, 128, 254, 255, 256, 510, 511, 1021])
def test_special_scales_identity_halving_and_upscaling(source):
    rng = np.random.default_rng(source)
    frame = _frame(rng, 300, 400)
    avg = np.array([12.9, 200.2, 99.99])
    for model_size in (EXEMPLAR_SIZE, INSTANCE_SIZE):
        center = (200.5, 150.5)
        ref = crop_subwindow(frame, center, model_size, source, avg)
        got = crop_resize_reference(frame, crop_params(center, model_size, source, avg))
        np.testing.assert_array_equal(got, ref)


def test_float16_output_is_exact():
    rng = np.random.default_rng(3)
    frame = _frame(rng, 200, 260)
    avg = frame.reshape(-1, 3).mean(0)
    p = crop_params((10.0, 190.0), INSTANCE_SIZE, 333, avg)
    half = crop_resize_reference(frame, p, np.float16)
    assert half.dtype == np.float16
    np.testing.assert_array_equal(half.astype(np.float32), crop_resize_reference(frame, p))


def test_padding_is_the_truncated_mean_outside_the_frame():
    frame = np.zeros((50, 50, 3), np.uint8)
    p = crop_params((-500.0, -500.0), EXEMPLAR_SIZE, 200, np.array([1.9, 2.5, 254.99]))
    out = crop_resize_reference(frame, p)
    assert p.pad == (1, 2, 254)
    assert set(np.unique(out[0, 0])) == {1.0} and set(np.unique(out[0, 2])) == {254.0}


def test_weights_are_11_bit_and_sum_to_one():
    for src, dst in [(300, 127), (50, 255), (255, 255)]:
        for clamp in (True, False):
            _, _, w0, w1 = resize_coefficients(src, dst, clamp)
            assert np.all(w0 + w1 == 2048)
