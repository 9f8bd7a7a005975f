"""OceanPlus (ARN) with two pure inference entry points for export (spec arn-rts.md §A1-A2, §A6).

The module tree reproduces the released checkpoint names (`features.features.*`,
`neck.downsample.*`, `connect_model.*`, `mask_model.*`), so `state_dict()` equals the manifests
key for key. Nothing is cached on the model: `template()` returns the target's state (both
template kernels and the LUT) and the caller passes it to `track()`, exactly the split of the
exported graphs; the template update that changes `zf_cls` happens outside (on the host).
"""
from __future__ import annotations

import torch
from torch import nn

from masktrt.errors import MasktrtError
from masktrt.export.backbones import RESNET50
from masktrt.export.backbones.efficientnet_lite import EfficientNetLite0Trunk
from masktrt.export.backbones.resnet import ResNetTrunk, conv_bn
from masktrt.trackers.oceanplus.export.arn import lut_value
from masktrt.trackers.oceanplus.export.channels import OceanPlusChannels
from masktrt.trackers.oceanplus.export.decoder import DECODERS, foreground
from masktrt.trackers.oceanplus.export.head import BoxTower
from masktrt.export.xcorr import XCorr, xcorr_depthwise
from masktrt.trackers.oceanplus.spec import TEMPLATE_BORDER, TEMPLATE_FEATURE, VARIANTS

State = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]  # zf_reg, zf_cls, key, value


class Backbone(nn.Module):
    """TracKit's `ResNet50` wrapper: the shared trunk under the attribute `features` (ResNet-50,
    or the ImageNet-pretrained EfficientNet-Lite0 with the same four map sizes and strides)."""

    def __init__(self, channels: OceanPlusChannels) -> None:
        super().__init__()
        self.features = (ResNetTrunk(channels.trunk) if channels.backbone == RESNET50
                         else EfficientNetLite0Trunk())

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(b1 conv1, b2 layer1, b3 layer2, layer3) at strides 2, 4, 8, 8."""
        return self.features(x)


class Neck(nn.Module):
    """Official `AdjustLayer`: 1x1 conv (no bias) + BN, no ReLU; the template crop is separate."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.downsample = conv_bn(cin, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.downsample(x)


def centre(zf_ori: torch.Tensor) -> torch.Tensor:
    """The template kernel map: 15x15 neck map -> its central 7x7."""
    return zf_ori[:, :, TEMPLATE_BORDER:-TEMPLATE_BORDER, TEMPLATE_BORDER:-TEMPLATE_BORDER]


def check_variant(variant: str) -> str:
    if variant not in VARIANTS:
        raise MasktrtError(f"unknown OceanPlus variant '{variant}'",
                           f"choose one of: {', '.join(VARIANTS)} (MSS for VOT, MMS for DAVIS)")
    return variant


class OceanPlus(nn.Module):
    """The released network (online=False); `variant` picks the MSS or MMS mask decoder and
    `backbone` the trunk (`resnet50`, the released one, or `efficientnet_lite0`)."""

    def __init__(self, variant: str = "mss", width: float = 1.0, backbone: str = RESNET50) -> None:
        super().__init__()
        self.variant = check_variant(variant)
        self.channels = OceanPlusChannels(float(width), backbone)
        self.features = Backbone(self.channels)
        self.neck = Neck(self.channels.taps[3], self.channels.neck)
        self.connect_model = BoxTower(self.channels.neck)
        self.mask_model = DECODERS[variant](self.channels)

    def template(self, z: torch.Tensor, z_mask: torch.Tensor) -> State:
        """z 1x3x127x127 (BGR 0..255), z_mask 1x1x127x127 (binary) -> the target's state.

        (zf_reg, zf_cls, lut_key, lut_value): both kernels are the 1x256x7x7 template map at
        init (the host updates zf_cls later); lut_key 1x64x15x15, lut_value 1x1x15x15.
        """
        zf_ori = self.neck(self.features(z)[3])
        zf = centre(zf_ori)
        return zf, zf, self.mask_model.sequential.key(zf_ori), lut_value(z_mask, TEMPLATE_FEATURE)

    def track(self, x: torch.Tensor, zf_reg: torch.Tensor, zf_cls: torch.Tensor,
              lut_key: torch.Tensor, lut_value: torch.Tensor, xcorr: XCorr = xcorr_depthwise
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """x 1x3xSxS (S = 255 or 287) -> (cls logits, bbox, mask_prob, xf).

        cls 1x1xRxR, bbox 1x4xRxR (l, t, r, b in crop pixels), mask_prob 1x1xSxS (softmax
        foreground), xf 1x256xFxF (the neck map the template update samples); R/F = 25/31 or
        29/35.
        """
        cls, bbox, logits, xf = self.track_logits(x, zf_reg, zf_cls, lut_key, lut_value, xcorr)
        return cls, bbox, foreground(logits), xf

    def track_logits(self, x: torch.Tensor, zf_reg: torch.Tensor, zf_cls: torch.Tensor,
                     lut_key: torch.Tensor, lut_value: torch.Tensor,
                     xcorr: XCorr = xcorr_depthwise
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """`track` with the decoder's Bx2xSxS logits in place of mask_prob: training's mask
        loss needs them (a loss on the softmax would saturate). Any batch size."""
        b1, b2, b3, p3 = self.features(x)
        xf = self.neck(p3)
        cls, bbox, corr = self.connect_model(xf, zf_reg, zf_cls, xcorr)
        logits = self.mask_model((b1, b2, b3), xf, corr, lut_key, lut_value, tuple(x.shape[-2:]))
        return cls, bbox, logits, xf

    @property
    def backbone(self) -> str:
        """The trunk's name (`resnet50` or `efficientnet_lite0`), for records and checks."""
        return self.channels.backbone
