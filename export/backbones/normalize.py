"""A backbone's input normalisation as the graph's first layer (a fixed 1x1 convolution).

Why inside the graph: the runtime, deploy.json's preprocessing and every engine keep feeding
BGR 0..255 crops whatever the backbone, so nothing outside export/ learns which backbone a
checkpoint has. One Conv node (channel swap and affine map in its weights) is exact, fuses in
TensorRT and quantises like any other conv. The weights are non-persistent buffers: constants
of the architecture, never in a checkpoint.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# EfficientNet-Lite's published preprocessing: RGB, (x - 127) / 128, i.e. [-1, 1]. The ImageNet
# state dict agrees: stem-conv statistics of real frames match its first BN's running stats
# under this mapping (variance ratio ~0.7) and not under torchvision's mean/std (~3.4).
LITE_MEAN = (127.0, 127.0, 127.0)
LITE_STD = (128.0, 128.0, 128.0)
BGR_TO_RGB = (2, 1, 0)


class InputNormalization(nn.Module):
    """BGR 0..255 -> RGB (x - mean) / std per channel."""

    def __init__(self, mean: tuple[float, float, float], std: tuple[float, float, float]) -> None:
        super().__init__()
        weight = torch.zeros(3, 3, 1, 1)
        for out, source in enumerate(BGR_TO_RGB):
            weight[out, source] = 1.0 / std[out]
        bias = torch.tensor([-m / s for m, s in zip(mean, std)])
        self.register_buffer("weight", weight, persistent=False)
        self.register_buffer("bias", bias, persistent=False)

    @classmethod
    def efficientnet_lite(cls) -> InputNormalization:
        return cls(LITE_MEAN, LITE_STD)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight.to(x.dtype), self.bias.to(x.dtype))
