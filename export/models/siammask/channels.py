"""Channel counts of the SiamMask "sharp" network, in one place (spec siammask.md §1-2).

The exporter, the checkpoint loader and the small demo model all read the widths from here
instead of re-typing 256 or 1024. `width` scales every hidden channel count consistently (a
multiplier; 1.0 = the official network whose state dict is the 356-key manifest); the fixed
interfaces (3 input channels, 2A/4A RPN outputs, the 63x63 mask head, 1 logit) never scale.
"""
from __future__ import annotations

from dataclasses import dataclass

from masktrt.specs.siammask import ANCHOR_NUM

MIN_CHANNELS = 4  # the narrowest official layer (Refine's 4-channel level); never scale below it
MASK_HEAD_SIDE = 63  # the base model's per-cell mask (3969 channels), kept only so weights load
BOTTLENECK_EXPANSION = 4


def scaled(channels: int, width: float) -> int:
    """An official channel count at `width`, never below MIN_CHANNELS (identity at width 1)."""
    return max(MIN_CHANNELS, int(round(channels * width)))


@dataclass(frozen=True)
class SiamMaskSpec:
    """Every channel count of the network; `SiamMaskSpec()` is the official model."""

    width: float = 1.0

    @property
    def stem(self) -> int:
        """conv1 output = p0 channels (64)."""
        return scaled(64, self.width)

    @property
    def planes(self) -> tuple[int, int, int]:
        """Bottleneck inner widths of layer1..3 (64, 128, 256)."""
        return tuple(scaled(c, self.width) for c in (64, 128, 256))

    @property
    def blocks(self) -> tuple[int, int, int]:
        return (3, 4, 6)

    @property
    def p1(self) -> int:
        return self.planes[0] * BOTTLENECK_EXPANSION

    @property
    def p2(self) -> int:
        return self.planes[1] * BOTTLENECK_EXPANSION

    @property
    def p3(self) -> int:
        return self.planes[2] * BOTTLENECK_EXPANSION

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
        return {"width": self.width, "stem": self.stem, "p1": self.p1, "p2": self.p2,
                "p3": self.p3, "adjust": self.adjust, "hidden": self.hidden,
                "cls_out": self.cls_out, "loc_out": self.loc_out, "mask_out": self.mask_out,
                "refine_mid": list(self.refine_mid), "refine_out": list(self.refine_out)}
