"""Sequence loading: style detection, coordinate conventions, initial boxes, clear errors."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from masktrt.errors import MasktrtError
from masktrt.runtime.sequences import axis_aligned_box, load_sequence
from tests.conftest import real_sequence


def write_frames(folder: Path, n: int, hw: tuple[int, int] = (40, 60)) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        image = np.full((*hw, 3), 10 * i, dtype=np.uint8)
        path = folder / f"{i:05d}.png"
        cv2.imwrite(str(path), image)
        paths.append(path)
    return paths


def write_davis(root: Path, rects: list[tuple[int, int, int, int]], gt: bool = True) -> Path:
    write_frames(root / "frames", len(rects))
    (root / "masks").mkdir(parents=True)
    for i, (x, y, w, h) in enumerate(rects):
        mask = np.zeros((40, 60), dtype=np.uint8)
        mask[y:y + h, x:x + w] = 255
        cv2.imwrite(str(root / "masks" / f"{i:05d}.png"), mask)
    if gt:
        (root / "groundtruth.txt").write_text("".join(f"{x},{y},{w},{h}\n" for x, y, w, h in rects))
    return root


# ---- real sequences ----------------------------------------------------------------------------

@pytest.mark.data
@pytest.mark.parametrize("name,kind,n,hw,init", [
    ("davis-blackswan", "davis", 50, (480, 854), (127, 73, 383, 312)),
    ("davis-dog", "davis", 60, (480, 854), (151, 11, 361, 294)),
    ("otb-crossing", "otb", 120, (240, 360), (204, 150, 17, 50)),  # README's 205,151 minus 1
])
def test_real_box_sequences(name, kind, n, hw, init):
    seq = load_sequence(real_sequence(name))
    assert (seq.name, seq.kind, len(seq)) == (name, kind, n)
    assert seq.frame(0).shape == (*hw, 3) and seq.frame(n - 1).dtype == np.uint8
    assert seq.boxes.shape == (n, 4) and seq.polygons is None
    np.testing.assert_array_equal(seq.init_box(), init)


@pytest.mark.data
def test_real_davis_masks_match_their_boxes():
    seq = load_sequence(real_sequence("davis-dog"))
    mask = seq.mask(5)
    assert mask.dtype == np.uint8 and set(np.unique(mask)) == {0, 1}
    np.testing.assert_array_equal(cv2.boundingRect(mask), seq.boxes[5])


@pytest.mark.data
def test_real_vot_bag_initial_box_matches_readme():
    seq = load_sequence(real_sequence("vot-bag"))
    assert seq.kind == "vot" and len(seq) == 196 and seq.polygons.shape == (196, 4, 2)
    np.testing.assert_allclose(seq.init_box(), [312.14, 146.39, 106.13, 96.41], atol=0.006)
    # Ground-truth boxes of VOT are the polygons' enclosing boxes.
    p = seq.polygons[0]
    np.testing.assert_allclose(seq.boxes[0], [*p.min(0), *(p.max(0) - p.min(0))])


# ---- synthetic folders -------------------------------------------------------------------------

def test_davis_synthetic_init_box_is_bounding_rect_of_first_mask(tmp_path):
    seq = load_sequence(write_davis(tmp_path / "s", [(5, 6, 10, 12), (7, 6, 10, 12)]))
    assert seq.kind == "davis" and seq.has_masks
    np.testing.assert_array_equal(seq.init_box(), [5, 6, 10, 12])
    assert seq.mask(1)[6:18, 7:17].all() and seq.mask(1).sum() == 120


def test_davis_without_groundtruth_file_derives_boxes_from_masks(tmp_path):
    seq = load_sequence(write_davis(tmp_path / "s", [(5, 6, 10, 12), (1, 2, 3, 4)], gt=False))
    assert seq.kind == "davis"
    np.testing.assert_array_equal(seq.boxes, [[5, 6, 10, 12], [1, 2, 3, 4]])


def test_otb_boxes_become_zero_based_and_tabs_are_accepted(tmp_path):
    write_frames(tmp_path / "s" / "frames", 2)
    (tmp_path / "s" / "groundtruth.txt").write_text("11\t21\t30\t40\n12,22,30,40\n")
    seq = load_sequence(tmp_path / "s")
    assert seq.kind == "otb"
    np.testing.assert_array_equal(seq.boxes, [[10, 20, 30, 40], [11, 21, 30, 40]])
    np.testing.assert_array_equal(seq.init_box(), [10, 20, 30, 40])


def test_kind_override_keeps_zero_based_boxes(tmp_path):
    write_frames(tmp_path / "s" / "frames", 1)
    (tmp_path / "s" / "groundtruth.txt").write_text("11,21,30,40\n")
    np.testing.assert_array_equal(load_sequence(tmp_path / "s", kind="davis").boxes, [[11, 21, 30, 40]])


def test_vot_axis_aligned_box_of_an_axis_aligned_rectangle():
    # For an unrotated rectangle s = 1, so the box is the rectangle grown by 1 (the official +1).
    assert axis_aligned_box(np.array([[10, 20], [50, 20], [50, 40], [10, 40]])) == (30, 30, 41, 21)


def test_vot_axis_aligned_box_preserves_area_of_a_rotated_square():
    # A square of side 10 rotated 45 degrees: enclosing box 10*sqrt(2) wide, area ratio 1/2.
    r = 10 / np.sqrt(2)
    diamond = np.array([[0, -r], [r, 0], [0, r], [-r, 0]]) + 100
    cx, cy, w, h = axis_aligned_box(diamond)
    assert (cx, cy) == pytest.approx((100, 100))
    assert (w - 1) * (h - 1) == pytest.approx(100)


def test_vot_synthetic_sequence(tmp_path):
    write_frames(tmp_path / "s" / "frames", 2)
    (tmp_path / "s" / "groundtruth.txt").write_text(
        "10,20,50,20,50,40,10,40\n11,20,51,20,51,40,11,40\n")
    seq = load_sequence(tmp_path / "s")
    assert seq.kind == "vot"
    np.testing.assert_array_equal(seq.boxes[1], [11, 20, 40, 20])
    np.testing.assert_allclose(seq.init_box(), [30 - 20.5, 30 - 10.5, 41, 21])


def test_plain_folder_of_images_loads_without_groundtruth(tmp_path):
    paths = write_frames(tmp_path / "imgs", 3)
    seq = load_sequence(tmp_path / "imgs")
    assert seq.kind == "frames" and not seq.has_groundtruth and seq.boxes is None
    assert list(seq.frame_paths) == paths
    frames = list(seq)
    assert len(frames) == 3 and frames[2][0, 0, 0] == 20
    with pytest.raises(MasktrtError, match="no ground truth"):
        seq.init_box()
    with pytest.raises(MasktrtError, match="has no masks"):
        seq.mask(0)


def test_missing_folder_is_a_one_line_error(tmp_path):
    with pytest.raises(MasktrtError, match="does not exist") as info:
        load_sequence(tmp_path / "nope")
    assert "\n" not in str(info.value)


def test_folder_without_frames_is_an_error(tmp_path):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "groundtruth.txt").write_text("1,2,3,4\n")
    with pytest.raises(MasktrtError, match="no frames/ folder and no images"):
        load_sequence(tmp_path / "s")


def test_empty_frames_folder_is_an_error(tmp_path):
    (tmp_path / "s" / "frames").mkdir(parents=True)
    with pytest.raises(MasktrtError, match="no images"):
        load_sequence(tmp_path / "s")


def test_groundtruth_length_mismatch_is_an_error(tmp_path):
    write_frames(tmp_path / "s" / "frames", 3)
    (tmp_path / "s" / "groundtruth.txt").write_text("1,2,3,4\n1,2,3,4\n")
    with pytest.raises(MasktrtError, match="3 frames but 2 lines in groundtruth.txt"):
        load_sequence(tmp_path / "s")


def test_mask_count_mismatch_is_an_error(tmp_path):
    root = write_davis(tmp_path / "s", [(1, 1, 5, 5), (1, 1, 5, 5)])
    (root / "masks" / "00001.png").unlink()
    with pytest.raises(MasktrtError, match="2 frames but 1 masks"):
        load_sequence(root)


def test_ragged_or_non_numeric_groundtruth_is_an_error(tmp_path):
    write_frames(tmp_path / "s" / "frames", 2)
    gt = tmp_path / "s" / "groundtruth.txt"
    gt.write_text("1,2,3,4\n1,2,3\n")
    with pytest.raises(MasktrtError, match="groundtruth.txt:2 has a row of 3 numbers"):
        load_sequence(tmp_path / "s")
    gt.write_text("1,2,3,4\na,b,c,d\n")
    with pytest.raises(MasktrtError, match="groundtruth.txt:2 is not a list of numbers"):
        load_sequence(tmp_path / "s")


def test_head_cuts_frames_and_groundtruth_together(tmp_path):
    seq = load_sequence(write_davis(tmp_path / "s", [(1, 1, 5, 5), (2, 1, 5, 5), (3, 1, 5, 5)]))
    short = seq.head(2)
    assert len(short) == 2 and len(short.mask_paths) == 2 and short.boxes.shape == (2, 4)
    np.testing.assert_array_equal(short.boxes[1], [2, 1, 5, 5])
    with pytest.raises(MasktrtError, match="cannot take 4 frames"):
        seq.head(4)
