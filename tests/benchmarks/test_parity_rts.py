"""CI's RTS parity through the CLI at small export sizes: ONNX Runtime FP32 vs PyTorch.

`masktrt parity --tracker rts` exactly as a user runs it. Tensor parity: the seeded random
model (RTS and STA) at `sizes=128x224/4/8` (crop 128x224, 4 seg / 8 clf memory slots: the same
ops as the deployment's 480x832 / 32 / 50, whose feature graph alone takes ~250 s to export on
CI's 2 cores). Closed loop: the shipped demo weights (trackers/rts/MODEL_CARD.md) at the
crop they were trained at, `sizes=384x672/8/16`; with seeded random weights the classifier
reported not-found on every frame, so a loop only showed that both runtimes skip the same
updates. With the demo weights the reference's branch counts (printed and in the JSON report)
must include frames where the classifier found the target (`normal`) and learned, and seg updates, so the loop compares the
learners' memory paths. davis-blackswan starts from its first-frame mask; vot-bag has no
masks, so it starts from the box through STA (seeded random: a rough first mask). The learners
update every frame before frame 100, so the first FRAMES frames are where rounding re-enters
the memories most often.
"""
from __future__ import annotations

import json

import pytest

from masktrt.trackers.rts.spec import NORMAL
from tests.conftest import real_sequence

pytestmark = [pytest.mark.slow, pytest.mark.data]

SMALL = ["--option", "sizes=128x224/4/8"]
COMMON = ["--tracker", "rts", "--random-weights", "--threads", "2", *SMALL]
DEMO = ["--tracker", "rts", "--threads", "2", "--option", "sizes=384x672/8/16"]
FRAMES = 40


def test_tensor_parity_rts_small_sizes(capsys):
    """Every RTS graph (STA included) on crops of both sequences, within the tensor budget."""
    from masktrt.cli import main

    paths = [str(real_sequence(n)) for n in ("davis-blackswan", "vot-bag")]
    code = main(["parity", "--level", "tensor", "--sequence", *paths, *COMMON])
    out = capsys.readouterr().out
    print(out)  # the table lands in CI's log
    assert "options {'sizes': '128x224/4/8'," in out and "sta " in out
    assert "overall: PASS" in out and code == 0, out


@pytest.mark.parametrize("name", ["davis-blackswan", "vot-bag"])
def test_closed_loop_parity_rts_small_sizes(name, tmp_path, capsys):
    from masktrt.cli import main

    path = real_sequence(name)
    code = main(["parity", "--level", "closed-loop", "--sequence", str(path), "--max-frames",
                 str(FRAMES), "--noise-runs", "0", "--report", str(tmp_path / "parity.json"), *DEMO])
    out = capsys.readouterr().out
    print(out)
    (row,) = json.loads((tmp_path / "parity.json").read_text())["rows"]
    assert row["sequence"] == name and row["backend"] == "onnxruntime-fp32"
    assert len(row["per_frame"]["box_iou"]) == FRAMES - 1
    branches = row["branches"]
    assert branches["clf_flag"].get(NORMAL, 0) > 0, branches  # the classifier found the target
    assert branches["clf_update"].get("learn", 0) > 0, branches  # and learned from memory
    assert branches["seg_update"].get("learn", 0) > 0, branches
    assert code == 0, out


def test_fp16_closed_loop_rts_tracks_as_well_as_the_reference(tmp_path, capsys):
    """FP16 graphs (norm and GN reductions kept FP32) on vot-bag, which starts from its box
    through STA: every RTS graph runs in FP16 in the loop, judged on the ground truth."""
    from masktrt.cli import main

    code = main(["parity", "--level", "closed-loop", "--precision", "fp16", "--sequence",
                 str(real_sequence("vot-bag")), "--max-frames", str(FRAMES), "--noise-runs", "0",
                 "--report", str(tmp_path / "parity.json"), *DEMO])
    out = capsys.readouterr().out
    print(out)
    (row,) = json.loads((tmp_path / "parity.json").read_text())["rows"]
    assert row["backend"] == "onnxruntime-fp16"
    assert "gt_box_drop_mean" in {c["metric"] for c in row["checks"]}
    assert code == 0, out


def test_fp16_precision_verdict_rts(tmp_path, capsys):
    """Issue 26's gate for RTS: what FP16 loses against the ground truth, teacher-forced (every
    frame from the reference's state of the frame before), within the spec's accuracy budget, on
    vot-bag (box start through STA) for the first FRAMES frames (`make parity`; minutes here)."""
    from masktrt.cli import main

    code = main(["parity", "--level", "accuracy", "--precision", "fp16", "--sequence",
                 str(real_sequence("vot-bag")), "--max-frames", str(FRAMES),
                 "--report", str(tmp_path / "accuracy.json"), *DEMO])
    out = capsys.readouterr().out
    print(out)
    (verdict,) = json.loads((tmp_path / "accuracy.json").read_text())["verdicts"]
    assert verdict["precision"] == "fp16" and verdict["drops"]["gt_box_drop"]["frames"] == FRAMES - 1
    assert code == 0 and verdict["passed"], out


def test_reference_alone_diverges_from_a_rounding_sized_perturbation():
    """Why RTS's closed loop has no per-frame minimum and is judged on ground truth (spec
    _LOOP_FP32_WHY, _LOOP_GT_WHY): the PyTorch reference against itself, its initial seg filter
    perturbed by 3e-6 relative (ONNX Runtime's differs by ~3e-6), on vot-bag with the demo
    weights. Single frames drop far below 0.85 while the mean agreement stays above its budget
    and the accuracy against the ground truth barely moves: the trajectory, not a runtime, sets
    the minimum. If retrained weights make the loop stable, this fails, and the minimum budget
    should come back."""
    import numpy as np

    from masktrt.benchmarks.metrics import box_iou
    from masktrt.benchmarks.parity import accuracy_drops, run_trajectory
    from masktrt.export.model_source import load_tracker_model
    from masktrt.export.torch_backend import TorchRunner, torch_threads
    from masktrt.paths import demo_weights
    from masktrt.runtime.sequences import load_sequence
    from masktrt.trackers.rts.spec import SEG_FILTER_OUT, SEG_LEARN_GRAPHS, SPEC, TrackerConfig

    class Perturbed(TorchRunner):
        def run(self, graph, feeds, keep_on_device=()):
            out = super().run(graph, feeds, keep_on_device)
            if graph == SEG_LEARN_GRAPHS[0]:  # the init learner: the first filter
                f = out[SEG_FILTER_OUT]
                noise = np.random.default_rng(0).standard_normal(f.shape)
                out[SEG_FILTER_OUT] = (f * (1 + 3e-6 * noise)).astype(np.float32)
            return out

    model, _ = load_tracker_model("rts", demo_weights("rts"))
    options = {"sizes": DEMO[-1].split("=")[1]}
    seq = load_sequence(real_sequence("vot-bag")).head(30)
    with torch_threads(2):
        a = run_trajectory(TorchRunner(model, tracker="rts", options=options), seq,
                           TrackerConfig(), tracker="rts")
        b = run_trajectory(Perturbed(model, tracker="rts", options=options), seq,
                           TrackerConfig(), tracker="rts")
    ious = [float(box_iou(r.xywh, t.xywh)) for r, t in zip(a[1:], b[1:])]
    drop = float(np.mean(accuracy_drops(seq, list(zip(a[1:], b[1:])))["gt_box_drop"]))
    print(f"reference vs perturbed reference, vot-bag: mean {np.mean(ious):.4f}, min "
          f"{min(ious):.4f} at frame {int(np.argmin(ious)) + 1}; accuracy drop {drop:+.4f}")
    assert min(ious) < 0.85
    assert np.mean(ious) >= SPEC.budget("loop-fp32-box-mean").value
    assert abs(drop) <= SPEC.budget("loop-fp32-gt-box").value
