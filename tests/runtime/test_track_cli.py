"""`masktrt track` end to end with the NumPy oracle backend injected (no torch needed)."""
import argparse

import cv2
import numpy as np
import pytest
from tests.helpers.fake_numpy_runners import OracleRunner, synthetic_sequence

from masktrt.cli import main
from masktrt.commands import track
from masktrt.errors import MasktrtError


def write_frames(folder, frames, names=None):
    folder.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(frames):
        cv2.imwrite(str(folder / f"{names[i] if names else f'frame_{i:03d}'}.png"), f)
    return folder


def parse(*argv):
    parser = argparse.ArgumentParser()
    track.add_arguments(parser)
    return parser.parse_args([str(a) for a in argv])


def box_arg(box):
    return ",".join(str(v) for v in box)


def lines(path):
    return path.read_text().splitlines()


def test_folder_outputs_are_complete_aligned_and_correct(tmp_path, capsys):
    frames, boxes = synthetic_sequence(8)
    src = write_frames(tmp_path / "in", frames)
    out = tmp_path / "out"
    assert track.run_with_runner(parse("--frames", src, "--box", box_arg(boxes[0]), "--out", out),
                                  OracleRunner()) == 0
    masks = sorted(p.name for p in (out / "masks").iterdir())
    assert masks == [f"frame_{i:03d}.png" for i in range(8)]
    m = cv2.imread(str(out / "masks" / "frame_005.png"), cv2.IMREAD_UNCHANGED)
    assert m.dtype == np.uint8 and set(np.unique(m)) == {0, 255}
    x, y, w, h = boxes[5]
    assert (m[y + 2:y + h - 2, x + 2:x + w - 2] == 255).all() and m[:y - 2].max() == 0
    got = np.loadtxt(out / "boxes.txt", delimiter=",")
    assert got.shape == (8, 4)
    np.testing.assert_allclose(got, boxes, atol=1.5)
    assert np.loadtxt(out / "polygons.txt", delimiter=",").shape == (8, 8)
    scores = np.loadtxt(out / "scores.txt", delimiter=",")
    assert scores.shape == (8, 4) and (scores[:, 0] > 0.9).all() and (scores[:, 1:] == 0).all()
    cap = cv2.VideoCapture(str(out / "track.mp4"))
    assert cap.isOpened() and int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 8
    ok, first = cap.read()
    assert ok and first.shape == frames[0].shape
    cap.release()
    summary = capsys.readouterr().out
    assert "tracked 8 frames" in summary and "fps" in summary and "wall time" in summary


def test_unreadable_frame_is_skipped_with_a_warning_and_outputs_stay_aligned(tmp_path, capsys):
    frames, boxes = synthetic_sequence(6)
    src = write_frames(tmp_path / "in", frames)
    (src / "frame_003.png").write_bytes(b"not a png")
    out = tmp_path / "out"
    track.run_with_runner(parse("--frames", src, "--box", box_arg(boxes[0]), "--out", out,
                                 "--no-video"), OracleRunner())
    err = capsys.readouterr().err
    assert "warning: frame 3" in err and "frame_003.png" in err
    got = lines(out / "boxes.txt")
    assert len(got) == 6 and got[3] == got[2]  # the previous result is repeated
    skipped = np.loadtxt(out / "scores.txt", delimiter=",")[:, 2]
    assert skipped.tolist() == [0, 0, 0, 1, 0, 0]
    assert (out / "masks" / "frame_003.png").exists() and not (out / "track.mp4").exists()
    np.testing.assert_allclose(np.loadtxt(out / "boxes.txt", delimiter=",")[5], boxes[5], atol=1.5)


def test_max_frames_and_video_input_use_index_names(tmp_path):
    frames, boxes = synthetic_sequence(6)
    video = tmp_path / "in.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (320, 240))
    for f in frames:
        writer.write(f)
    writer.release()
    out = tmp_path / "out"
    track.run_with_runner(parse("--video", video, "--box", box_arg(boxes[0]), "--out", out,
                                 "--max-frames", 4), OracleRunner())
    assert sorted(p.name for p in (out / "masks").iterdir()) == [f"{i:05d}.png" for i in range(4)]
    assert len(lines(out / "scores.txt")) == 4
    np.testing.assert_allclose(np.loadtxt(out / "boxes.txt", delimiter=",")[3], boxes[3], atol=2)


def test_weights_default_to_the_demo_checkpoint_and_random_weights_warn(monkeypatch, capsys):
    import masktrt.runtime.backends as backends
    from masktrt.paths import demo_weights

    seen = {}
    monkeypatch.setattr(backends, "open_runner", lambda name, **kw: seen.update(name=name, **kw) or "b")
    args = parse("--frames", "x", "--box", "1,2,3,4", "--out", "o", "--seed", 7, "--random-weights")
    assert track.open_runner_for(args) == "b"
    assert seen == {"name": "torch", "checkpoint": None, "seed": 7, "tracker": "siammask"}
    assert "seeded random weights (seed 7)" in capsys.readouterr().err
    track.open_runner_for(parse("--frames", "x", "--box", "1,2,3,4", "--out", "o", "--checkpoint", "c.pth"))
    assert str(seen["checkpoint"]) == "c.pth" and capsys.readouterr().err == ""
    track.open_runner_for(parse("--frames", "x", "--box", "1,2,3,4", "--out", "o"))
    assert seen["checkpoint"] == demo_weights()  # the shipped weights, when this build has them


def test_onnxruntime_provider_reaches_the_runner(monkeypatch):
    import masktrt.runtime.backends as backends

    seen = {}
    monkeypatch.setattr(backends, "open_runner", lambda name, **kw: seen.update(name=name, **kw) or "b")
    base = ("--frames", "x", "--box", "1,2,3,4", "--out", "o", "--backend", "onnxruntime", "--onnx", "g")
    track.open_runner_for(parse(*base, "--provider", "cuda"))
    assert seen == {"name": "onnxruntime", "onnx_dir": "g", "provider": "cuda"}
    track.open_runner_for(parse(*base))
    assert seen["provider"] == "auto"


def test_export_options_reach_the_torch_reference_only(monkeypatch):
    """--option sizes=... makes the reference run as graphs exported with it; graphs and
    engines carry their own options, so giving one there is a one-line error."""
    import masktrt.runtime.backends as backends

    seen = {}
    monkeypatch.setattr(backends, "open_runner", lambda name, **kw: seen.update(name=name, **kw) or "b")
    base = ("--frames", "x", "--box", "1,2,3,4", "--out", "o", "--tracker", "rts", "--option",
            "sizes=384x672/8/16")
    track.open_runner_for(parse(*base, "--random-weights"))
    assert seen["options"] == {"sizes": "384x672/8/16"} and seen["tracker"] == "rts"
    with pytest.raises(MasktrtError, match="--option is for --backend torch") as info:
        track.open_runner_for(parse(*base, "--backend", "onnxruntime", "--onnx", "g"))
    assert "masktrt export" in info.value.fix


def test_the_torch_reference_checks_its_options():
    pytest.importorskip("torch")
    from masktrt.export.torch_backend import load_reference

    with pytest.raises(MasktrtError, match="sizes="):
        load_reference(tracker="rts", options={"sizes": "384x672"})
    with pytest.raises(MasktrtError, match="no export option"):
        load_reference(tracker="rts", options={"size": "384x672/8/16"})


@pytest.mark.parametrize("box, message", [
    ("1,2,3", "is not x,y,w,h"), ("a,b,c,d", "is not x,y,w,h"),
    ("10,10,0,5", "zero or negative size"), ("400,10,5,5", "outside the 320x240 frame"),
])
def test_bad_box_is_a_one_line_error_before_any_backend(tmp_path, capsys, box, message):
    frames, _ = synthetic_sequence(2)
    src = write_frames(tmp_path / "in", frames)
    rc = main(["track", "--frames", str(src), f"--box={box}", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.startswith("error:") and message in err and "\n" not in err


def test_missing_folder_and_unreadable_first_frame_are_one_line_errors(tmp_path, capsys):
    rc = main(["track", "--frames", str(tmp_path / "nope"), "--box", "1,1,5,5", "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "does not exist" in err and "\n" not in err
    src = tmp_path / "bad"
    src.mkdir()
    (src / "0.jpg").write_bytes(b"garbage")
    rc = main(["track", "--frames", str(src), "--box", "1,1,5,5", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and err[-1].startswith("error: cannot read the first frame")


def test_first_frame_mask_is_read_and_checked(tmp_path) -> None:
    import cv2
    import numpy as np

    from masktrt.commands.track import TrackJob, first_mask

    frame = np.zeros((40, 60, 3), np.uint8)
    mask = np.zeros((40, 60), np.uint8)
    mask[10:20, 5:25] = 255
    cv2.imwrite(str(tmp_path / "m.png"), mask)
    job = TrackJob((5, 10, 20, 10), tmp_path / "out", init_mask=str(tmp_path / "m.png"))
    got = first_mask(job, frame)
    assert got.dtype == np.uint8 and got.sum() == 200 and set(np.unique(got)) == {0, 1}
    assert first_mask(TrackJob((5, 10, 20, 10), tmp_path / "out"), frame) is None
    with pytest.raises(MasktrtError, match="is 60x40, the first frame 30x40"):
        first_mask(job, frame[:, :30])
    cv2.imwrite(str(tmp_path / "empty.png"), np.zeros((40, 60), np.uint8))
    with pytest.raises(MasktrtError, match="is empty"):
        first_mask(TrackJob((5, 10, 20, 10), tmp_path, init_mask=str(tmp_path / "empty.png")), frame)


def test_frame_0_is_written_with_the_given_mask_else_the_filled_box() -> None:
    """StepWriter: frame 0 keeps the start mask a `--mask` run reports (issue 29 item 9)."""
    from types import SimpleNamespace

    from masktrt.commands.track import StepWriter

    written = []
    outputs = SimpleNamespace(write=lambda name, frame, result, mask, fps, skipped:
                              written.append(mask))
    given = np.zeros((20, 30), np.uint8)
    given[2:5, 3:9] = 1
    result = SimpleNamespace(mask=given, xywh=np.array([0.0, 0.0, 30.0, 20.0]))
    step = SimpleNamespace(number=0, index=0, frame=np.zeros((20, 30, 3), np.uint8),
                           result=result, skipped=False)
    StepWriter(outputs, str)(step, None)
    np.testing.assert_array_equal(written[-1], given)
    step.result = SimpleNamespace(mask=None, xywh=np.array([0.0, 0.0, 30.0, 20.0]))
    StepWriter(outputs, str)(step, None)
    assert written[-1].all()  # the filled box covers the whole 30x20 frame
