"""The learners' feature extractors: a 3x3 conv on layer3 then InstanceL2Norm (spec §B1).

The segmentation learner's (`target_model.feature_extractor`) keeps stride 16; the classifier's
(`classifier.feature_extractor`) has stride 2, hence stride 32. Both are `Sequential(conv, norm)`
so the conv's keys are `.0.weight`, as in the checkpoint; the norm has no state.
"""
from __future__ import annotations

import torch
from torch import nn

from masktrt.trackers.rts.spec import FEATURE_DIM, NORM_EPS, NORM_SCALE


class InstanceL2Norm(nn.Module):
    """x * scale * sqrt(C*H*W / (sum(x^2) + eps)) per sample: unit mean-square features.

    Its sum of squares over 512x30x52 values overflows FP16 (§B6), so exporters keep these
    nodes in FP32; the reduction is written as one ReduceSum over the flattened sample.
    """

    def __init__(self, scale: float = NORM_SCALE, eps: float = NORM_EPS) -> None:
        super().__init__()
        self.scale, self.eps = scale, eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[1] * x.shape[2] * x.shape[3]
        energy = (x * x).flatten(1).sum(dim=1).reshape(-1, 1, 1, 1)
        return x * (self.scale * torch.sqrt(size / (energy + self.eps)))


def feature_extractor(cin: int, stride: int) -> nn.Sequential:
    """conv3x3 (no bias, pad 1) cin -> 512 at `stride`, then InstanceL2Norm."""
    conv = nn.Conv2d(cin, FEATURE_DIM, 3, stride, 1, bias=False)
    return nn.Sequential(conv, InstanceL2Norm())
