"""A second tracker added by adding its folder: discovered, exported, run, checked.

tests/toy_trackers/toyblob/ is a tracker folder laid out as trackers/<name>/ (spec.py, tracker.py,
export/export_side.py). This test puts tests/toy_trackers/ on `masktrt.trackers`' path, lets
`registry.discover` find it (no `register` call, no shared file edited: adding a tracker touches
only its folder and its test), then drives masktrt's shared layers exactly as for SiamMask: the
exporter, the contract reader, ONNX Runtime, the sequence loop, closed-loop parity, the Python
API and `masktrt trackers`.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("torch")
from tests.helpers.fake_numpy_runners import synthetic_sequence  # noqa: E402

import masktrt  # noqa: E402
from masktrt import registry  # noqa: E402
from masktrt.benchmarks.metrics import box_iou  # noqa: E402
from masktrt.benchmarks.parity import closed_loop, run_trajectory  # noqa: E402
from masktrt.cli import main  # noqa: E402
from masktrt.errors import MasktrtError  # noqa: E402
from masktrt.runtime.backends import open_runner  # noqa: E402
from masktrt.runtime.sequences import load_sequence  # noqa: E402

TOY_FOLDERS = Path(__file__).resolve().parents[1] / "toy_trackers"


@pytest.fixture(scope="module")
def toy():
    """The toy folder found by discovery alone, as a folder in trackers/ would be."""
    import masktrt.trackers as trackers

    trackers.__path__.append(str(TOY_FOLDERS))
    try:
        assert registry.discover() == ("toyblob",)
        yield registry.get("toyblob")
    finally:
        registry.unregister("toyblob")
        trackers.__path__.remove(str(TOY_FOLDERS))


def test_the_folder_alone_makes_the_entry(toy) -> None:
    assert toy == registry.entry_of("masktrt.trackers", "toyblob", TOY_FOLDERS / "toyblob")
    assert toy.folder() == TOY_FOLDERS / "toyblob" and toy.train == ""  # no training/ folder
    assert registry.spec("toyblob").name == "toyblob"


def test_the_toy_folder_imports_no_test_code_and_no_other_tracker() -> None:
    """What makes it a drop-in folder: it needs masktrt's shared layers only."""
    import re

    for path in (TOY_FOLDERS / "toyblob").rglob("*.py"):
        imports = re.findall(r"^\s*(?:from|import) ([\w.]+)", path.read_text(), re.M)
        foreign = [m for m in imports if m.startswith(("tests", "masktrt.trackers."))]
        assert not foreign, (path, foreign)


@pytest.fixture(scope="module")
def exported(toy, tmp_path_factory):
    from masktrt.export.onnx_export import ExportOptions, export_onnx

    folder = tmp_path_factory.mktemp("toy")
    model, source = toy.load_export().load_model(None, seed=0)
    contract = export_onnx(model, folder / "onnx", source, ExportOptions(tracker="toyblob"))
    return model, contract, write_sequence(folder / "seq")


def write_sequence(root: Path):
    frames, boxes = synthetic_sequence(12, size=(24, 24), step=(5.0, 3.0))
    (root / "frames").mkdir(parents=True)
    for i, frame in enumerate(frames):
        cv2.imwrite(str(root / "frames" / f"{i:05d}.png"), frame)
    rows = [f"{x + 1},{y + 1},{w},{h}" for x, y, w, h in boxes]  # OTB style: 1-based
    (root / "groundtruth.txt").write_text("\n".join(rows) + "\n")
    return load_sequence(root)


def test_export_writes_the_toy_contract(exported) -> None:
    _, contract, _ = exported
    assert contract.tracker == "toyblob" and contract.graph_names == ("embed", "locate")
    assert contract.graph("locate").input_names == ("window", "code")
    assert contract.graph("embed").runs == "target" and contract.preset.name == "default"


def test_sequence_loop_and_closed_loop_parity(exported) -> None:
    from masktrt.export.torch_backend import TorchRunner

    model, contract, seq = exported
    with TorchRunner(model, tracker="toyblob") as torch_runner:
        reference = run_trajectory(torch_runner, seq, contract.preset, tracker="toyblob")
    assert len(reference) == len(seq)
    overlap = [box_iou(r.xywh, seq.boxes[i]) for i, r in enumerate(reference) if i > 0]
    assert min(overlap) > 0.5, overlap  # the toy really tracks the moving box
    with open_runner("onnxruntime", onnx_dir=contract.root) as runner:
        row = closed_loop(reference, runner, runner.name, seq, contract.preset, tracker="toyblob")
    assert [b.name for b, _, _ in row.checks()] == ["toy-loop-box-mean", "toy-loop-box-min"]
    assert row.passed and row.summary("box_iou")[1] > 0.99


def test_python_api_opens_the_toy_export(exported) -> None:
    _, contract, seq = exported
    with masktrt.open_tracker(contract.root) as tracker:
        assert type(tracker.core).__name__ == "ToyTracker"
        tracker.init(seq.frame(0), tuple(seq.init_box()))
        result = tracker.track(seq.frame(1))
    assert box_iou(result.box, seq.boxes[1]) > 0.5 and not result.lost
    assert np.isfinite(result.score)


def test_trackers_command_lists_it(toy, capsys) -> None:
    assert main(["trackers"]) == 0
    out = capsys.readouterr().out
    assert "toyblob" in out and "siammask" in out and "locate" in out


def test_grouped_graph_opens_on_first_use(exported, monkeypatch) -> None:
    """A graph of a group of alternatives (OceanPlus's track_255/track_287) gets its ONNX Runtime
    session when first run, so a sequence that needs one never holds the other."""
    _, contract, seq = exported
    toy = registry.get("toyblob")
    grouped = registry.TrackerEntry("toyblob", spec="masktrt.trackers.toyblob.spec:GROUPED_SPEC",
                                    runtime=toy.runtime, export=toy.export)
    monkeypatch.setitem(registry._REGISTRY, "toyblob", grouped)
    with open_runner("onnxruntime", onnx_dir=contract.root, provider="cpu") as runner:
        assert set(runner.sessions) == {"embed"}
        tracker = registry.get("toyblob").load_runtime()(runner, registry.spec("toyblob").preset())
        state = tracker.init(seq.frame(0), tuple(seq.init_box()))
        tracker.track(seq.frame(1), state)
        assert set(runner.sessions) == {"embed", "locate"}
    with pytest.raises(MasktrtError, match="closed"):
        runner.session("locate")
