"""The VOT toolkit evaluates a masktrt tracker offline: `masktrt vot-workspace` on one real
sequence, then `vot evaluate` and `vot analysis` as subprocesses, then the toolkit's JSON report.

SiamMask with the shipped demo weights on the torch backend: one sequence starts the server
once, so exporting graphs for ONNX Runtime would cost more than it saves. davis-blackswan, cut
to FRAMES frames, exercises the mask ground truth and mask replies. The toolkit's update check
(an HTTPS request) is pointed at a closed local port so it fails at once, as CI has no network.
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from masktrt.cli import main
from tests.conftest import real_sequence

pytest.importorskip("vot")
pytest.importorskip("torch")

TRACKER = "masktrt_siammask"
SEQUENCE = "davis-blackswan"
FRAMES = 10
MIN_JF = 0.3  # the demo weights score J&F ~0.5 on these frames; random weights would be ~0


def toolkit(ws: Path, *argv: str) -> str:
    """`vot <argv> --workspace ws`, offline; its output (the toolkit exits 0 on tracker errors)."""
    env = {**os.environ, "https_proxy": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"}
    done = subprocess.run([sys.executable, "-m", "vot", argv[0], "--workspace", str(ws), *argv[1:]],
                          cwd=ws, env=env, capture_output=True, text=True, timeout=300, check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    return output


def jf_scores(report: dict) -> list[float]:
    """J&F, J and F of our tracker from the report: results[experiment].results[analysis]
    holds one list per tracker (report["trackers"] order) of per-tracker values."""
    index = list(report["trackers"]).index(TRACKER)
    return [analysis[index][0] for analysis in report["results"]["baseline"]["results"]]


@pytest.mark.slow
@pytest.mark.data
def test_vot_evaluate_and_analysis_run_offline_on_a_masktrt_tracker(tmp_path):
    ws = tmp_path / "ws"
    sequence = real_sequence(SEQUENCE)
    assert main(["vot-workspace", "--sequences", str(sequence), "--max-frames", str(FRAMES),
                 "--out", str(ws)]) == 0

    assert "Evaluation concluded successfuly" in toolkit(ws, "evaluate", TRACKER)
    runs = ws / "results" / TRACKER / "baseline" / SEQUENCE
    confidence = (runs / f"{SEQUENCE}_001_confidence.value").read_text().split()
    assert len(confidence) == FRAMES and all(0 <= float(c) <= 1 for c in confidence[1:])

    assert "Analysis successful" in toolkit(ws, "analysis", "--name", "report", TRACKER)
    report = json.loads((ws / "analysis" / "report.json").read_text())
    assert TRACKER in report["trackers"] and report["sequences"][SEQUENCE]["length"] == FRAMES
    scores = jf_scores(report)
    print(f"VOT toolkit on {SEQUENCE} ({FRAMES} frames): J&F, J, F = {scores}")
    assert len(scores) == 3 and all(math.isfinite(s) and 0 <= s <= 1 for s in scores)
    assert scores[0] > MIN_JF
