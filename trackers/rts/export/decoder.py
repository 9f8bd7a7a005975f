"""The mask decoder (`RTSDecoder` = LWL's `LWTLDecoder`, spec §B1): 16-ch scores -> mask logits.

From layer4 to layer1, each level resizes the scores to the level's grid, fuses them with the
reduced backbone feature (TSE), refines (RRB), re-weights channels with attention from global
pools (CAB, which also adds the upsampled deeper output) and refines again; a 1x1 `proj` adapts
the previous level's width first. The `Upsampler` (`project`) ends with two **bicubic** resizes
(x2, then to the crop: x2 again), computed as exact fixed depthwise convolutions (`bicubic.py`):
no graph holds a cubic Resize, whose conventions and speed differ between runtimes. Every other
resize is
pytracking's `interpolate`: bilinear, align_corners=False, skipped when the size already fits.
"""
from __future__ import annotations

from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import nn

from masktrt.trackers.rts.export.bicubic import Bicubic
from masktrt.trackers.rts.spec import DECODER_WIDTH, LAYER_CHANNELS, NUM_FILTERS

LEVELS = ("layer4", "layer3", "layer2", "layer1")  # deepest first
LEVEL_WIDTH = {"layer4": 4, "layer3": 2, "layer2": 2, "layer1": 1}  # x DECODER_WIDTH
LEVEL_CHANNELS = dict(zip(("layer1", "layer2", "layer3", "layer4"), LAYER_CHANNELS))


def resize(t: torch.Tensor, size: tuple[int, int] | torch.Size) -> torch.Tensor:
    """Bilinear, align_corners=False; the identity when `t` already has `size`."""
    size = tuple(size)
    return t if tuple(t.shape[-2:]) == size else F.interpolate(
        t, size=size, mode="bilinear", align_corners=False)


def conv(cin: int, cout: int, k: int, bias: bool = True) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, padding=k // 2, bias=bias)


def conv_relu_conv(cin: int, mid: int, cout: int, k: int = 1) -> nn.Sequential:
    """conv -> ReLU -> conv (keys `.0`, `.2`): TSE.reduce and CAB.convreluconv."""
    return nn.Sequential(conv(cin, mid, k), nn.ReLU(), conv(mid, cout, k))


class TSE(nn.Module):
    """Reduce the backbone feature to the level width, concatenate the scores, 3 x conv3x3+ReLU."""

    def __init__(self, feature: int, scores: int, width: int) -> None:
        super().__init__()
        self.reduce = conv_relu_conv(feature, width, width)
        both = width + scores
        self.transform = nn.Sequential(conv(both, both, 3), nn.ReLU(), conv(both, both, 3),
                                       nn.ReLU(), conv(both, width, 3), nn.ReLU())

    def forward(self, feature: torch.Tensor, scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(transformed map, reduced map): the deepest level's CAB pools the latter."""
        h = self.reduce(feature)
        return self.transform(torch.cat((h, resize(scores, h.shape[-2:])), dim=1)), h


class RRB(nn.Module):
    """Residual refinement: h = conv1x1(x); relu(h + conv3x3(relu(bn(conv3x3(h)))))."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.conv1x1 = conv(width, width, 1)
        self.bblock = nn.Sequential(conv(width, width, 3), nn.BatchNorm2d(width), nn.ReLU(),
                                    conv(width, width, 3, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1x1(x)
        return F.relu(h + self.bblock(h))


class CAB(nn.Module):
    """Channel attention from [pool(shallower), pool(deeper)], plus the deeper map added back.

    At the deepest level `deeper` is already a 1x1 pool (of the reduced feature), so it is used
    as is and its 'upsampling' is a broadcast, which is what bilinear from 1x1 gives.
    """

    def __init__(self, width: int, deepest: bool) -> None:
        super().__init__()
        self.convreluconv = conv_relu_conv(2 * width, width, width)
        self.deepest = deepest

    def forward(self, deeper: torch.Tensor, shallower: torch.Tensor) -> torch.Tensor:
        pooled = deeper if self.deepest else F.adaptive_avg_pool2d(deeper, 1)
        both = torch.cat((F.adaptive_avg_pool2d(shallower, 1), pooled), dim=1)
        attended = shallower * torch.sigmoid(self.convreluconv(both))
        return attended + (deeper if self.deepest else resize(deeper, shallower.shape[-2:]))


class Upsampler(nn.Module):
    """x2 bicubic -> conv3x3 64->32 + ReLU -> bicubic to the crop -> conv3x3 32->1."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.conv1 = conv(width, width // 2, 3)
        self.conv2 = conv(width // 2, 1, 3)
        self.up1, self.up2 = Bicubic(width), Bicubic(width // 2)  # constants, not weights

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        twice = (2 * x.shape[-2], 2 * x.shape[-1])
        x = F.relu(self.conv1(self.up1(x, twice)))
        return self.conv2(self.up2(x, size))


class Decoder(nn.Module):
    """Scores Bx16xhxw and (l1, l2, l3, l4) -> mask logits Bx1xHxW at `size`."""

    def __init__(self, scores: int = NUM_FILTERS, width: int = DECODER_WIDTH) -> None:
        super().__init__()
        widths = {level: LEVEL_WIDTH[level] * width for level in LEVELS}
        self.TSE = nn.ModuleDict({lv: TSE(LEVEL_CHANNELS[lv], scores, widths[lv]) for lv in LEVELS})
        self.RRB1 = nn.ModuleDict({lv: RRB(widths[lv]) for lv in LEVELS})
        self.CAB = nn.ModuleDict({lv: CAB(widths[lv], lv == LEVELS[0]) for lv in LEVELS})
        self.RRB2 = nn.ModuleDict({lv: RRB(widths[lv]) for lv in LEVELS})
        self.proj = nn.ModuleDict({lv: nn.Sequential(conv(widths[up], widths[lv], 1), nn.ReLU())
                                   for up, lv in pairwise(LEVELS)})
        self.project = Upsampler(width)

    def level(self, name: str, feature: torch.Tensor, scores: torch.Tensor,
              previous: torch.Tensor | None) -> torch.Tensor:
        """One level; `previous` is the deeper level's output (None at layer4)."""
        h, reduced = self.TSE[name](feature, resize(scores, feature.shape[-2:]))
        deeper = F.adaptive_avg_pool2d(reduced, 1) if previous is None else self.proj[name](previous)
        return self.RRB2[name](self.CAB[name](deeper, self.RRB1[name](h)))

    def forward(self, scores: torch.Tensor, layers: tuple[torch.Tensor, ...],
                size: tuple[int, int]) -> torch.Tensor:
        """`layers` = (l1, l2, l3, l4) as the backbone returns them."""
        by_name = dict(zip(("layer1", "layer2", "layer3", "layer4"), layers))
        x = None
        for name in LEVELS:
            x = self.level(name, by_name[name], scores, x)
        return self.project(x, size)
