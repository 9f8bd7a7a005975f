"""The decoder's bicubic x2 as fixed depthwise convolutions equals PyTorch's bicubic (that no
exported graph keeps a cubic Resize is checked on the export in test_rts_export.py)."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from masktrt.trackers.rts.export.bicubic import CUBIC_A, Bicubic, cubic_weights


@pytest.mark.parametrize("shape", [(1, 3, 5, 7), (2, 64, 30, 52), (1, 32, 1, 3), (1, 1, 2, 2)])
def test_x2_equals_pytorch_bicubic(shape):
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(0)) * 50
    size = (2 * shape[2], 2 * shape[3])
    ours = Bicubic(shape[1])(x, size)
    theirs = F.interpolate(x, size=size, mode="bicubic", align_corners=False)
    assert ours.shape == theirs.shape
    assert (ours - theirs).abs().max() <= 1e-6 * theirs.abs().max()


def test_other_sizes_fall_back_to_interpolate():
    x = torch.randn(1, 2, 5, 6)
    assert torch.equal(Bicubic(2)(x, (7, 9)), F.interpolate(x, size=(7, 9), mode="bicubic",
                                                         align_corners=False))


def test_tap_weights_sum_to_one():
    for t in (0.0, 0.25, 0.5, 0.75):
        assert sum(cubic_weights(t)) == pytest.approx(1.0)
    assert cubic_weights(0.0) == pytest.approx([0.0, 1.0, 0.0, 0.0]) and CUBIC_A == -0.75
