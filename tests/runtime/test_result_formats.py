"""`masktrt track --format davis|ytvos`: indexed PNG result folders, and `masktrt eval` on them."""
import argparse
import json

import cv2
import numpy as np
import pytest
from tests.helpers.fake_numpy_runners import OracleRunner, synthetic_sequence

from masktrt.cli import main
from masktrt.commands import track
from masktrt.errors import MasktrtError
from masktrt.runtime import indexed_png
from masktrt.runtime.outputs import FORMATS, read_predicted_mask


def parse(*argv):
    parser = argparse.ArgumentParser()
    track.add_arguments(parser)
    return parser.parse_args([str(a) for a in argv])


def write_sequence(root, n=6, names=None):
    """A masktrt sequence (frames/, masks/, groundtruth.txt) of a moving rectangle."""
    frames, boxes = synthetic_sequence(n)
    (root / "frames").mkdir(parents=True)
    (root / "masks").mkdir()
    for i, (frame, (x, y, w, h)) in enumerate(zip(frames, boxes)):
        name = names[i] if names else f"{i:05d}"
        cv2.imwrite(str(root / "frames" / f"{name}.png"), frame)
        mask = np.zeros(frame.shape[:2], np.uint8)
        mask[y:y + h, x:x + w] = 255
        cv2.imwrite(str(root / "masks" / f"{name}.png"), mask)
    (root / "groundtruth.txt").write_text("".join(f"{x},{y},{w},{h}\n" for x, y, w, h in boxes))
    return root, boxes


def run_track(seq, boxes, out, *extra):
    box = ",".join(str(v) for v in boxes[0])
    args = parse("--frames", seq / "frames", "--box", box, "--out", out, "--no-video", *extra)
    assert track.run_with_runner(args, OracleRunner()) == 0


def test_davis_folder_scores_identically_to_the_plain_folder(tmp_path, capsys):
    seq, boxes = write_sequence(tmp_path / "bear")
    run_track(seq, boxes, tmp_path / "plain")
    run_track(seq, boxes, tmp_path / "davis", "--format", "davis")
    assert "bear/ (davis indexed PNGs)" in capsys.readouterr().out
    assert not (tmp_path / "davis" / "masks").exists()
    assert sorted(p.name for p in (tmp_path / "davis" / "bear").iterdir()) == \
        [f"{i:05d}.png" for i in range(6)]
    reports = {}
    for name in ("plain", "davis"):
        assert main(["eval", "--sequence", str(seq), "--pred", str(tmp_path / name),
                     "--out", str(tmp_path / f"report-{name}")]) == 0
        reports[name] = json.loads((tmp_path / f"report-{name}" / "eval.json").read_text())
    assert reports["davis"]["metrics"] == reports["plain"]["metrics"]
    assert reports["davis"]["per_frame"] == reports["plain"]["per_frame"]
    assert reports["plain"]["metrics"]["J_mean"] > 0.8  # masks were really scored


def test_indexed_mask_is_palette_png_with_object_id_one(tmp_path):
    seq, boxes = write_sequence(tmp_path / "bear", n=3)
    run_track(seq, boxes, tmp_path / "out", "--format", "davis")
    path = tmp_path / "out" / "bear" / "00002.png"
    plain = read_predicted_mask(path)
    x, y, w, h = boxes[2]
    assert plain[y + 3:y + h - 3, x + 3:x + w - 3].all() and plain[:y - 3].max() == 0
    assert indexed_png.palette(path)[:6] == bytes([0, 0, 0, 128, 0, 0])
    image = pytest.importorskip("PIL.Image").open(path)  # how davis2017-evaluation reads it
    assert image.mode == "P" and image.getpalette()[:6] == [0, 0, 0, 128, 0, 0]
    assert set(np.unique(np.array(image))) == {0, 1}
    np.testing.assert_array_equal(np.array(image), plain)


def test_ytvos_names_masks_like_the_frames(tmp_path):
    names = [f"{5 * i:05d}" for i in range(4)]  # YouTube-VOS frames: every fifth index
    seq, boxes = write_sequence(tmp_path / "0a2f2bd294", n=4, names=names)
    run_track(seq, boxes, tmp_path / "Annotations", "--format", "ytvos")
    folder = tmp_path / "Annotations" / "0a2f2bd294"
    assert sorted(p.stem for p in folder.iterdir()) == names
    assert main(["eval", "--sequence", str(seq), "--pred", str(tmp_path / "Annotations"),
                 "--out", str(tmp_path / "report")]) == 0


def test_overwrite_never_deletes_a_folder_that_holds_more_than_masks(tmp_path, capsys):
    seq, boxes = write_sequence(tmp_path / "bear", n=3)
    out = tmp_path / "out"
    (out / "bear").mkdir(parents=True)
    (out / "bear" / "notes.txt").write_text("mine")
    with pytest.raises(MasktrtError, match="holds more than mask PNGs"):
        run_track(seq, boxes, out, "--format", "davis", "--overwrite")
    assert (out / "bear" / "notes.txt").exists()
    run_track(seq, boxes, tmp_path / "again", "--format", "davis")
    run_track(seq, boxes, tmp_path / "again", "--format", "davis", "--overwrite")
    assert len(list((tmp_path / "again" / "bear").iterdir())) == 3


def test_eval_refuses_a_folder_with_several_sequence_folders(tmp_path, capsys):
    seq, boxes = write_sequence(tmp_path / "bear", n=3)
    out = tmp_path / "out"
    run_track(seq, boxes, out, "--format", "davis")
    (out / "other").mkdir()
    (out / "bear" / "00000.png").rename(out / "other" / "00000.png")
    assert main(["eval", "--sequence", str(seq), "--pred", str(out), "--out", str(tmp_path / "r")]) != 0
    assert "folders of masks" in capsys.readouterr().err


def test_format_choices_match_the_writer():
    parser = argparse.ArgumentParser()
    track.add_arguments(parser)
    action = next(a for a in parser._actions if a.dest == "format")
    assert tuple(action.choices) == FORMATS and action.default == "plain"


def test_encode_round_trips_through_opencv(tmp_path):
    labels = np.zeros((5, 7), np.uint8)
    labels[1:3, 2:6] = 1
    path = tmp_path / "m.png"
    path.write_bytes(indexed_png.encode(labels, indexed_png.davis_palette()))
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert bgr.shape == (5, 7, 3) and tuple(bgr[1, 2]) == (0, 0, 128)
    np.testing.assert_array_equal(read_predicted_mask(path), labels)
    with pytest.raises(ValueError):
        indexed_png.encode(labels.astype(np.int32), indexed_png.davis_palette())
