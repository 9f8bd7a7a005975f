"""The evaluation tracks real sequences of frames and refuses training seeds."""
from __future__ import annotations

import pytest
import torch

from masktrt.trackers.siammask.export import SiamMask
from masktrt.training.held_out import evaluate_synthetic, held_out_seeds, track_synthetic
from masktrt.training.scenes import HELD_OUT_FROM
from masktrt.training.synthetic import generate_sequence


def test_held_out_seeds_never_overlap_training():
    assert held_out_seeds(3) == [HELD_OUT_FROM, HELD_OUT_FROM + 1, HELD_OUT_FROM + 2]
    with pytest.raises(ValueError):
        held_out_seeds(2, first=0)


def test_perfect_masks_score_one_and_tracking_scores_are_bounded():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = SiamMask(0.0625).eval()
    seq = generate_sequence(HELD_OUT_FROM, 4, (240, 320))
    j, f = track_synthetic(model, "siammask", seq, "davis")
    assert 0.0 <= j <= 1.0 and 0.0 <= f <= 1.0
    report = evaluate_synthetic(model, "siammask", count=1, frames=3)
    assert report["count"] == 1 and report["sequences"][0]["seed"] == HELD_OUT_FROM
    assert report["mean_j"] == pytest.approx(report["sequences"][0]["J"])
