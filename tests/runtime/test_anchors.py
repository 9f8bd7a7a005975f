"""The anchor table against the numbers in spec §3.3."""
import numpy as np

from masktrt.trackers.siammask.anchors import anchor_sizes, generate_anchors


def test_anchor_sizes_are_the_official_truncated_ones():
    assert anchor_sizes().tolist() == [[104, 32], [88, 40], [64, 64], [40, 80], [32, 96]]


def test_table_shape_dtype_and_row_order():
    table = generate_anchors()
    assert table.shape == (3125, 4) and table.dtype == np.float32
    sizes = anchor_sizes()
    for a, y, x in [(0, 0, 0), (1, 3, 17), (2, 12, 12), (3, 24, 0), (4, 24, 24)]:
        row = table[a * 625 + y * 25 + x]
        assert row.tolist() == [-96 + 8 * x, -96 + 8 * y, *sizes[a].tolist()]


def test_centre_cell_is_the_crop_centre_and_grid_is_symmetric():
    table = generate_anchors()
    assert table[2 * 625 + 12 * 25 + 12, :2].tolist() == [0.0, 0.0]
    assert table[:, 0].min() == -96 and table[:, 0].max() == 96
    # within one anchor, x varies fastest
    assert table[1, 0] - table[0, 0] == 8 and table[1, 1] == table[0, 1]
    assert table[25, 1] - table[0, 1] == 8
