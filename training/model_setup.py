"""How a run trains a Siamese network's trunk (any tracker's): backbone by name, ImageNet weights where a package ships them,
early backbone stages frozen, a smaller learning rate for the rest of the backbone.

Why freeze: on a shared 2-core CPU the frozen stem and first stages cost a forward pass only
(no activations kept, no gradients), and with ten real sequences their ImageNet features are
better than anything the run could learn. Frozen parts stay in eval mode (their BatchNorm
statistics are ImageNet's); the rest trains in train mode, as the official recipe does.
Why a smaller backbone learning rate: pysot trains the pretrained trunk at 0.1x the heads'.
"""
from __future__ import annotations

from typing import Any

from torch import nn

from masktrt.export.backbones import RESNET50


def backbone_of(model: nn.Module) -> str:
    """The trunk's name: SiamMask keeps it in `spec`, OceanPlus in `channels` (both networks
    hold the trunk at `features.features`, so the rest of this module serves both)."""
    return model.spec.backbone if hasattr(model, "spec") else model.channels.backbone


def frozen_modules(model: nn.Module, blocks: int) -> list[nn.Module]:
    """The stem and the first `blocks` blocks (Lite0: MBConv blocks; ResNet: layers)."""
    if blocks <= 0:
        return []
    trunk = model.features.features
    if backbone_of(model) == RESNET50:
        return [trunk.conv1, trunk.bn1, *[trunk.layer1, trunk.layer2, trunk.layer3][:blocks]]
    return [trunk._conv_stem, trunk._bn0, *list(trunk._blocks)[:blocks]]


def freeze(model: nn.Module, blocks: int) -> nn.Module:
    for module in frozen_modules(model, blocks):
        for parameter in module.parameters():
            parameter.requires_grad_(False)
    return model


def set_train_mode(model: nn.Module, blocks: int) -> nn.Module:
    """train() for everything but the frozen modules, whose BatchNorms keep their statistics."""
    model.train()
    for module in frozen_modules(model, blocks):
        module.eval()
    return model


def param_groups(model: nn.Module, lr: float, backbone_scale: float) -> list[dict[str, Any]]:
    """Trainable parameters in two groups (backbone, the rest), each with its lr scale."""
    trunk = {id(p) for p in model.features.features.parameters()}
    trainable = [p for p in model.parameters() if p.requires_grad]
    backbone = [p for p in trainable if id(p) in trunk]
    rest = [p for p in trainable if id(p) not in trunk]
    groups = [{"params": rest, "lr": lr, "scale": 1.0}]
    if backbone:
        groups.append({"params": backbone, "lr": lr * backbone_scale, "scale": backbone_scale})
    return groups
