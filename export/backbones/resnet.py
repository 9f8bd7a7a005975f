"""The SiamMask ResNet-50 trunk up to layer3 (spec §1): not torchvision's.

Differences that matter: conv1 has no padding, stride-2 3x3 convs have padding 0, the layer2
and layer3 shortcuts are 3x3 convs, and layer3 is dilated (block 0 dilation 1, the rest 2) so
the total stride stays 8. Attribute names are the checkpoint's (`conv1`, `bn1`, `layerN.i...`).
OceanPlus (TracKit `ResNet_plus2`, used_layers=[3]) is the same trunk, key for key and in its
padding rules (spec arn-rts.md appendix 2), so both trackers build this one class.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch
from torch import nn

RESNET50_BLOCKS = (3, 4, 6)  # bottlenecks in layer1..3 (layer4 is never built)
# Defined here, not imported from a tracker's package: trackers build on backbones, never the
# reverse (siammask.channels imports backbones, so importing it back would be a cycle).
BOTTLENECK_EXPANSION = 4
MIN_CHANNELS = 4  # a scaled trunk never goes narrower


def scaled(channels: int, width: float) -> int:
    """An official channel count at `width`, never below MIN_CHANNELS (identity at width 1)."""
    return max(MIN_CHANNELS, int(round(channels * width)))


class TrunkChannels(Protocol):
    """What the trunk reads from a tracker's channel table (SiamMaskSpec, ResNet50Widths)."""

    stem: int
    planes: tuple[int, int, int]
    blocks: tuple[int, int, int]
    p1: int
    p2: int


@dataclass(frozen=True)
class ResNet50Widths:
    """The trunk's channel counts at a width multiplier (1.0 = the official 64/256/512/1024)."""

    width: float = 1.0

    @property
    def stem(self) -> int:
        return scaled(64, self.width)

    @property
    def planes(self) -> tuple[int, int, int]:
        return tuple(scaled(c, self.width) for c in (64, 128, 256))

    @property
    def blocks(self) -> tuple[int, int, int]:
        return RESNET50_BLOCKS

    @property
    def p1(self) -> int:
        return self.planes[0] * BOTTLENECK_EXPANSION

    @property
    def p2(self) -> int:
        return self.planes[1] * BOTTLENECK_EXPANSION

    @property
    def p3(self) -> int:
        return self.planes[2] * BOTTLENECK_EXPANSION


def conv_bn(cin: int, cout: int, kernel: int, stride: int = 1, padding: int = 0,
            dilation: int = 1) -> nn.Sequential:
    """Bias-free conv + BN as a 2-element Sequential (keys `.0.weight`, `.1.*`)."""
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, padding, dilation, bias=False),
                         nn.BatchNorm2d(cout))


class Bottleneck(nn.Module):
    """1x1 -> 3x3 (stride/dilation) -> 1x1 x4, residual add, ReLU.

    The 3x3 padding follows the official rule: 2 - stride, or the dilation when dilated.
    """

    def __init__(self, cin: int, planes: int, stride: int = 1, dilation: int = 1,
                 downsample: nn.Module | None = None) -> None:
        super().__init__()
        padding = dilation if dilation > 1 else 2 - stride
        cout = planes * BOTTLENECK_EXPANSION
        self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, padding, dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, cout, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        residual = x if self.downsample is None else self.downsample(x)
        return self.relu(out + residual)


def shortcut(cin: int, cout: int, stride: int, dilation: int) -> nn.Sequential:
    """Projection shortcut: 1x1 when neither strided nor dilated, else 3x3 (official quirk).

    A strided 3x3 shortcut has padding 0 (like the block's 3x3); a dilated stage's shortcut
    uses half the stage dilation as both dilation and padding.
    """
    if stride == 1 and dilation == 1:
        return conv_bn(cin, cout, 1)
    if dilation > 1:
        return conv_bn(cin, cout, 3, stride, padding=dilation // 2, dilation=dilation // 2)
    return conv_bn(cin, cout, 3, stride, padding=0)


def make_stage(cin: int, planes: int, blocks: int, stride: int, dilation: int) -> nn.Sequential:
    """Block 0 carries the stride (and half the dilation); the others the full dilation."""
    cout = planes * BOTTLENECK_EXPANSION
    first_dilation = max(1, dilation // 2)
    layers = [Bottleneck(cin, planes, stride, first_dilation,
                         shortcut(cin, cout, stride, dilation))]
    layers += [Bottleneck(cout, planes, 1, dilation) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


class ResNetTrunk(nn.Module):
    """Stem + layer1..3; returns (p0, p1, p2, p3). layer4 and fc are not built."""

    def __init__(self, spec: TrunkChannels) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, spec.stem, 7, 2, 0, bias=False)
        self.bn1 = nn.BatchNorm2d(spec.stem)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        p1, p2 = spec.p1, spec.p2
        self.layer1 = make_stage(spec.stem, spec.planes[0], spec.blocks[0], 1, 1)
        self.layer2 = make_stage(p1, spec.planes[1], spec.blocks[1], 2, 1)
        self.layer3 = make_stage(p2, spec.planes[2], spec.blocks[2], 1, 2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        p0 = self.relu(self.bn1(self.conv1(x)))
        p1 = self.layer1(self.maxpool(p0))
        p2 = self.layer2(p1)
        p3 = self.layer3(p2)
        return p0, p1, p2, p3
