"""Writes that survive interruption: atomic whole-file writes, per-frame files cut back to the
last whole frame on a full disk, one-line errors for full or read-only disks, the MP4 codec."""
import errno
from types import SimpleNamespace

import numpy as np
import pytest

from masktrt import files
from masktrt.errors import MasktrtError
from masktrt.runtime import outputs, video
from masktrt.runtime.mask import box_polygon


def result(i):
    c, s = np.array([50.0 + i, 40.0]), np.array([20.0, 10.0])
    return SimpleNamespace(polygon=box_polygon((c[0], c[1], s[0], s[1])), score=0.9, lost=False,
                           invalid=None, mask=None, xywh=np.array([c[0] - 10, 35, 20, 10]))


def test_atomic_write_keeps_the_old_file_when_the_disk_fills(tmp_path, monkeypatch):
    path = files.write_json(tmp_path / "r.json", {"a": 1})
    real_replace = files.os.replace

    def full(*_):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "replace", full)
    with pytest.raises(MasktrtError, match="disk is full"):
        files.write_json(path, {"a": 2})
    monkeypatch.setattr(files.os, "replace", real_replace)
    assert path.read_text() == '{\n  "a": 1\n}\n' and [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_disk_full_mid_run_leaves_whole_aligned_lines(tmp_path):
    frame = np.zeros((100, 120, 3), np.uint8)
    out = outputs.SequenceOutputs(tmp_path, 10.0, write_video=False)
    for i in range(3):
        out.write(f"{i:05d}", frame, result(i), None, None, False)
    real = out.files[outputs.SCORES_FILE]

    class FullDisk:  # takes half the line, then the disk is full
        def __init__(self):
            self.calls = 0

        def write(self, data):
            self.calls += 1
            if self.calls == 1:
                return real.write(bytes(data)[:5])
            raise OSError(errno.ENOSPC, "No space left on device")

        def truncate(self, size):
            real.truncate(size)

        def close(self):
            real.close()

    out.files[outputs.SCORES_FILE] = FullDisk()
    with pytest.raises(MasktrtError, match="disk is full"):
        out.write("00003", frame, result(3), None, None, False)
    out.close()
    counts = [len((tmp_path / name).read_text().splitlines()) for name in outputs.TEXT_FILES]
    assert counts == [3, 3, 3]
    assert all(t.endswith("\n") for t in ((tmp_path / n).read_text() for n in outputs.TEXT_FILES))


def test_nonfinite_results_never_reach_the_files(tmp_path):
    bad = result(0)
    bad.score = float("nan")
    with outputs.SequenceOutputs(tmp_path, 10.0, write_video=False) as out:
        with pytest.raises(ValueError):
            out.write("0", np.zeros((10, 10, 3), np.uint8), bad, None, None, False)
    assert (tmp_path / outputs.SCORES_FILE).read_text() == ""


def test_read_only_folder_is_one_line(tmp_path, monkeypatch):
    def read_only(*_, **__):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(outputs.Path, "mkdir", read_only)
    with pytest.raises(MasktrtError, match="read-only") as err:
        outputs.SequenceOutputs(tmp_path / "new", 10.0)
    assert "\n" not in str(err.value)


def test_mp4_falls_back_to_mp4v_and_says_so(tmp_path, monkeypatch):
    frame = np.zeros((48, 64, 3), np.uint8)
    monkeypatch.setattr(video, "CODECS", ("zzzz", "mp4v"))
    with video.Mp4Writer(tmp_path / "a.mp4") as writer:
        writer.write(frame)
    assert writer.codec == "mp4v"
    with video.Mp4Writer(tmp_path / "b.mp4") as writer:  # the real list: avc1 where available
        writer.write(frame)
    assert writer.codec in video.CODECS


def test_mp4_is_finalised_when_the_run_is_interrupted(tmp_path):
    import cv2

    with pytest.raises(KeyboardInterrupt):
        with video.Mp4Writer(tmp_path / "i.mp4", 10) as writer:
            for _ in range(5):
                writer.write(np.full((48, 64, 3), 90, np.uint8))
            raise KeyboardInterrupt
    cap = cv2.VideoCapture(str(tmp_path / "i.mp4"))
    assert cap.isOpened() and int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 5
    cap.release()


def test_two_runs_on_one_folder_cannot_both_write(tmp_path):
    """The second run ends with one line and the first one's files stay (issue 29.5)."""
    with outputs.SequenceOutputs(tmp_path / "out", 10, write_video=False) as first:
        first.write("00000", np.zeros((48, 64, 3), np.uint8), result(0), None, None, False)
        with pytest.raises(MasktrtError, match="another masktrt run is writing"):
            outputs.SequenceOutputs(tmp_path / "out", 10, write_video=False, overwrite=True)
        first.write("00001", np.zeros((48, 64, 3), np.uint8), result(1), None, None, False)
    assert len((tmp_path / "out" / "boxes.txt").read_text().splitlines()) == 2
    assert not (tmp_path / "out" / ".masktrt.lock").exists()  # the lock goes with the run
    with outputs.SequenceOutputs(tmp_path / "out", 10, write_video=False, overwrite=True):
        pass  # free again once the first run closed


def test_a_link_planted_in_the_output_folder_is_never_written_through(tmp_path):
    victim = tmp_path / "victim.txt"
    out = tmp_path / "out"
    out.mkdir()
    (out / "boxes.txt").symlink_to(victim)  # dangling: exists() is False, lexists() True
    with pytest.raises(MasktrtError, match="already holds the outputs"):
        outputs.SequenceOutputs(out, 10, write_video=False)
    with outputs.SequenceOutputs(out, 10, write_video=False, overwrite=True) as run:
        run.write("00000", np.zeros((48, 64, 3), np.uint8), result(0), None, None, False)
    assert not victim.exists() and not (out / "boxes.txt").is_symlink()
    (out / "scores.txt").unlink()
    (out / "scores.txt").symlink_to(victim)
    with pytest.raises(MasktrtError, match="symbolic link"):
        outputs.create_file(out / "scores.txt")
    assert not victim.exists()
