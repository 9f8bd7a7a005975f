"""The two learners as checkpoint-shaped modules: what they own, not how they are driven.

`SegLearner` is `target_model` (features + the learned regulariser lambda_seg under
`filter_optimizer.residual_module.filter_reg`); its filter starts at zero. `Classifier` is
`classifier` (the initializer's conv, which precedes PrRoIPool, and its own stride-2 features);
lambda_clf is a constant of the spec. Filters are never stored here: the tracker's state holds
them and the learner steps of `steepest_descent` map (filter, memory) to the next filter.
"""
from __future__ import annotations

import torch
from masktrt.trackers.rts.export.features import feature_extractor
from masktrt.trackers.rts.export.prroi import prroi_pool
from torch import nn

from masktrt.trackers.rts.spec import (
    CLF_FILTER_SIZE,
    CLF_POOL_SCALE,
    FEATURE_DIM,
    LAYER_CHANNELS,
    NUM_FILTERS,
    SEG_FILTER_SIZE,
    SEG_REG_INIT,
)

LAYER3 = LAYER_CHANNELS[2]


class Residual(nn.Module):
    """Holds the learned regulariser (`filter_reg`, shape [1]) at the checkpoint's path."""

    def __init__(self) -> None:
        super().__init__()
        self.filter_reg = nn.Parameter(torch.full((1,), SEG_REG_INIT))


class FilterOptimizer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.residual_module = Residual()


class SegLearner(nn.Module):
    """`target_model`: stride-16 features and lambda_seg."""

    def __init__(self) -> None:
        super().__init__()
        self.feature_extractor = feature_extractor(LAYER3, stride=1)
        self.filter_optimizer = FilterOptimizer()

    @property
    def reg(self) -> torch.Tensor:
        return self.filter_optimizer.residual_module.filter_reg

    def initial_filter(self, like: torch.Tensor) -> torch.Tensor:
        """FilterInitializerZero: 16x512x3x3 zeros in `like`'s dtype and device."""
        size = (NUM_FILTERS, FEATURE_DIM, SEG_FILTER_SIZE, SEG_FILTER_SIZE)
        return like.new_zeros(size)


class FilterInitializer(nn.Module):
    """`FilterInitializerLinear`: conv3x3 (bias) then PrRoIPool 4x4 at scale 1/16, averaged."""

    def __init__(self) -> None:
        super().__init__()
        self.filter_conv = nn.Conv2d(FEATURE_DIM, FEATURE_DIM, 3, padding=1)

    def pool(self, pool_in: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        """conv output Sx512x15x26, boxes Sx4 (x, y, w, h, crop px) -> the 1x512x4x4 filter."""
        pooled = prroi_pool(pool_in, boxes, CLF_FILTER_SIZE, CLF_POOL_SCALE)
        return pooled.mean(dim=0, keepdim=True)


class Classifier(nn.Module):
    """`classifier`: the filter initializer and stride-32 features (registration order kept)."""

    def __init__(self) -> None:
        super().__init__()
        self.filter_initializer = FilterInitializer()
        self.feature_extractor = feature_extractor(LAYER3, stride=2)
