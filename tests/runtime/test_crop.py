"""The official crop (spec §3.5) against hand-computed windows and pixels."""
import cv2
import numpy as np

from masktrt.runtime.crop import crop_patch, crop_subwindow, crop_window, pad_colour


def ramp(h: int, w: int) -> np.ndarray:
    """Every pixel distinct: B = 10y + x, G = 100 + x, R = 200 - y."""
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([10 * y + x, 100 + x, 200 - y], axis=-1).astype(np.uint8)


def test_window_is_centred_with_c_equal_half_of_size_plus_one():
    win = crop_window((5.0, 5.0), 3)  # c = 2 -> xmin = round(3.0) = 3
    assert (win.xmin, win.ymin, win.xmax, win.ymax) == (3, 3, 5, 5)
    win = crop_window((10.0, 20.0), 4)  # c = 2.5 -> 7.5 -> 8 (even), 17.5 -> 18 (even)
    assert (win.xmin, win.ymin) == (8, 18)


def test_rounding_is_half_to_even_not_half_up():
    assert crop_window((4.5, 5.5), 3).xmin == 2  # cx - c = 2.5 -> 2 (pysot's floor(v+.5) gives 3)
    assert crop_window((4.5, 5.5), 3).ymin == 4  # 3.5 -> 4
    assert crop_window((2.5, 2.5), 8).xmin == -2  # -2.0
    assert crop_window((2.0, 2.0), 8).xmin == -2  # -2.5 -> -2
    assert crop_window((3.0, 3.0), 8).xmin == -2  # -1.5 -> -2


def test_pad_colour_truncates_the_float_mean():
    assert pad_colour(np.array([123.7, 10.2, 254.99])).tolist() == [123, 10, 254]


def test_crop_padding_on_all_four_sides():
    frame = ramp(4, 4)
    avg = np.array([50.9, 60.5, 70.1])
    win = crop_window((2.0, 2.0), 8)  # xmin = ymin = round(2 - 4.5) = -2, xmax = ymax = 5
    assert win.pads((4, 4)) == (2, 2, 2, 2)
    patch = crop_patch(frame, win, avg)
    assert patch.shape == (8, 8, 3) and patch.dtype == np.uint8
    np.testing.assert_array_equal(patch[2:6, 2:6], frame)
    border = np.ones((8, 8), bool)
    border[2:6, 2:6] = False
    assert (patch[border] == [50, 60, 70]).all()


def test_crop_padding_on_one_side_only():
    frame = ramp(10, 12)
    avg = np.array([1.5, 2.5, 3.5])
    # size 5 -> c = 3
    win = crop_window((11.0, 5.0), 5)  # xmin = 8, xmax = 12 (one column beyond W = 12)
    assert win.pads((10, 12)) == (0, 0, 1, 0)
    patch = crop_patch(frame, win, avg)
    np.testing.assert_array_equal(patch[:, :4], frame[2:7, 8:12])
    assert (patch[:, 4] == [1, 2, 3]).all()
    win = crop_window((5.0, 0.0), 5)  # ymin = -3 -> top pad 3
    assert win.pads((10, 12)) == (0, 3, 0, 0)
    patch = crop_patch(frame, win, avg)
    assert (patch[:3] == [1, 2, 3]).all()
    np.testing.assert_array_equal(patch[3:], frame[0:2, 2:7])
    win = crop_window((0.0, 9.0), 5)  # left pad 3, bottom pad 1
    assert win.pads((10, 12)) == (3, 0, 0, 1)


def test_crop_fully_outside_is_all_padding():
    patch = crop_patch(ramp(10, 10), crop_window((-50.0, -50.0), 5), np.array([9.9, 8.8, 7.7]))
    assert (patch == [9, 8, 7]).all()


def test_no_resize_when_sizes_equal_gives_exact_pixels_chw_float():
    frame = ramp(20, 20)
    x = crop_subwindow(frame, (10.0, 10.0), 7, 7, np.zeros(3))
    assert x.shape == (1, 3, 7, 7) and x.dtype == np.float32
    xmin = round(10.0 - 4.0)
    np.testing.assert_array_equal(x[0].transpose(1, 2, 0), frame[xmin:xmin + 7, xmin:xmin + 7])
    assert x[0, 0, 0, 0] == frame[xmin, xmin, 0]  # channel 0 stays B: no RGB swap, no scaling


def test_resize_is_opencv_default_bilinear():
    frame = ramp(30, 30)
    x = crop_subwindow(frame, (15.0, 15.0), 7, 14, np.zeros(3))
    xmin = round(15.0 - 7.5)
    expected = cv2.resize(frame[xmin:xmin + 14, xmin:xmin + 14], (7, 7))
    np.testing.assert_array_equal(x[0].transpose(1, 2, 0), expected)


def _padded_by_hand(frame, win, avg):
    """The official construction, literally: a canvas of the truncated mean, the frame pasted in."""
    h, w = frame.shape[:2]
    canvas = np.empty((win.size, win.size, 3), np.uint8)
    canvas[:] = np.asarray(avg, dtype=np.float64).astype(np.uint8)
    x0, y0 = max(win.xmin, 0), max(win.ymin, 0)
    x1, y1 = min(win.xmax + 1, w), min(win.ymax + 1, h)
    if x1 > x0 and y1 > y0:
        canvas[y0 - win.ymin:y1 - win.ymin, x0 - win.xmin:x1 - win.xmin] = frame[y0:y1, x0:x1]
    return canvas


def test_fast_padding_equals_the_literal_construction_on_random_windows():
    from masktrt.runtime.crop import crop_patch, crop_window

    rng = np.random.default_rng(1)
    frame = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    for _ in range(400):  # inside, straddling every border, larger than the frame, fully outside
        win = crop_window((rng.uniform(-80, 150), rng.uniform(-80, 130)), int(rng.integers(1, 200)))
        avg = rng.uniform(0, 255, 3)
        np.testing.assert_array_equal(crop_patch(frame, win, avg), _padded_by_hand(frame, win, avg))
