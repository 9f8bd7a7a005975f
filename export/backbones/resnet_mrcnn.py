"""The Mask R-CNN (Detectron-style) ResNet-50 of RTS and STA (spec arn-rts.md §B1), all four stages.

A sibling of `resnet.py`, not a configuration of it: SiamMask's trunk has an unpadded conv1,
3x3 shortcuts, a dilated layer3 and no layer4, while this one is the plain Caffe ResNet with the
stride in each stage's first **1x1** conv, padded 7x7 conv1, 1x1 projection shortcuts (also on
layer1, whose stride is 1) and layer4 at stride 32. Attribute names are pytracking's
(`conv1`, `bn1`, `layerN.i.{conv,bn}{1,2,3}`, `layerN.0.downsample.{0,1}`), so the state dict
is the `feature_extractor.*` block of the rts50 manifest key for key. Inputs are already
mean-subtracted BGR (the owning network folds the pixel mean in, see `rts.network`).
"""
from __future__ import annotations

import torch
from masktrt.export.backbones.resnet import BOTTLENECK_EXPANSION, Bottleneck, conv_bn
from torch import nn

MRCNN_BLOCKS = (3, 4, 6, 3)  # bottlenecks in layer1..4
MRCNN_PLANES = (64, 128, 256, 512)  # bottleneck widths; outputs are 4x these
MRCNN_STRIDES = (1, 2, 2, 2)  # first-block stride of layer1..4 (total strides 4, 8, 16, 32)
STEM = 64
LAYERS = ("layer1", "layer2", "layer3", "layer4")


class MrcnnBottleneck(Bottleneck):
    """1x1 (carries the stride) -> 3x3 pad 1 -> 1x1 x4, residual add, ReLU: SiamMask's
    bottleneck (same names, same forward) with the stride moved to the first 1x1 conv."""

    def __init__(self, cin: int, planes: int, stride: int = 1,
                 downsample: nn.Module | None = None) -> None:
        nn.Module.__init__(self)
        self.conv1 = nn.Conv2d(cin, planes, 1, stride, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * BOTTLENECK_EXPANSION, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * BOTTLENECK_EXPANSION)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample


def mrcnn_stage(cin: int, planes: int, blocks: int, stride: int) -> nn.Sequential:
    """Block 0 projects with a strided 1x1 conv + BN (present even at stride 1: cin != 4*planes)."""
    cout = planes * BOTTLENECK_EXPANSION
    layers = [MrcnnBottleneck(cin, planes, stride, conv_bn(cin, cout, 1, stride))]
    layers += [MrcnnBottleneck(cout, planes) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


class ResNet50Mrcnn(nn.Module):
    """Stem + layer1..4; returns (layer1, layer2, layer3, layer4) at strides 4, 8, 16, 32."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, STEM, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(STEM)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin = STEM
        for name, planes, blocks, stride in zip(LAYERS, MRCNN_PLANES, MRCNN_BLOCKS, MRCNN_STRIDES):
            setattr(self, name, mrcnn_stage(cin, planes, blocks, stride))
            cin = planes * BOTTLENECK_EXPANSION

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        outputs = []
        for name in LAYERS:
            x = getattr(self, name)(x)
            outputs.append(x)
        return tuple(outputs)
