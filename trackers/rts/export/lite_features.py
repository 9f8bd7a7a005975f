"""RTS's edge backbone for the demo weights: the ImageNet EfficientNet-Lite0 trunk (strides 4 to
32) with each tap lifted to the channels of ResNet-50's layer1..layer4 by a 1x1 conv.

Why: no ImageNet ResNet-50 can be installed here, and a seeded random ResNet-50 gives features
on which neither learner can separate the target (the classifier's peak stayed at 0.03-0.19, the
decoder's mask covered the crop). The Lite0 trunk's ImageNet weights ship in a registry package
(`backbones.imagenet`), as for the other trackers' demo weights. The adapters keep every shape
after the backbone the release's, so the learners, decoder, graphs, contract and runtime are
unchanged; only `feat` (and `clf_init_feat`) compute differently, and 10x cheaper (Lite0 to
stride 32 is ~0.4 GMAC at 224x224 against ResNet-50's 4.1). The trunk normalises its input
itself, so crops stay BGR 0..255 and RTS skips its pixel-mean subtraction for this backbone.
"""
from __future__ import annotations

import torch
from torch import nn

from masktrt.export.backbones.efficientnet_lite import RTS_TAP_STAGES, STAGES, rts_trunk
from masktrt.trackers.rts.spec import LAYER_CHANNELS

TAP_CHANNELS = tuple(STAGES[s].channels for s in RTS_TAP_STAGES)  # 24, 40, 112, 320


class Lite0Features(nn.Module):
    """BGR 0..255 -> (l1, l2, l3, l4) with ResNet-50's channels and strides."""

    def __init__(self) -> None:
        super().__init__()
        self.trunk = rts_trunk()
        self.adapters = nn.ModuleList(nn.Conv2d(cin, cout, 1)
                                      for cin, cout in zip(TAP_CHANNELS, LAYER_CHANNELS))

    def taps(self, im: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self.trunk(im)

    def adapt(self, taps: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        return tuple(adapter(t) for adapter, t in zip(self.adapters, taps))

    def forward(self, im: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self.adapt(self.taps(im))
