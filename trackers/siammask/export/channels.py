"""Channel counts of the SiamMask "sharp" network, in one place (spec siammask.md §1-2).

The exporter, the checkpoint loader and the small demo model all read the widths from here
instead of re-typing 256 or 1024. `width` scales every hidden channel count consistently (a
multiplier; 1.0 = the official network whose state dict is the 356-key manifest); the fixed
interfaces (3 input channels, 2A/4A RPN outputs, the 63x63 mask head, 1 logit) never scale.
`backbone` names the trunk: ResNet-50's tap channels scale with `width` (the official layout);
EfficientNet-Lite0's are fixed (its ImageNet weights define them), only the heads scale.
"""
from __future__ import annotations

from dataclasses import dataclass

from masktrt.export.backbones import RESNET50, check_backbone
from masktrt.trackers.siammask.spec import ANCHOR_NUM

MIN_CHANNELS = 4  # the narrowest official layer (Refine's 4-channel level); never scale below it
MASK_HEAD_SIDE = 63  # the base model's per-cell mask (3969 channels), kept only so weights load
BOTTLENECK_EXPANSION = 4
LITE0_TAPS = (16, 24, 40, 112)  # p0..p3 of the cut Lite0 (backbones/efficientnet_lite.py)


def scaled(channels: int, width: float) -> int:
    """An official channel count at `width`, never below MIN_CHANNELS (identity at width 1)."""
    return max(MIN_CHANNELS, int(round(channels * width)))


@dataclass(frozen=True)
class SiamMaskSpec:
    """Every channel count of the network; `SiamMaskSpec()` is the official model."""

    width: float = 1.0
    backbone: str = RESNET50

    def __post_init__(self) -> None:
        check_backbone(self.backbone)

    @property
    def taps(self) -> tuple[int, int, int, int]:
        """Channels of the trunk's p0, p1, p2, p3."""
        if self.backbone != RESNET50:
            return LITE0_TAPS
        p0 = scaled(64, self.width)
        return (p0, *(planes * BOTTLENECK_EXPANSION for planes in self.planes))

    @property
    def stem(self) -> int:
        """p0 channels (ResNet: conv1 output, 64)."""
        return self.taps[0]

    @property
    def planes(self) -> tuple[int, int, int]:
        """Bottleneck inner widths of layer1..3 (64, 128, 256)."""
        return tuple(scaled(c, self.width) for c in (64, 128, 256))

    @property
    def blocks(self) -> tuple[int, int, int]:
        return (3, 4, 6)

    @property
    def p1(self) -> int:
        return self.taps[1]

    @property
    def p2(self) -> int:
        return self.taps[2]

    @property
    def p3(self) -> int:
        return self.taps[3]

    @property
    def adjust(self) -> int:
        """Adjust-layer output (256)."""
        return scaled(256, self.width)

    @property
    def hidden(self) -> int:
        """DepthCorr hidden width = kernel and corr-feature channels (256)."""
        return scaled(256, self.width)

    @property
    def cls_out(self) -> int:
        return 2 * ANCHOR_NUM

    @property
    def loc_out(self) -> int:
        return 4 * ANCHOR_NUM

    @property
    def mask_out(self) -> int:
        return MASK_HEAD_SIDE * MASK_HEAD_SIDE

    @property
    def refine_mid(self) -> tuple[int, int, int]:
        """Refine v0/v1/v2 first-conv widths (16, 64, 128)."""
        return tuple(scaled(c, self.width) for c in (16, 64, 128))

    @property
    def refine_out(self) -> tuple[int, int, int]:
        """Refine level widths 0/1/2 = v*/h* outputs (4, 16, 32); deconv emits level 2."""
        return tuple(scaled(c, self.width) for c in (4, 16, 32))

    def to_dict(self) -> dict:
        """Plain numbers for deploy.json and reports."""
        return {"backbone": self.backbone, "width": self.width, "stem": self.stem, "p1": self.p1, "p2": self.p2,
                "p3": self.p3, "adjust": self.adjust, "hidden": self.hidden,
                "cls_out": self.cls_out, "loc_out": self.loc_out, "mask_out": self.mask_out,
                "refine_mid": list(self.refine_mid), "refine_out": list(self.refine_out)}
