"""`masktrt eval` end to end on tiny synthetic sequences with hand-made predictions."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from masktrt.cli import main

HW = (40, 60)
# Ground truth: a 20x10 box moving right by 2 px a frame. Frame 0 is never scored.
GT = [(10 + 2 * i, 12, 20, 10) for i in range(4)]


def write_sequence(root: Path, masks: bool = True) -> Path:
    (root / "frames").mkdir(parents=True)
    if masks:
        (root / "masks").mkdir()
    for i, (x, y, w, h) in enumerate(GT):
        cv2.imwrite(str(root / "frames" / f"{i:05d}.jpg"), np.full((*HW, 3), 128, np.uint8))
        if masks:
            cv2.imwrite(str(root / "masks" / f"{i:05d}.png"), box_mask((x, y, w, h)) * 255)
    (root / "groundtruth.txt").write_text("".join(f"{x},{y},{w},{h}\n" for x, y, w, h in GT))
    return root


def box_mask(box) -> np.ndarray:
    x, y, w, h = box
    mask = np.zeros(HW, np.uint8)
    mask[y:y + h, x:x + w] = 1
    return mask


def write_predictions(root: Path, boxes, masks=None, polygons=None, scores=None) -> Path:
    root.mkdir(parents=True)
    (root / "boxes.txt").write_text("".join(",".join(map(str, b)) + "\n" for b in boxes))
    if polygons is not None:
        (root / "polygons.txt").write_text("".join(",".join(map(str, p)) + "\n" for p in polygons))
    if scores is not None:
        (root / "scores.txt").write_text("".join(f"{s}\n" for s in scores))
    if masks is not None:
        (root / "masks").mkdir()
        for i, m in enumerate(masks):
            cv2.imwrite(str(root / "masks" / f"{i:05d}.png"), m * 255)
    return root


def test_eval_davis_style_scores_and_reports(tmp_path, capsys):
    seq = write_sequence(tmp_path / "seq")
    # Frame 0 deliberately wrong (it is not scored); frame 1 perfect; frame 2 shifted by half
    # the width (IoU 1/3); frame 3 lost (disjoint, empty mask).
    boxes = [(0, 0, 1, 1), GT[1], (GT[2][0] + 10, 12, 20, 10), (0, 0, 5, 5)]
    masks = [np.zeros(HW, np.uint8), box_mask(GT[1]), box_mask(boxes[2]), np.zeros(HW, np.uint8)]
    pred = write_predictions(tmp_path / "pred", boxes, masks, scores=[1.0, 0.9, 0.6, 0.1])
    out = tmp_path / "report"

    assert main(["eval", "--sequence", str(seq), "--pred", str(pred), "--out", str(out)]) == 0

    result = json.loads((out / "eval.json").read_text())
    assert result["kind"] == "davis" and result["frames"] == 4 and result["evaluated_frames"] == 3
    per_frame = result["per_frame"]
    assert [r["frame"] for r in per_frame] == [1, 2, 3]
    np.testing.assert_allclose([r["box_iou"] for r in per_frame], [1, 1 / 3, 0])
    np.testing.assert_allclose([r["J"] for r in per_frame], [1, 1 / 3, 0])
    assert per_frame[0]["F"] == 1.0 and per_frame[2]["F"] == 0.0
    m = result["metrics"]
    assert m["J_mean"] == pytest.approx(4 / 9) and m["J_recall"] == pytest.approx(1 / 3)
    assert m["box_iou_mean"] == pytest.approx(4 / 9)
    # Success: IoU 1 above 20 thresholds, IoU 1/3 above 7 (0..0.30), IoU 0 above none.
    assert m["box_auc"] == pytest.approx((20 + 7) / (3 * 21))
    assert m["score_mean"] == pytest.approx((0.9 + 0.6 + 0.1) / 3)
    assert "polygon_iou_mean" not in m
    markdown = (out / "eval.md").read_text()
    assert "J&F mean" in markdown and "| 2 |" in markdown
    printed = capsys.readouterr().out
    assert "J mean (region IoU)" in printed and "0.444" in printed


def test_eval_vot_style_polygons(tmp_path):
    root = tmp_path / "seq"
    (root / "frames").mkdir(parents=True)
    square = np.array([10, 10, 30, 10, 30, 30, 10, 30], float)
    for i in range(3):
        cv2.imwrite(str(root / "frames" / f"{i:05d}.jpg"), np.zeros((*HW, 3), np.uint8))
    (root / "groundtruth.txt").write_text("".join(",".join(map(str, square)) + "\n" for _ in range(3)))
    shifted = square + np.tile([10, 0], 4)  # half the width: IoU 1/3
    pred = write_predictions(tmp_path / "pred", [(10, 10, 20, 20)] * 3,
                             polygons=[square, square, shifted])

    assert main(["eval", "--sequence", str(root), "--pred", str(pred)]) == 0

    result = json.loads((pred / "eval.json").read_text())  # --out defaults to --pred
    assert result["kind"] == "vot"
    np.testing.assert_allclose([r["polygon_iou"] for r in result["per_frame"]], [1, 1 / 3])
    assert result["metrics"]["polygon_iou_mean"] == pytest.approx(2 / 3)
    assert result["metrics"]["box_iou_mean"] == pytest.approx(1.0)
    assert "J_mean" not in result["metrics"]


def test_eval_length_mismatch_is_a_one_line_error(tmp_path, capsys):
    seq = write_sequence(tmp_path / "seq")
    pred = write_predictions(tmp_path / "pred", GT[:3])
    assert main(["eval", "--sequence", str(seq), "--pred", str(pred)]) == 2
    err = capsys.readouterr().err.strip()
    assert "boxes.txt' has 3 lines but the sequence has 4 frames" in err and "\n" not in err
    assert not (pred / "eval.json").exists()


def test_eval_track_output_format_missing_masks_and_flags(tmp_path):
    # As `masktrt track` writes them: scores.txt is score,lost,skipped; masks are named like the
    # frames and a frame may have none (scored as an empty mask).
    seq = write_sequence(tmp_path / "seq")
    pred = write_predictions(tmp_path / "pred", GT, masks=[box_mask(b) for b in GT[:2]])
    (pred / "scores.txt").write_text("1,0,0\n0.9,0,0\n0.2,1,0\n0.2,1,1\n")
    assert main(["eval", "--sequence", str(seq), "--pred", str(pred)]) == 0
    result = json.loads((pred / "eval.json").read_text())
    np.testing.assert_allclose([r["J"] for r in result["per_frame"]], [1, 0, 0])
    assert [r["lost"] for r in result["per_frame"]] == [0, 1, 1]
    assert result["metrics"]["lost_frames"] == 2 and result["metrics"]["undecoded_frames"] == 1
    assert result["metrics"]["score_mean"] == pytest.approx((0.9 + 0.2 + 0.2) / 3)


def test_eval_masks_named_after_no_frame_must_be_one_per_frame(tmp_path, capsys):
    seq = write_sequence(tmp_path / "seq")
    pred = write_predictions(tmp_path / "pred", GT)
    (pred / "masks").mkdir()
    for i in range(3):
        cv2.imwrite(str(pred / "masks" / f"mask_{i}.png"), box_mask(GT[i]) * 255)
    assert main(["eval", "--sequence", str(seq), "--pred", str(pred)]) == 2
    assert "the 3 masks in" in capsys.readouterr().err
    cv2.imwrite(str(pred / "masks" / "mask_3.png"), box_mask(GT[3]) * 255)
    assert main(["eval", "--sequence", str(seq), "--pred", str(pred)]) == 0  # taken in order
    assert json.loads((pred / "eval.json").read_text())["metrics"]["J_mean"] == 1.0


def test_eval_missing_boxes_file_is_an_error(tmp_path, capsys):
    seq = write_sequence(tmp_path / "seq")
    (tmp_path / "pred").mkdir()
    assert main(["eval", "--sequence", str(seq), "--pred", str(tmp_path / "pred")]) == 2
    assert "boxes.txt' is missing" in capsys.readouterr().err


def test_eval_wrong_mask_size_is_an_error(tmp_path, capsys):
    seq = write_sequence(tmp_path / "seq")
    pred = write_predictions(tmp_path / "pred", GT, masks=[np.zeros((20, 30), np.uint8)] * 4)
    assert main(["eval", "--sequence", str(seq), "--pred", str(pred)]) == 2
    assert "is 30x20 but the frame is 60x40" in capsys.readouterr().err


def test_eval_sequence_without_groundtruth_is_an_error(tmp_path, capsys):
    frames = tmp_path / "imgs"
    frames.mkdir()
    for i in range(2):
        cv2.imwrite(str(frames / f"{i}.png"), np.zeros((*HW, 3), np.uint8))
    pred = write_predictions(tmp_path / "pred", GT[:2])
    assert main(["eval", "--sequence", str(frames), "--pred", str(pred)]) == 2
    assert "has no ground truth" in capsys.readouterr().err


@pytest.mark.data
def test_eval_ground_truth_against_itself_on_a_real_davis_sequence(tmp_path):
    from masktrt.runtime.sequences import load_sequence
    from tests.conftest import real_sequence

    seq = load_sequence(real_sequence("davis-blackswan"))
    pred = write_predictions(tmp_path / "pred", seq.boxes.tolist(),
                             masks=[seq.mask(i) for i in range(len(seq))])
    assert main(["eval", "--sequence", str(seq.root), "--pred", str(pred)]) == 0
    m = json.loads((pred / "eval.json").read_text())["metrics"]
    assert m["J_mean"] == 1.0 and m["F_mean"] == 1.0 and m["box_iou_mean"] == 1.0
    assert m["box_auc"] == pytest.approx(20 / 21)  # OTB's strict IoU > t: 1.0 misses t = 1


def test_eval_max_frames_scores_a_shortened_run(tmp_path):
    seq = write_sequence(tmp_path / "seq")
    pred = write_predictions(tmp_path / "pred", GT[:3], masks=[box_mask(b) for b in GT[:3]])
    assert main(["eval", "--sequence", str(seq), "--pred", str(pred), "--max-frames", "3"]) == 0
    result = json.loads((pred / "eval.json").read_text())
    assert result["frames"] == 3 and [r["frame"] for r in result["per_frame"]] == [1, 2]
    assert result["metrics"]["J_mean"] == 1.0
