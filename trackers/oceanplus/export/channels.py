"""Channel counts of OceanPlus (spec arn-rts.md §A1 and the state-dict manifests), in one place.

`width` scales every hidden channel count consistently (1.0 = the released network whose state
dict is the manifest) so tests can run the whole graph cheaply; the fixed interfaces (3 input
channels, 1 cls logit, 4 box distances, 2 mask logits, 1 LUT value) never scale.
`backbone` names the trunk (as `SiamMaskSpec`): ResNet-50's taps scale with `width` (the
released layout); EfficientNet-Lite0's are fixed by its ImageNet weights, only the rest scales.
"""
from __future__ import annotations

from dataclasses import dataclass

from masktrt.export.backbones import RESNET50, check_backbone
from masktrt.export.backbones.efficientnet_lite import tap_channels
from masktrt.export.backbones.resnet import ResNet50Widths, scaled
from masktrt.trackers.oceanplus.spec import EMBED, NECK

TOWER_DEPTH = 4  # conv+BN+ReLU blocks in each of bbox_tower and cls_tower
# mask decoder widths per stage at the (r4, r3, r2, r1) levels: stage 1 (MSS / MMS), stage 2
# (MMS `iter`), stage 3 (MMS `iter2`); each stage reads the previous stage's level features
STAGE_WIDTHS = ((64, 32, 16, 4), (32, 32, 16, 4), (16, 16, 8, 4))


@dataclass(frozen=True)
class OceanPlusChannels:
    """Every channel count of the network; `OceanPlusChannels()` is the released model."""

    width: float = 1.0
    backbone: str = RESNET50

    def __post_init__(self) -> None:
        check_backbone(self.backbone)

    @property
    def trunk(self) -> ResNet50Widths:
        """The shared ResNet-50 trunk (b1 = stem 64, b2 = p1 256, b3 = p2 512, p3 1024)."""
        return ResNet50Widths(self.width)

    @property
    def taps(self) -> tuple[int, int, int, int]:
        """Trunk outputs b1, b2, b3, p3 (ResNet: stem, layer1, layer2, layer3; Lite0: 16..112)."""
        if self.backbone != RESNET50:
            return tap_channels()
        t = self.trunk
        return (t.stem, t.p1, t.p2, t.p3)

    @property
    def neck(self) -> int:
        """Neck output = head width = zf/xf channels (256)."""
        return scaled(NECK, self.width)

    @property
    def embed(self) -> int:
        """ARN embedding = LUT key channels (64)."""
        return scaled(EMBED, self.width)

    def stage(self, index: int) -> tuple[int, int, int, int]:
        """Decoder stage `index` (0-2) widths at levels r4, r3, r2, r1."""
        return tuple(scaled(c, self.width) for c in STAGE_WIDTHS[index])

    @property
    def skips(self) -> tuple[int, int, int, int]:
        """Stage-1 inputs at levels r4, r3, r2, r1: neck, layer2, layer1, conv1 channels."""
        b1, b2, b3, _ = self.taps
        return (self.neck, b3, b2, b1)

    def to_dict(self) -> dict:
        """Plain numbers for deploy.json and reports."""
        stem, p1, p2, p3 = self.taps
        return {"backbone": self.backbone, "width": self.width, "stem": stem, "p1": p1,
                "p2": p2, "p3": p3, "neck": self.neck,
                "embed": self.embed, "stages": [list(self.stage(i)) for i in range(3)]}
