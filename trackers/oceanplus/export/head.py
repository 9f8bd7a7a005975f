"""The Ocean head (`connect_model`, TracKit `box_tower`; spec arn-rts.md §A1 "Ocean head").

Each of the cls and reg branches encodes the template kernel and the search map with three
dilated 3x3 valid convs (`matrix` encoders: dilation (1,1), (2,1), (1,2) -> 5x5, 3x5 and 5x3
kernels), correlates each pair depth-wise and sums the three maps with softmax weights
(`GroupDW`). The correlation is passed in, so the exporter can swap `dynamic` for `unrolled`.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from masktrt.trackers.oceanplus.export.channels import TOWER_DEPTH
from masktrt.export.xcorr import XCorr, xcorr_depthwise

BRANCHES = (("11", (1, 1)), ("12", (2, 1)), ("21", (1, 2)))  # name suffix, (dh, dw) dilation
CLS_SCALE = 0.1  # cls logits = 0.1 * cls_pred(...)
ADJUST_INIT = 0.1  # bbox = exp(adjust * pred + bias): the learned scale's initial value
BOX_SIDES = 4  # distances (left, top, right, bottom) per cell


def encoder_conv(channels: int, dilation: tuple[int, int]) -> nn.Sequential:
    """3x3 valid conv (no bias) + BN + ReLU, keys `.0.weight`, `.1.*`."""
    return nn.Sequential(nn.Conv2d(channels, channels, 3, dilation=dilation, bias=False),
                         nn.BatchNorm2d(channels), nn.ReLU(inplace=True))


class Encoder(nn.Module):
    """Official `matrix`: kernel-side (`_k`) and search-side (`_s`) convs per dilation branch."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        for suffix, dilation in BRANCHES:
            setattr(self, f"matrix{suffix}_k", encoder_conv(channels, dilation))
            setattr(self, f"matrix{suffix}_s", encoder_conv(channels, dilation))

    def kernels(self, zf: torch.Tensor) -> list[torch.Tensor]:
        """7x7 template map -> the three correlation kernels (5x5, 3x5, 5x3)."""
        return [getattr(self, f"matrix{s}_k")(zf) for s, _ in BRANCHES]

    def searches(self, xf: torch.Tensor) -> list[torch.Tensor]:
        """Search map -> the three encoded maps the kernels slide over."""
        return [getattr(self, f"matrix{s}_s")(xf) for s, _ in BRANCHES]


class GroupDW(nn.Module):
    """Depth-wise correlation per branch, summed with softmax(weight) (a learned 3-vector)."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(len(BRANCHES)))

    def forward(self, kernels: list[torch.Tensor], searches: list[torch.Tensor],
                xcorr: XCorr = xcorr_depthwise) -> torch.Tensor:
        weight = F.softmax(self.weight, 0)
        maps = [xcorr(s, k) for k, s in zip(kernels, searches)]
        return weight[0] * maps[0] + weight[1] * maps[1] + weight[2] * maps[2]


def tower(channels: int) -> nn.Sequential:
    """TOWER_DEPTH x (3x3 pad-1 conv with bias + BN + ReLU): keys 0,1, 3,4, 6,7, 9,10."""
    layers: list[nn.Module] = []
    for _ in range(TOWER_DEPTH):
        layers += [nn.Conv2d(channels, channels, 3, padding=1), nn.BatchNorm2d(channels),
                   nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


class BoxTower(nn.Module):
    """Official `box_tower`: encoders, GroupDW, towers and the cls/bbox predictions."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.adjust = nn.Parameter(torch.full((1,), ADJUST_INIT))
        self.bias = nn.Parameter(torch.ones(1, BOX_SIDES, 1, 1))
        self.cls_encode = Encoder(channels)
        self.reg_encode = Encoder(channels)
        self.cls_dw = GroupDW()
        self.reg_dw = GroupDW()
        self.bbox_tower = tower(channels)
        self.cls_tower = tower(channels)
        self.bbox_pred = nn.Conv2d(channels, BOX_SIDES, 3, padding=1)
        self.cls_pred = nn.Conv2d(channels, 1, 3, padding=1)

    def forward(self, xf: torch.Tensor, zf_reg: torch.Tensor, zf_cls: torch.Tensor,
                xcorr: XCorr = xcorr_depthwise
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(cls logits, bbox distances, cls correlation map); the latter feeds the mask decoder.

        The reg branch always correlates the first-frame template, the cls branch the (possibly
        updated) `zf_cls` (spec §A2).
        """
        cls_corr = self.cls_dw(self.cls_encode.kernels(zf_cls), self.cls_encode.searches(xf), xcorr)
        reg_corr = self.reg_dw(self.reg_encode.kernels(zf_reg), self.reg_encode.searches(xf), xcorr)
        bbox = torch.exp(self.adjust * self.bbox_pred(self.bbox_tower(reg_corr)) + self.bias)
        cls = CLS_SCALE * self.cls_pred(self.cls_tower(cls_corr))
        return cls, bbox, cls_corr
