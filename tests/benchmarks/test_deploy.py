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


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    """(folder, command, printed) of one small deployment: random weights at width 0.125 on a
    5-frame generated sequence (the pipeline, not the weights, is under test)."""
    pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    from masktrt.cli import main
    from masktrt.training.synthetic import demo_sequence_dir

    tmp = tmp_path_factory.mktemp("deploy")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MASKTRT_CACHE", str(tmp / "cache"))
        sequence = demo_sequence_dir(seed=1, num_frames=5, size=(96, 128))
    out = tmp / "deploy"
    command = ["deploy", "--random-weights", "--width", "0.125", "--sequence", str(sequence),
               "--noise-runs", "0", "--out", str(out)]
    import contextlib
    import io

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(command) == 0
    return out, command, printed.getvalue()


def test_deploy_writes_graphs_verdicts_a_recommendation_and_a_report(deployed) -> None:
    out, _, first = deployed
    assert "[1] export fp32" in first and "[2] export fp16" in first and "measure" in first
    engines = [line for line in first.splitlines() if "engines fp" in line]
    assert len(engines) == 2 and all((" ok " in line) or ("skipped" in line and "not installed"
                                                          in line) for line in engines), engines
    chosen = json.loads((out / recommendation.RECOMMENDED).read_text())
    assert chosen["backend"] == "onnxruntime" and (out / chosen["folder"] / "deploy.json").is_file()
    page = (out / "report.html").read_text()
    assert page.count("<table>") >= 3 and page.count("src='data:image/png;base64,iVBOR") == 3
    assert "[7] contact sheet" in first and (out / "contact_sheet.png").stat().st_size > 0
    assert "http://" not in page and "https://" not in page  # nothing fetched from a network
    assert (out / "report.md").read_text().startswith("# masktrt deploy: siammask")


def test_a_rerun_reuses_the_graphs_and_open_tracker_runs_the_recommendation(deployed, capsys) -> None:
    import masktrt
    from masktrt.cli import main

    out, command, _ = deployed
    assert main(command) == 0
    second = capsys.readouterr().out
    assert "export fp32            reused" in second and "export fp16            reused" in second
    with masktrt.open_tracker(out) as tracker:
        assert tracker.runner.name.startswith("onnxruntime") and tracker.name == "siammask"


CHECK = """<script>window.addEventListener('load', () => {
  const images = [...document.images];
  document.body.setAttribute('data-check', JSON.stringify({
    tables: document.querySelectorAll('table').length, images: images.length,
    loaded: images.filter(i => i.complete && i.naturalWidth > 0).length}));
});</script>"""


def test_the_report_renders_in_headless_chromium_with_its_tables_and_images(deployed, tmp_path) -> None:
    """Debian's chromium loads the page from disk (network off) and reports what rendered."""
    import re
    import shutil
    import subprocess

    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("chromium is not installed (apt-get install chromium; .ci/run installs it)")
    out, _, _ = deployed
    page = tmp_path / "checked.html"
    page.write_text((out / "report.html").read_text().replace("</body>", CHECK + "</body>"))
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000"]
    dom = subprocess.run([chromium, *flags, "--dump-dom", page.as_uri()], capture_output=True,
                         text=True, timeout=120).stdout
    found = re.search(r"data-check=\"([^\"]*)\"", dom)
    assert found, dom[-2000:]
    check = json.loads(found.group(1).replace("&quot;", '"'))
    assert check["tables"] >= 3 and check["images"] == 3 and check["loaded"] == 3, check  # plots, sheet


def test_the_contact_sheet_spreads_its_frames_and_pads_the_last_row() -> None:
    import numpy as np

    from masktrt.benchmarks.contact_sheet import pick, sheet

    assert pick(60) == [0, 8, 17, 25, 34, 42, 51, 59] and pick(3) == [0, 1, 2] and pick(0) == []
    tiles = [np.full((10, 20, 3), i, np.uint8) for i in range(1, 6)]
    grid = sheet(tiles, columns=4)
    assert grid.shape == (20, 80, 3) and grid[10:, 20:].max() == 0 and grid[10:, :20].min() == 5
