"""SiamMask "sharp" (spec §1-2) with three pure inference entry points for export.

The module tree reproduces the official checkpoint names (`features.features.*`,
`features.downsample.downsample.*`, `rpn_model.{cls,loc}.*`, `mask_model.mask.*`,
`refine_model.*`). Nothing is cached on the model: `template()` returns the kernels and the
caller passes them to `search()`, exactly the split of the exported subgraphs.
"""
from __future__ import annotations

import torch
from torch import nn

from masktrt.export.depthcorr import DepthCorr, XCorr, xcorr_depthwise
from masktrt.trackers.siammask.export.refine import Refine
from masktrt.export.backbones import RESNET50, build_backbone
from masktrt.export.backbones.resnet import conv_bn
from masktrt.trackers.siammask.export.channels import SiamMaskSpec

CROP_BELOW = 20  # adjust layer: maps narrower than this are template maps and get cropped
CROP_BORDER = 4  # ... by this many cells on each side (15x15 -> 7x7)


class Adjust(nn.Module):
    """1x1 conv + BN (no ReLU), then the template-only centre crop (official ResDownS)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.downsample = conv_bn(cin, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.downsample(x)
        if x.shape[3] < CROP_BELOW:  # decided by the (static) input size, as in the official code
            x = x[:, :, CROP_BORDER:-CROP_BORDER, CROP_BORDER:-CROP_BORDER]
        return x


class Features(nn.Module):
    """Official ResDown: the trunk (`features`, any backbone) and the adjust layer
    (`downsample`, from the trunk's last map)."""

    def __init__(self, spec: SiamMaskSpec) -> None:
        super().__init__()
        self.features = build_backbone(spec)
        self.downsample = Adjust(spec.p3, spec.adjust)

    def forward(self, x: torch.Tensor) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
        """(p0, p1, p2, p3) and the adjusted last map."""
        trunk = self.features(x)
        return trunk, self.downsample(trunk[3])


class RPN(nn.Module):
    """Official UP: the cls and loc depth-wise correlation heads."""

    def __init__(self, spec: SiamMaskSpec) -> None:
        super().__init__()
        self.cls = DepthCorr(spec.adjust, spec.hidden, spec.cls_out)
        self.loc = DepthCorr(spec.adjust, spec.hidden, spec.loc_out)


class MaskBranch(nn.Module):
    """Official MaskCorr. Its 3969-channel head exists so checkpoints load; inference uses
    only the correlation feature (Refine replaces the 63x63 per-cell mask)."""

    def __init__(self, spec: SiamMaskSpec) -> None:
        super().__init__()
        self.mask = DepthCorr(spec.adjust, spec.hidden, spec.mask_out)


class SiamMask(nn.Module):
    """The sharp model on a backbone chosen by name; `spec` gives every channel count.

    Inputs are BGR 0..255 crops for every backbone (a backbone that wants normalised RGB
    normalises inside its trunk), so the graphs' interface never depends on the backbone."""

    def __init__(self, width: float = 1.0, backbone: str = RESNET50) -> None:
        super().__init__()
        self.spec = SiamMaskSpec(float(width), backbone)
        self.features = Features(self.spec)
        self.rpn_model = RPN(self.spec)
        self.mask_model = MaskBranch(self.spec)
        self.refine_model = Refine(self.spec)

    def template(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """z 1x3x127x127 (BGR 0..255) -> (k_cls, k_loc, k_mask), each 1xHx5x5."""
        _, zf = self.features(z)
        return (self.rpn_model.cls.make_kernel(zf), self.rpn_model.loc.make_kernel(zf),
                self.mask_model.mask.make_kernel(zf))

    def search(self, x: torch.Tensor, k_cls: torch.Tensor, k_loc: torch.Tensor,
               k_mask: torch.Tensor, xcorr: XCorr = xcorr_depthwise
               ) -> tuple[torch.Tensor, ...]:
        """x 1x3x255x255 -> (cls 1x10x25x25, loc 1x20x25x25, corr 1xHx25x25, p0, p1, p2).

        The 3969-channel mask head is not evaluated: its output is unused in sharp mode.
        """
        (p0, p1, p2, _), xf = self.features(x)
        cls = self.rpn_model.cls(xf, k_cls, xcorr)
        loc = self.rpn_model.loc(xf, k_loc, xcorr)
        corr = self.mask_model.mask.correlate(xf, k_mask, xcorr)
        return cls, loc, corr, p0, p1, p2

    def refine(self, p0: torch.Tensor, p1: torch.Tensor, p2: torch.Tensor,
               corr: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """Mask logits 1x1x127x127 at score cell pos = int64 [2] (row, col)."""
        return self.refine_model(p0, p1, p2, corr, pos)
