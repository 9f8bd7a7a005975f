"""`masktrt deploy`: stages, reuse, the recommendation open_tracker follows, and the report."""
from __future__ import annotations

import json

import pytest

from masktrt.benchmarks import recommendation
from masktrt.errors import MasktrtError


def candidate(precision: str, ms: float, passed: bool = True) -> dict:
    return {"backend": "onnxruntime", "precision": precision, "folder": f"onnx-{precision}",
            "passed": passed, "ms_median": ms}


def test_the_fastest_passing_configuration_is_recommended() -> None:
    chosen = recommendation.choose([candidate("fp32", 50.0), candidate("fp16", 30.0),
                                    candidate("int8", 20.0, passed=False)])
    assert (chosen.precision, chosen.folder) == ("fp16", "onnx-fp16")
    assert "30.0 ms" in chosen.why and "fp32 50.0 ms" in chosen.why


def test_within_timing_noise_the_higher_precision_wins() -> None:
    assert recommendation.choose([candidate("fp16", 46.4), candidate("fp32", 47.2)]).precision == "fp32"


def test_nothing_passing_recommends_nothing() -> None:
    assert recommendation.choose([candidate("fp32", 50.0, passed=False)]) is None


def test_a_damaged_or_escaping_recommendation_is_refused(tmp_path) -> None:
    (tmp_path / recommendation.RECOMMENDED).write_text("{not json")
    with pytest.raises(MasktrtError, match="not a masktrt recommendation"):
        recommendation.read(tmp_path)
    escaping = {"backend": "onnxruntime", "precision": "fp32", "folder": "../elsewhere",
                "ms_median": 1.0, "why": ""}
    (tmp_path / recommendation.RECOMMENDED).write_text(json.dumps(escaping))
    with pytest.raises(MasktrtError, match="outside its folder"):
        recommendation.read(tmp_path)


def test_open_tracker_follows_a_deployment_folder_and_refuses_a_contradiction(tmp_path) -> None:
    from masktrt.api import recommended

    assert recommended(tmp_path, None) == (tmp_path, "onnxruntime")  # not a deployment folder
    recommendation.write(tmp_path, recommendation.choose([candidate("fp16", 30.0)]))
    assert recommended(tmp_path, None) == (tmp_path / "onnx-fp16", "onnxruntime")
    with pytest.raises(MasktrtError, match="recommends onnxruntime fp16, not tensorrt"):
        recommended(tmp_path, "tensorrt")


def test_deploy_writes_graphs_verdicts_a_recommendation_and_a_report_and_reuses_them(
        tmp_path, monkeypatch, capsys) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    import masktrt
    from masktrt.cli import main
    from masktrt.training.synthetic import demo_sequence_dir

    monkeypatch.setenv("MASKTRT_CACHE", str(tmp_path / "cache"))
    sequence = demo_sequence_dir(seed=1, num_frames=5, size=(96, 128))
    out = tmp_path / "deploy"
    command = ["deploy", "--random-weights", "--width", "0.125", "--sequence", str(sequence),
               "--noise-runs", "0", "--out", str(out)]
    assert main(command) == 0
    first = capsys.readouterr().out
    assert "[1] export fp32" in first and "[2] export fp16" in first and "measure" in first
    engines = [line for line in first.splitlines() if "engines fp" in line]
    assert len(engines) == 2 and all((" ok " in line) or ("skipped" in line and "not installed"
                                                          in line) for line in engines), engines
    chosen = json.loads((out / recommendation.RECOMMENDED).read_text())
    assert chosen["backend"] == "onnxruntime" and (out / chosen["folder"] / "deploy.json").is_file()
    page = (out / "report.html").read_text()
    assert page.count("<table>") >= 3 and "src='data:image/png;base64,iVBOR" in page
    assert "http://" not in page and "https://" not in page  # nothing fetched from a network
    assert (out / "report.md").read_text().startswith("# masktrt deploy: siammask")
    assert main(command) == 0
    second = capsys.readouterr().out
    assert "export fp32            reused" in second and "export fp16            reused" in second
    with masktrt.open_tracker(out) as tracker:
        assert tracker.runner.name.startswith("onnxruntime") and tracker.name == "siammask"
