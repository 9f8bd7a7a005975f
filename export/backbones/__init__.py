"""Backbones the trackers' networks are composed from, chosen by name (pysot's builder, no
global config): `resnet50` (SiamMask's official trunk) and `efficientnet_lite0` (an edge
backbone with ImageNet weights from a registry package).

A trunk maps BGR 0..255 crops to (p0, p1, p2, p3) at strides 2, 4, 8, 8 with ResNet's map
sizes; p3 feeds the adjust layer, p0-p2 Refine. Channel counts live in
`siammask.channels.SiamMaskSpec`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from masktrt.errors import MasktrtError

if TYPE_CHECKING:  # names and checks stay importable without torch (channel tables use them)
    from torch import nn

RESNET50 = "resnet50"
EFFICIENTNET_LITE0 = "efficientnet_lite0"
BACKBONES = (RESNET50, EFFICIENTNET_LITE0)


def check_backbone(name: str) -> str:
    if name not in BACKBONES:
        raise MasktrtError(f"unknown backbone '{name}'", f"choose one of {', '.join(BACKBONES)}")
    return name


def build_backbone(spec) -> nn.Module:
    """The trunk named by `spec.backbone`, randomly initialised (see `pretrained_backbone`)."""
    if check_backbone(spec.backbone) == RESNET50:
        from masktrt.export.backbones.resnet import ResNetTrunk

        return ResNetTrunk(spec)
    from masktrt.export.backbones.efficientnet_lite import EfficientNetLite0Trunk

    return EfficientNetLite0Trunk()


def load_pretrained(trunk: nn.Module, name: str) -> nn.Module:
    """ImageNet weights into `trunk` where a registry package ships them (Lite0 only: the
    official ResNet-50 weights come with SiamMask checkpoints, not on their own)."""
    if check_backbone(name) != EFFICIENTNET_LITE0:
        raise MasktrtError(f"no ImageNet weights are available here for backbone '{name}'",
                           f"train with --backbone {EFFICIENTNET_LITE0}, or from scratch")
    from masktrt.export.backbones.imagenet import load_lite0_imagenet

    return load_lite0_imagenet(trunk)
