"""The label encoder and the classifier-score encoder (`ResidualDS16SW` / `_Clf`, spec §B1).

Both turn a one-channel map into a 16-channel "label" for the learner (and per-pixel sample
weights): a conv block, a max-pool, two residual blocks without BatchNorm, then two 3x3 heads.
The label encoder downsamples 16x (a 480x832 mask -> 30x52, the seg features' grid); the score
encoder keeps its 16x27 grid (every stride 1). The score encoder's weight head is never used by
RTS but is in the checkpoint, so it is built.
"""
from __future__ import annotations

import torch
from torch import nn

from masktrt.trackers.rts.spec import LABEL_DIMS, NUM_FILTERS


class ResidualBlock(nn.Module):
    """BasicBlock without BN: relu(conv(relu(conv(x))) + downsample(x)); the 3x3 convs have no
    bias, the 3x3 projection shortcut has one (checkpoint keys conv1, conv2, downsample)."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.downsample = nn.Conv2d(cin, cout, 3, stride, 1)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.relu(self.conv1(x)))
        return self.relu(out + self.downsample(x))


def conv_relu(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    """3x3 pad-1 conv with bias + ReLU as `Sequential` (keys `.0.*`): pytracking's conv_block."""
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.ReLU(inplace=True))


class LabelEncoder(nn.Module):
    """Map Bx1xHxW -> (label, weights), each Bx16xH'xW'; H' = H/16 when `downsample`."""

    def __init__(self, downsample: bool = True) -> None:
        super().__init__()
        d0, d1, d2 = LABEL_DIMS
        stride = 2 if downsample else 1
        self.conv_block = conv_relu(1, d0, stride)
        self.pool = nn.MaxPool2d(3, stride, 1)
        self.res1 = ResidualBlock(d0, d1, stride)
        self.res2 = ResidualBlock(d1, d2, stride)
        self.label_pred = conv_relu(d2, NUM_FILTERS)
        self.samp_w_pred = nn.Conv2d(d2, NUM_FILTERS, 3, 1, 1)
        nn.init.zeros_(self.samp_w_pred.weight)  # official init: weights 1 until trained
        nn.init.ones_(self.samp_w_pred.bias)

    def forward(self, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.res2(self.res1(self.pool(self.conv_block(mask))))
        return self.label_pred(out), self.samp_w_pred(out)
