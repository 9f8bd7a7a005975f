"""The synthetic generator: determinism, exact masks, DAVIS layout, occlusion, distractors."""
from __future__ import annotations

import dataclasses
import subprocess
import sys

import cv2
import numpy as np
import pytest

from masktrt.errors import MasktrtError
from masktrt.runtime.frames import list_frames, read_frame
from masktrt.training.synthetic import (
    build_scene,
    demo_sequence_dir,
    generate_sequence,
    is_complete,
    mask_box,
    render_frame,
    sprite_mask,
    write_davis,
)

SIZE = (96, 128)
FRAMES = 12


@pytest.fixture(scope="module")
def seq():
    return generate_sequence(5, FRAMES, SIZE, num_objects=2, distractors=2)


def _occluded_frame(scene) -> int:
    """A frame where the occluder hides part of the target (the generator guarantees one)."""
    for t in range(scene.num_frames):
        full = sprite_mask(scene.target, t, scene.size)
        if (render_frame(scene, t)[1] > 0).sum() < (full > 0).sum():
            return t
    raise AssertionError("no occluded frame")


def test_same_seed_is_bit_identical(seq):
    again = generate_sequence(5, FRAMES, SIZE, num_objects=2, distractors=2)
    assert all(np.array_equal(a, b) for a, b in zip(seq.frames, again.frames))
    assert all(np.array_equal(a, b) for a, b in zip(seq.masks, again.masks))
    np.testing.assert_array_equal(seq.boxes, again.boxes)


def test_different_seeds_differ(seq):
    other = generate_sequence(6, FRAMES, SIZE, num_objects=2, distractors=2)
    assert not np.array_equal(seq.frames[0], other.frames[0])
    assert not np.array_equal(seq.masks[0], other.masks[0])


def test_shapes_types_and_binary_masks(seq):
    assert len(seq.frames) == len(seq.masks) == len(seq.boxes) == FRAMES
    for frame, mask in zip(seq.frames, seq.masks):
        assert frame.shape == (*SIZE, 3) and frame.dtype == np.uint8
        assert mask.shape == SIZE and mask.dtype == np.uint8
        assert set(np.unique(mask)) <= {0, 255} and mask.any()


def test_render_frame_is_pure(seq):
    """Rendering one frame alone (what training does for a pair) gives the sequence's frame."""
    frame, mask = render_frame(seq.scene, 7)
    assert np.array_equal(frame, seq.frames[7]) and np.array_equal(mask, seq.masks[7])


@pytest.mark.parametrize("antialias", [False, True])
def test_mask_is_exactly_where_the_target_shows(antialias):
    """Paint the target one flat colour and compare with the scene rendered without it: the
    mask must be exactly the visible target pixels, including where the occluder cuts it."""
    scene = build_scene(11, FRAMES, SIZE, distractors=1, antialias=antialias)
    colour = np.array([1, 2, 3], np.uint8)
    flat = dataclasses.replace(scene.target, texture=np.broadcast_to(
        colour, scene.target.texture.shape).copy())
    gone = dataclasses.replace(scene.target, centres=scene.target.centres + 10_000)
    with_target = dataclasses.replace(scene, target=flat, noise=None)
    without = dataclasses.replace(scene, target=gone, noise=None)
    t = _occluded_frame(scene)
    frame, mask = render_frame(with_target, t)
    empty, no_mask = render_frame(without, t)
    assert not no_mask.any()
    inside = mask > 0
    if antialias:  # only the image edge is softened: check away from the boundary
        ring = np.ones((5, 5), np.uint8)  # 2 px: a sub-pixel spike tip may reach past 1 px
        inside = cv2.erode(mask, ring) > 0
        outside = cv2.dilate(mask, ring) == 0
        occluder = sprite_mask(scene.front[0], t, scene.size)
        outside &= cv2.dilate(occluder, ring) == 0
    else:
        outside = ~inside
    assert inside.sum() > 20
    assert (frame[inside] == colour).all()
    assert np.array_equal(frame[outside], empty[outside])


def test_occlusion_only_removes_target_pixels():
    """Occluders use their own random stream: toggling them changes nothing but the hidden part."""
    clear = generate_sequence(3, 30, SIZE, occluders=0)
    occluded = generate_sequence(3, 30, SIZE, occluders=1)
    area_clear = np.array([(m > 0).sum() for m in clear.masks])
    area_occ = np.array([(m > 0).sum() for m in occluded.masks])
    for a, b in zip(clear.masks, occluded.masks):
        assert not ((b > 0) & (a == 0)).any()  # occluded mask is a subset
    assert (area_occ < area_clear).sum() >= 3  # it really passes in front for several frames
    assert (area_occ == area_clear).sum() >= 3  # and not all the time
    assert (area_occ / area_clear).min() > 0.2  # partial, never (nearly) total


def test_distractors_look_alike_but_never_touch_the_target():
    base = generate_sequence(8, 20, SIZE, distractors=0)
    busy = generate_sequence(8, 20, SIZE, distractors=2)
    assert all(np.array_equal(a, b) for a, b in zip(base.masks, busy.masks))
    scene = busy.scene
    assert len(scene.behind) == 2
    for t in range(scene.num_frames):
        target = sprite_mask(scene.target, t, scene.size) > 0
        for distractor in scene.behind:
            assert not (target & (sprite_mask(distractor, t, scene.size) > 0)).any()
    target_area = cv2.contourArea(scene.target.outline.astype(np.float32))
    for distractor in scene.behind:  # similar size: a look-alike, not an unrelated object
        area = cv2.contourArea(distractor.outline.astype(np.float32))
        assert 0.5 < area / target_area < 2.0


def test_motion_is_smooth_and_stays_in_frame():
    seq = generate_sequence(4, 40, (240, 320), distractors=0, occluders=0)
    target = seq.scene.target
    steps = np.linalg.norm(np.diff(target.centres, axis=0), axis=1)
    assert steps.max() < 0.05 * 240 and steps.sum() > 10  # moves, without jumps
    assert np.ptp(target.angles) > 0.05 and np.ptp(target.scales) > 0.01
    centres = seq.boxes[:, :2] + seq.boxes[:, 2:] / 2
    assert ((centres > 0) & (centres < [320, 240])).all()
    assert len({tuple(b) for b in seq.boxes}) > 20  # the box really changes


def test_write_davis_layout_and_groundtruth(seq, tmp_path):
    folder = write_davis(seq, tmp_path / "seq")
    frames = list_frames(folder / "frames")
    masks = sorted((folder / "masks").glob("*.png"))
    assert [p.name for p in frames] == [f"{i:05d}.jpg" for i in range(FRAMES)]
    assert [p.stem for p in masks] == [p.stem for p in frames]
    lines = (folder / "groundtruth.txt").read_text().splitlines()
    assert len(lines) == FRAMES and is_complete(folder, FRAMES)
    for i, (line, path) in enumerate(zip(lines, masks)):
        mask = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        assert mask.dtype == np.uint8 and mask.ndim == 2
        assert np.array_equal(mask, seq.masks[i])
        ys, xs = np.nonzero(mask)
        expected = (xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)
        assert tuple(int(v) for v in line.split(",")) == expected == mask_box(mask)
        image = read_frame(frames[i])
        assert np.abs(image.astype(int) - seq.frames[i]).mean() < 6  # JPEG of the same frame


def test_jpeg_files_are_reproducible(seq, tmp_path):
    a = write_davis(seq, tmp_path / "a")
    again = generate_sequence(5, FRAMES, SIZE, num_objects=2, distractors=2)
    b = write_davis(again, tmp_path / "b")
    for sub in ("frames/00000.jpg", "frames/00011.jpg", "masks/00004.png", "groundtruth.txt"):
        assert (a / sub).read_bytes() == (b / sub).read_bytes()


def test_write_davis_refuses_to_mix_sequences(seq, tmp_path):
    write_davis(seq, tmp_path)
    with pytest.raises(MasktrtError, match="already holds images"):
        write_davis(seq, tmp_path)
    short = dataclasses.replace(seq, frames=seq.frames[:3], masks=seq.masks[:3],
                                boxes=seq.boxes[:3])
    write_davis(short, tmp_path, overwrite=True)
    assert len(list((tmp_path / "frames").glob("*.jpg"))) == 3 and is_complete(tmp_path, 3)


def test_demo_sequence_is_cached_and_repaired(tmp_path, monkeypatch):
    monkeypatch.setenv("MASKTRT_CACHE", str(tmp_path))
    folder = demo_sequence_dir(seed=1, num_frames=4, size=SIZE)
    assert folder.is_relative_to(tmp_path / "demo") and is_complete(folder, 4)
    stamp = (folder / "frames" / "00000.jpg").stat().st_mtime_ns
    assert demo_sequence_dir(seed=1, num_frames=4, size=SIZE) == folder
    assert (folder / "frames" / "00000.jpg").stat().st_mtime_ns == stamp  # not regenerated
    (folder / "frames" / "00002.jpg").unlink()
    assert is_complete(demo_sequence_dir(seed=1, num_frames=4, size=SIZE), 4)
    assert [p.name for p in (tmp_path / "demo").iterdir()] == [folder.name]  # no temp leftovers


def test_bad_request_is_one_line_error():
    with pytest.raises(MasktrtError, match="bad synthetic sequence request"):
        generate_sequence(0, num_frames=0)


def test_module_does_not_import_torch():
    code = "import sys, masktrt.training.synthetic; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
