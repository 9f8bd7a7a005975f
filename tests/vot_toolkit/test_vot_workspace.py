"""`masktrt vot-workspace`: config.yaml, trackers.ini and sequences as the VOT toolkit 0.9 reads
them (checked with the toolkit's own loaders where it is installed)."""
from __future__ import annotations

import configparser
import shlex
import sys
from pathlib import Path

import pytest
from tests.helpers.vot_helpers import FRAMES, SIZE

from masktrt.cli import build_parser, main
from masktrt.errors import MasktrtError
from masktrt.runtime.sequences import load_sequence
from masktrt.runtime.vot_workspace import TrackerEntry, trackers_text, write_workspace


def write(out: Path, *sequences: Path, extra: tuple[str, ...] = ()) -> int:
    argv = ["vot-workspace", "--sequences", *map(str, sequences), "--out", str(out), *extra]
    try:
        return main(argv)
    except SystemExit as exc:  # a usage error (e.g. --max-frames 0) ends in argparse's exit(2)
        return int(exc.code)


def tracker_section(ws: Path, name: str = "masktrt_siammask") -> configparser.SectionProxy:
    config = configparser.ConfigParser()
    config.read(ws / "trackers.ini")
    return config[name]


def test_workspace_files_and_layout(tmp_path, davis_sequence, vot_sequence, otb_sequence, capsys):
    ws = tmp_path / "ws"
    assert write(ws, davis_sequence, vot_sequence, otb_sequence) == 0
    names = (ws / "sequences" / "list.txt").read_text().split()
    assert names == ["davis-toy", "vot-toy", "otb-toy"]
    assert "stack: davis2017val" in (ws / "config.yaml").read_text()
    assert "- ./trackers.ini" in (ws / "config.yaml").read_text()
    frames = sorted((ws / "sequences" / "vot-toy" / "color").iterdir())
    assert [f.name for f in frames] == [f"{i:08d}.png" for i in range(1, FRAMES + 1)]
    assert frames[0].is_symlink() and frames[0].resolve() == (vot_sequence / "frames" / "00000.png")
    assert "vot evaluate --workspace" in capsys.readouterr().out


def test_sequence_file_names_the_channel_and_size(tmp_path, vot_sequence):
    write(tmp_path / "ws", vot_sequence)
    props = dict(line.split("=", 1) for line in
                 (tmp_path / "ws/sequences/vot-toy/sequence").read_text().splitlines())
    assert props["channels.color"] == "color/%08d.png"
    assert (props["length"], props["height"], props["width"]) == (str(FRAMES), *map(str, SIZE))


def test_groundtruth_keeps_each_benchmarks_region_type(tmp_path, davis_sequence, vot_sequence,
                                                       otb_sequence):
    write(tmp_path / "ws", davis_sequence, vot_sequence, otb_sequence)
    gt = {name: (tmp_path / f"ws/sequences/{name}/groundtruth.txt").read_text().splitlines()
          for name in ("davis-toy", "vot-toy", "otb-toy")}
    assert gt["davis-toy"][0].startswith("m8,10,16,12,0,192")  # a full 16x12 box: one run of ones
    assert gt["vot-toy"][0] == "8,10,24,10,24,22,8,22"
    assert gt["otb-toy"][1] == "11,10,16,12"  # made 0-based
    assert all(len(lines) == FRAMES for lines in gt.values())


def test_trackers_ini_starts_masktrt_vot_with_the_options_given(tmp_path, vot_sequence):
    onnx = Path("rel/onnx")
    write(tmp_path / "ws", vot_sequence, extra=("--backend", "onnxruntime", "--onnx", str(onnx),
                                                "--region", "polygon", "--name", "ours"))
    section = tracker_section(tmp_path / "ws", "ours")
    words = shlex.split(section["command"])
    assert words[:4] == [sys.executable, "-m", "masktrt.cli", "vot"]
    assert words[words.index("--onnx") + 1] == str(onnx.resolve())
    assert words[words.index("--region") + 1] == "polygon"
    assert (section["protocol"], int(section["timeout"])) == ("trax", 300)
    parsed = build_parser().parse_args(words[3:])
    assert (parsed.backend, parsed.onnx) == ("onnxruntime", str(onnx.resolve()))


def test_percent_signs_survive_configparser(tmp_path):
    (tmp_path / "trackers.ini").write_text(trackers_text(TrackerEntry("t", "t", "run --x 50%")))
    assert tracker_section(tmp_path, "t")["command"] == "run --x 50%"


def test_max_frames_cuts_frames_and_groundtruth(tmp_path, davis_sequence):
    write(tmp_path / "ws", davis_sequence, extra=("--max-frames", "3"))
    root = tmp_path / "ws/sequences/davis-toy"
    assert len(list((root / "color").iterdir())) == 3
    assert len((root / "groundtruth.txt").read_text().splitlines()) == 3
    assert "length=3" in (root / "sequence").read_text()


def test_copy_writes_real_files(tmp_path, vot_sequence):
    write(tmp_path / "ws", vot_sequence, extra=("--copy",))
    first = tmp_path / "ws/sequences/vot-toy/color/00000001.png"
    assert first.is_file() and not first.is_symlink()


def test_a_non_empty_folder_is_refused_unless_overwrite(tmp_path, vot_sequence, capsys):
    ws = tmp_path / "ws"
    write(ws, vot_sequence)
    (ws / "results").mkdir()
    (ws / "notes.txt").write_text("mine")
    assert write(ws, vot_sequence) == 2
    assert "is not empty" in capsys.readouterr().err
    assert write(ws, vot_sequence, extra=("--overwrite",)) == 0
    assert not (ws / "results").exists() and (ws / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("extra, message", [
    (("--backend", "onnxruntime"), "needs the exported graphs"),
    (("--name", "bad name"), "not a toolkit tracker identifier"),
    (("--max-frames", "0"), "is not a whole number >= 1"),
])
def test_bad_options_are_one_line_errors(tmp_path, vot_sequence, capsys, extra, message):
    assert write(tmp_path / "ws", vot_sequence, extra=extra) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "ws").exists()


def test_sequences_need_ground_truth_and_distinct_names(tmp_path, vot_sequence):
    entry = TrackerEntry("t", "t", "cmd")
    plain = load_sequence(vot_sequence / "frames")  # a folder of images: no ground truth
    with pytest.raises(MasktrtError, match="no ground truth"):
        write_workspace(tmp_path / "a", [plain], entry, "davis2017val")
    seq = load_sequence(vot_sequence)
    with pytest.raises(MasktrtError, match="two sequences are called 'vot-toy'"):
        write_workspace(tmp_path / "b", [seq, seq], entry, "davis2017val")


def test_the_toolkit_loads_the_workspace(tmp_path, davis_sequence, vot_sequence, otb_sequence):
    pytest.importorskip("vot")
    from vot.workspace import Workspace

    ws = tmp_path / "ws"
    write(ws, davis_sequence, vot_sequence, otb_sequence)
    workspace = Workspace.load(str(ws))  # offline: list.txt present, nothing is downloaded
    assert [s.name for s in workspace.dataset] == ["davis-toy", "vot-toy", "otb-toy"]
    assert "masktrt_siammask" in workspace.registry
    assert workspace.stack.experiments["baseline"].__class__.__name__ == "UnsupervisedExperiment"
    davis = workspace.dataset["davis-toy"]
    assert len(davis) == FRAMES and davis.frame(0).image().shape == (*SIZE, 3)
    assert davis.groundtruth(0).rasterize((0, 0, SIZE[1] - 1, SIZE[0] - 1)).sum() == 16 * 12
