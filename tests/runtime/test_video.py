"""Frame sources and the annotated writer (runtime/video.py)."""
import cv2
import numpy as np
import pytest

from masktrt.errors import MasktrtError
from masktrt.runtime.video import Mp4Writer, annotate, open_source
from masktrt.types import FrameResult


def frames(n=4, hw=(48, 64)):
    return [np.full(hw + (3,), 20 * i, np.uint8) for i in range(n)]


def test_folder_source_is_lazy_names_frames_and_yields_none_for_bad_files(tmp_path):
    for i, f in enumerate(frames()):
        cv2.imwrite(str(tmp_path / f"img{i}.png"), f)
    (tmp_path / "img2.png").write_bytes(b"broken")
    warnings = []
    source = open_source(frames=tmp_path, warn=warnings.append)
    assert len(source) == 4 and source.frame_name(1) == "img1"
    items = list(source)
    assert [i for i, _ in items] == [0, 1, 2, 3] and items[2][1] is None
    assert items[3][1][0, 0, 0] == 60
    assert warnings == ["frame 2 ('img2.png') could not be decoded; skipping it"]


def test_video_source_reads_all_frames_and_names_by_index(tmp_path):
    path = tmp_path / "v.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 12, (64, 48))
    for f in frames(5):
        writer.write(f)
    writer.release()
    with open_source(video=path) as source:
        got = list(source)
        assert source.fps == 12 and source.frame_name(3) == "00003"
    assert len(got) == 5 and all(f is not None and f.shape == (48, 64, 3) for _, f in got)


@pytest.mark.parametrize("kwargs, message", [({}, "exactly one"),
                                             ({"frames": "a", "video": "b"}, "exactly one"),
                                             ({"video": "/nonexistent.mp4"}, "does not exist")])
def test_source_errors(kwargs, message):
    with pytest.raises(MasktrtError, match=message):
        open_source(**kwargs)


def result(lost):
    mask = np.zeros((48, 64), np.uint8)
    mask[10:20, 10:30] = 1
    poly = np.array([[10, 10], [29, 10], [29, 19], [10, 19]], np.float32)
    return FrameResult(np.zeros(2), np.ones(2), poly, 0.25 if lost else 0.9, lost, mask=mask)


def test_annotate_paints_mask_polygon_and_lost_tag_without_touching_the_input():
    f = np.zeros((48, 200, 3), np.uint8)
    r = result(True)
    r.mask = np.zeros((48, 200), np.uint8)
    r.mask[30:40, 100:120] = 1
    out = annotate(f, r, fps=12.0)
    assert f.max() == 0
    assert (out[35, 110] == [0, 0, 127]).all()  # half-transparent red mask
    assert out[10:20, 10:30, 1].max() == 255  # green polygon
    lost_region = out[5:30, 130:200]
    assert ((lost_region[..., 2] > 200) & (lost_region[..., 1] < 50)).any()  # red LOST text
    calm = annotate(f, result_on(f, lost=False))
    assert not ((calm[5:30, 130:200, 2] > 200) & (calm[5:30, 130:200, 1] < 50)).any()


def result_on(f, lost):
    r = result(lost)
    r.mask = None
    return r


def test_mp4_writer_writes_frames_and_rejects_a_size_change(tmp_path):
    path = tmp_path / "o.mp4"
    with Mp4Writer(path, 10) as writer:
        for f in frames(3):
            writer.write(f)
        with pytest.raises(MasktrtError, match="differs"):
            writer.write(np.zeros((10, 10, 3), np.uint8))
    cap = cv2.VideoCapture(str(path))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 3
    cap.release()
