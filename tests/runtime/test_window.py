"""The cosine window of spec §3.4."""
import math

import numpy as np

from masktrt.runtime.window import cosine_window
from masktrt.trackers.siammask.spec import ANCHOR_NUM, SCORE_SIZE


def hann(n: int) -> float:
    return 0.5 - 0.5 * math.cos(2 * math.pi * n / 24)


def test_shape_and_tiling():
    w = cosine_window(SCORE_SIZE, ANCHOR_NUM)
    assert w.shape == (3125,) and w.dtype == np.float64
    for a in range(1, 5):
        np.testing.assert_array_equal(w[a * 625:(a + 1) * 625], w[:625])


def test_values_are_the_outer_product_of_hann_row_major():
    w = cosine_window(SCORE_SIZE, ANCHOR_NUM)
    assert w[12 * 25 + 12] == 1.0
    assert w[0] == 0.0 and w[24] == 0.0 and w[24 * 25] == 0.0
    for y, x in [(12, 6), (6, 12), (3, 20), (11, 13)]:
        assert math.isclose(w[y * 25 + x], hann(y) * hann(x), rel_tol=1e-12, abs_tol=1e-15)
    assert math.isclose(w[12 * 25 + 6], 0.5, rel_tol=1e-12)
