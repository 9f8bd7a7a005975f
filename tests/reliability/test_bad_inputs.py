"""Bad input, as a new user gives it, through the real CLI in a subprocess (issue 19).

For every case: exit code 2, exactly one line on stderr and it starts with 'error:', no
traceback, and outputs written before the failure intact. One small export (width 0.125) is
shared by all cases; each case is one process start (~1-2 s), so cheap cases are grouped.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from masktrt.soak import synthetic_frames, target_box

pytest.importorskip("onnxruntime")
ROOT = Path(__file__).resolve().parents[2]
BOX = ",".join(str(v) for v in target_box(0))
UNWRITABLE = "/sys/masktrt-cannot-write-here"  # sysfs refuses new entries, even to root


def cli(*args, cwd=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENCV_LOG_LEVEL": "ERROR"}
    return subprocess.run([sys.executable, "-m", "masktrt.cli", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=300, env=env)


def assert_one_line_error(done: subprocess.CompletedProcess, *words: str) -> str:
    lines = [l for l in done.stderr.splitlines() if l.strip()]
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert len(lines) == 1 and lines[0].startswith("error:"), done.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


@pytest.fixture(scope="module")
def onnx_dir(tmp_path_factory) -> Path:
    from tests.helpers.export_helpers import export_small, small_model

    folder = tmp_path_factory.mktemp("onnx")
    export_small(small_model(), folder)
    return folder


@pytest.fixture(scope="module")
def frames_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("frames")
    for i, frame in enumerate(synthetic_frames(6)):
        cv2.imwrite(str(folder / f"{i:05d}.png"), frame)
    return folder


def damaged_copy(src: Path, dst: Path, edit) -> Path:
    shutil.copytree(src, dst)
    edit(dst)
    return dst


def edit_deploy(change):
    def edit(folder: Path) -> None:
        doc = json.loads((folder / "deploy.json").read_text())
        change(doc)
        (folder / "deploy.json").write_text(json.dumps(doc))
    return edit


def drop_hashes(doc):
    for graph in doc["graphs"].values():
        graph["sha256"] = ""


def garbage(name, data, hashes=True):
    def edit(folder: Path) -> None:
        (folder / name).write_bytes(data)
        if not hashes:
            edit_deploy(drop_hashes)(folder)
    return edit


def swap(hashes=True):
    def edit(folder: Path) -> None:
        a, b = folder / "template.onnx", folder / "search.onnx"
        a_bytes = a.read_bytes()
        a.write_bytes(b.read_bytes())
        b.write_bytes(a_bytes)
        if not hashes:
            edit_deploy(drop_hashes)(folder)
    return edit


def raw_deploy(change):
    """Edit deploy.json's text itself (what json.dumps cannot write: a key given twice)."""
    def edit(folder: Path) -> None:
        path = folder / "deploy.json"
        path.write_text(change(path.read_text()))
    return edit


def link_out(name: str):
    """Replace a graph by a symlink to a file outside the folder (same bytes: the hash fits)."""
    def edit(folder: Path) -> None:
        outside = folder.parent / f"outside-{name}"
        outside.write_bytes((folder / name).read_bytes())
        (folder / name).unlink()
        (folder / name).symlink_to(outside)
    return edit


def graph_file(name: str):
    return edit_deploy(lambda d: d["graphs"]["search"].update(file=name))


def declared_shape(graph: str, output: str, shape: list[int]):
    def change(doc):
        for tensor in doc["graphs"][graph]["outputs"]:
            if tensor["name"] == output:
                tensor["shape"] = shape
    return edit_deploy(change)


GRAPH_CASES = {  # name -> (edit of a copy of the export, words the error must contain)
    "garbage-onnx": (garbage("search.onnx", os.urandom(4096)), ["sha256 differs"]),
    "empty-onnx": (garbage("search.onnx", b""), ["sha256 differs"]),
    "swapped-onnx": (swap(), ["sha256 differs"]),
    "garbage-onnx-no-hash": (garbage("search.onnx", os.urandom(4096), False), ["no sha256"]),
    "empty-onnx-no-hash": (garbage("search.onnx", b"", False), ["no sha256"]),
    "swapped-onnx-no-hash": (swap(False), ["no sha256"]),
    "graph-absolute-path": (graph_file("/etc/hostname"), ["outside the contract's folder"]),
    "graph-dotdot-path": (graph_file("../onnx/search.onnx"), ["outside the contract's folder"]),
    "graph-empty-name": (graph_file(""), ["file must be a file name"]),
    "graph-symlink-out": (link_out("search.onnx"), ["link out of the contract's folder"]),
    "deploy-key-twice": (raw_deploy(lambda t: '{"precision": "fp16", ' + t.lstrip()[1:]),
                         ["'precision' is given twice"]),
    "deploy-nested-deep": (garbage("deploy.json", b"[" * 200_000 + b"]" * 200_000), ["JSON"]),
    "deploy-shape-not-the-graphs": (declared_shape("search", "cls", [1, 10, 26, 26]),
                                    ["does not match deploy.json", "'cls'"]),
    "deploy-not-json": (garbage("deploy.json", b"{not json"), ["JSON"]),
    "deploy-non-numeric": (edit_deploy(lambda d: d["preset"].update(penalty_k="abc")), ["penalty_k"]),
    "deploy-nan": (edit_deploy(lambda d: d["preset"].update(lr=float("nan"))), ["lr"]),
    "deploy-missing-key": (edit_deploy(lambda d: d.pop("graphs")), ["lacks graphs"]),
}


@pytest.mark.parametrize("case", sorted(GRAPH_CASES))
def test_damaged_export_folders_track(case, onnx_dir, frames_dir, tmp_path):
    edit, words = GRAPH_CASES[case]
    folder = damaged_copy(onnx_dir, tmp_path / "onnx", edit)
    done = cli("track", "--backend", "onnxruntime", "--onnx", folder, "--frames", frames_dir,
               "--box", BOX, "--out", tmp_path / "out")
    assert_one_line_error(done, *words)


@pytest.mark.parametrize("case", ["garbage-onnx", "empty-onnx-no-hash", "swapped-onnx-no-hash",
                                  "graph-dotdot-path", "deploy-key-twice"])
def test_damaged_export_folders_parity(case, onnx_dir, tmp_path):
    edit, _ = GRAPH_CASES[case]
    folder = damaged_copy(onnx_dir, tmp_path / "onnx", edit)
    assert_one_line_error(cli("parity", "--level", "tensor", "--onnx", folder))


def test_track_argument_mistakes(onnx_dir, frames_dir, tmp_path):
    run = ["track", "--backend", "onnxruntime", "--onnx", onnx_dir, "--frames", frames_dir]
    out = ["--out", tmp_path / "o"]
    assert_one_line_error(cli(*run, "--box", BOX, *out, "--checkpoint", "x.pth"), "--checkpoint")
    assert_one_line_error(cli(*run, "--box", BOX, *out, "--random-weights"), "--random-weights")
    assert_one_line_error(cli(*run, "--box", "1,2,3", *out), "x,y,w,h")
    assert_one_line_error(cli(*run, "--box", "-500,-500,40,30", *out), "outside")
    assert_one_line_error(cli(*run, *out), "required")  # no --box: argparse, still one line
    assert_one_line_error(cli(*run, "--box", BOX, "--out", UNWRITABLE))


def test_build_argument_mistakes(onnx_dir):
    assert_one_line_error(cli("build", "--onnx", onnx_dir, "--compute-capability", "abc"), "abc")
    assert_one_line_error(cli("build", "--onnx", onnx_dir, "--workspace", "-5"), "-5")
    assert_one_line_error(cli("build", "--onnx", onnx_dir, "--out", UNWRITABLE))


@pytest.mark.parametrize("content", [b"{oops", b'{"schema": "masktrt.engine/2"}',
                                     b'{"schema": "masktrt.engine/2", "name": "template", '
                                     b'"tensorrt": {"module": 1}, "graphs": ["template"], '
                                     b'"engine_sha256": "0"}'])
def test_broken_engine_metadata(content, frames_dir, tmp_path):
    engines = tmp_path / "engines"
    engines.mkdir()
    (engines / "template.engine").write_bytes(b"not an engine")
    (engines / "template.json").write_bytes(content)
    done = cli("track", "--backend", "tensorrt", "--engines", engines, "--frames", frames_dir,
               "--box", BOX, "--out", tmp_path / "out")
    assert_one_line_error(done, "template.json")


def test_reused_out_folder_is_refused_then_overwritten(onnx_dir, frames_dir, tmp_path):
    out = tmp_path / "out"
    run = ["track", "--backend", "onnxruntime", "--onnx", onnx_dir, "--frames", frames_dir,
           "--box", BOX, "--no-video", "--out", out]
    assert cli(*run).returncode == 0
    (out / "notes.txt").write_text("mine")
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert_one_line_error(cli(*run), "--overwrite")
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before  # intact
    (out / "masks" / "stale.png").write_bytes(b"old")
    done = cli(*run, "--overwrite")
    assert done.returncode == 0, done.stderr
    assert not (out / "masks" / "stale.png").exists() and (out / "notes.txt").read_text() == "mine"


def test_negative_box_is_accepted_without_equals(onnx_dir, frames_dir, tmp_path):
    done = cli("track", "--backend", "onnxruntime", "--onnx", onnx_dir, "--frames", frames_dir,
               "--box", "-5,-5,60,60", "--no-video", "--out", tmp_path / "o")
    assert done.returncode == 0, done.stderr
    assert len((tmp_path / "o" / "boxes.txt").read_text().splitlines()) == 6


def test_eval_to_an_unwritable_folder_keeps_the_predictions(onnx_dir, frames_dir, tmp_path):
    seq, pred = tmp_path / "seq", tmp_path / "pred"
    shutil.copytree(frames_dir, seq / "frames")
    (seq / "groundtruth.txt").write_text("".join(
        ",".join(map(str, target_box(i))) + "\n" for i in range(6)))
    assert cli("track", "--backend", "onnxruntime", "--onnx", onnx_dir, "--frames", frames_dir,
               "--box", BOX, "--no-video", "--out", pred).returncode == 0
    before = (pred / "boxes.txt").read_bytes()
    assert_one_line_error(cli("eval", "--sequence", seq, "--pred", pred, "--out", UNWRITABLE))
    assert (pred / "boxes.txt").read_bytes() == before
    (seq / "groundtruth.txt").write_bytes(b"\x00\xff\xfe garbage")
    assert_one_line_error(cli("eval", "--sequence", seq, "--pred", pred), "groundtruth.txt")


def test_checkpoint_mistakes(tmp_path):
    torch = pytest.importorskip("torch")
    from tests.helpers.export_helpers import small_model

    good = tmp_path / "good.pth"
    torch.save(small_model().state_dict(), good)
    data = bytearray(good.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 4096] = bytes(b ^ 0xFF for b in data[middle:middle + 4096])
    (tmp_path / "flipped.pth").write_bytes(bytes(data))

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo owned",))

    torch.save({"w": Evil()}, tmp_path / "evil.pth")
    export = ["export", "--out", tmp_path / "x", "--checkpoint"]
    assert_one_line_error(cli(*export, tmp_path / "flipped.pth"), "corrupt")
    line = assert_one_line_error(cli(*export, tmp_path / "evil.pth"), "Python object")
    assert "corrupt" not in line


@pytest.mark.slow
def test_decode_gap_in_a_video_is_skipped_and_marked(onnx_dir, tmp_path):
    """Frames 20-24 of an MJPG video cannot be decoded: they are marked skipped, the 35 frames
    after them are tracked, and the run exits 0 with one warning line per lost frame."""
    video = tmp_path / "gap.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (320, 240))
    for frame in synthetic_frames(60):
        writer.write(frame)
    writer.release()
    data = bytearray(video.read_bytes())
    starts = [i for i in range(len(data) - 2) if data[i:i + 3] == b"\xff\xd8\xff"]
    for k in range(20, 25):
        data[starts[k]:starts[k] + 2000] = bytes(2000)
    video.write_bytes(bytes(data))
    out = tmp_path / "out"
    done = cli("track", "--backend", "onnxruntime", "--onnx", onnx_dir, "--video", video,
               "--box", BOX, "--no-video", "--out", out)
    assert done.returncode == 0, done.stderr
    flags = np.loadtxt(out / "scores.txt", delimiter=",")
    assert flags.shape == (60, 4)
    assert list(np.flatnonzero(flags[:, 2])) == [20, 21, 22, 23, 24]
    assert "tracked 60 frames" in done.stdout and "5 skipped" in done.stdout
    assert "Traceback" not in done.stderr


def test_a_command_that_needs_torch_says_so_on_an_edge_install(monkeypatch, capsys) -> None:
    """Without the export extra, export/bench/calibrate/train end in one line naming it."""
    import builtins

    from masktrt.cli import main

    real_import = builtins.__import__

    def no_torch(name, *args, **kwargs):
        if name.split(".")[0] == "torch":
            raise ModuleNotFoundError(f"No module named '{name}'", name="torch")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_torch)
    assert main(["export", "--out", "unused-out"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'torch' is not installed" in err[0] and "masktrt[export]" in err[0]


@pytest.fixture(scope="module")
def long_frames_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("long")
    frames = list(synthetic_frames(12))
    for i in range(400):
        cv2.imwrite(str(folder / f"{i:05d}.jpg"), frames[i % len(frames)])
    return folder


def count_lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.is_file() else 0


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_ends_a_run_like_ctrl_c(signum, onnx_dir, long_frames_dir, tmp_path):
    """SIGTERM and SIGHUP end `track` as Ctrl-C does (issue 29.5): exit 128 + signal, one line,
    the per-frame files aligned, the MP4 finalised and readable."""
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENCV_LOG_LEVEL": "ERROR"}
    # SIGINT at its default disposition in the child, as in a terminal: a job a non-interactive
    # shell started in the background inherits SIGINT ignored (so Ctrl-C spares it), and Python
    # then keeps it ignored; masktrt respects that, the test must not depend on how it was run
    proc = subprocess.Popen([sys.executable, "-m", "masktrt.cli", "track", "--backend", "onnxruntime",
                             "--onnx", str(onnx_dir), "--frames", str(long_frames_dir), "--box", BOX,
                             "--out", str(out)], stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while count_lines(out / "boxes.txt") < 3 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=60)
    lines = [l for l in stderr.splitlines() if l.strip()]
    assert proc.returncode == 128 + signum, (proc.returncode, stderr)
    assert len(lines) == 1 and lines[0].startswith("interrupted") and "Traceback" not in stderr, stderr
    written = count_lines(out / "boxes.txt")
    assert 3 <= written < 400
    assert count_lines(out / "scores.txt") == count_lines(out / "polygons.txt") == written
    cap = cv2.VideoCapture(str(out / "track.mp4"))
    assert cap.isOpened() and int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) >= written - 1
    cap.release()


def test_a_second_run_on_a_busy_folder_is_refused(onnx_dir, long_frames_dir, tmp_path):
    """Two `track` processes race for one --out: the second ends with one line, even with
    --overwrite, and the first one's outputs stay whole."""
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENCV_LOG_LEVEL": "ERROR"}
    run = [sys.executable, "-m", "masktrt.cli", "track", "--backend", "onnxruntime", "--onnx",
           str(onnx_dir), "--frames", str(long_frames_dir), "--box", BOX, "--out", str(out)]
    first = subprocess.Popen(run, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 120
    while count_lines(out / "boxes.txt") < 2 and time.monotonic() < deadline and first.poll() is None:
        time.sleep(0.1)
    second = cli(*run[3:], "--overwrite")
    assert_one_line_error(second, "another masktrt run is writing")
    first.send_signal(signal.SIGTERM)
    first.communicate(timeout=60)
    written = count_lines(out / "boxes.txt")
    assert written >= 2 and count_lines(out / "scores.txt") == written


def test_a_tracker_that_contradicts_the_contract_is_refused(onnx_dir, frames_dir, tmp_path):
    """--tracker rts on SiamMask graphs is one line (issue 28.4), never silently replaced; the
    contract's own name, or no --tracker, is accepted."""
    run = ["track", "--backend", "onnxruntime", "--onnx", onnx_dir, "--frames", frames_dir,
           "--box", BOX]
    assert_one_line_error(cli(*run, "--tracker", "rts", "--out", tmp_path / "a"),
                          "--tracker rts", "siammask")
    assert_one_line_error(cli("parity", "--level", "frame", "--onnx", onnx_dir, "--tracker",
                              "oceanplus"), "--tracker oceanplus", "siammask")
    done = cli(*run, "--tracker", "siammask", "--out", tmp_path / "b", "--max-frames", "2")
    assert done.returncode == 0, done.stderr
