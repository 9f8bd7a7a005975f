"""The Refine module of the sharp model (spec §2.5), test path only, export-friendly.

The windows around the chosen cell are gathered with `index_select` on `arange + stride*pos`
rather than Python slicing: slicing with ints taken from `pos` would make the traced graph
treat pos as a shape tensor (TensorRT bakes it in) or freeze it as a constant.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from masktrt.trackers.siammask.export.channels import SiamMaskSpec
from masktrt.trackers.siammask.spec import MASK_OUT_SIZE

# (zero padding, stride in the feature map per score cell, window side) for p0, p1, p2:
# the window is the exemplar-sized (127 px) region under the cell, at each feature resolution.
P0_WINDOW = (16, 4, 61)
P1_WINDOW = (8, 2, 31)
P2_WINDOW = (4, 1, 15)


def conv3(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, padding=1)


def two_convs(cin: int, mid: int, cout: int) -> nn.Sequential:
    """Conv-ReLU-Conv-ReLU (keys .0 and .2)."""
    return nn.Sequential(conv3(cin, mid), nn.ReLU(inplace=True), conv3(mid, cout),
                         nn.ReLU(inplace=True))


def window(feature: torch.Tensor, pos: torch.Tensor, geometry: tuple[int, int, int]) -> torch.Tensor:
    """Zero-pad, then gather rows/cols stride*pos .. stride*pos+side-1 as data-dependent indices."""
    pad, stride, side = geometry
    padded = F.pad(feature, (pad, pad, pad, pad))
    offsets = torch.arange(side, device=feature.device, dtype=pos.dtype)
    rows = offsets + stride * pos[0]
    cols = offsets + stride * pos[1]
    return padded.index_select(2, rows).index_select(3, cols)


def pick_cell(corr: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """corr[:, :, y, x] as Bx Cx1x1, via index_select so pos stays a data tensor."""
    return corr.index_select(2, pos[0:1]).index_select(3, pos[1:2])


def window_many(feature: torch.Tensor, pos: torch.Tensor,
                geometry: tuple[int, int, int]) -> torch.Tensor:
    """`window` for a batch of targets, pos Bx2: each target's rows and columns gathered at its
    own cell (GatherElements on data indices, so pos stays data and B stays dynamic)."""
    pad, stride, side = geometry
    padded = F.pad(feature, (pad, pad, pad, pad))
    offsets = torch.arange(side, device=feature.device, dtype=pos.dtype)
    rows = offsets[None, :] + stride * pos[:, 0:1]  # B x side
    cols = offsets[None, :] + stride * pos[:, 1:2]
    channels, width = padded.shape[1], padded.shape[3]
    picked = padded.gather(2, rows[:, None, :, None].expand(-1, channels, -1, width))
    return picked.gather(3, cols[:, None, None, :].expand(-1, channels, side, -1))


def pick_cell_many(corr: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """corr[b, :, y_b, x_b] as BxCx1x1 for pos Bx2, via GatherElements on the flattened map."""
    channels, width = corr.shape[1], corr.shape[3]
    index = (pos[:, 0:1] * width + pos[:, 1:2])[:, None, :].expand(-1, channels, -1)
    return corr.flatten(2).gather(2, index)[..., None]


def upsample(x: torch.Tensor, side: int) -> torch.Tensor:
    """Legacy nearest (floor, asymmetric), as the official F.upsample(size=...)."""
    return F.interpolate(x, size=(side, side), mode="nearest")


class Refine(nn.Module):
    """Top-down mask decoder from the corr feature at one cell and the p0/p1/p2 windows."""

    def __init__(self, spec: SiamMaskSpec) -> None:
        super().__init__()
        m0, m1, m2 = spec.refine_mid
        o0, o1, o2 = spec.refine_out
        self.v0 = two_convs(spec.stem, m0, o0)
        self.v1 = two_convs(spec.p1, m1, o1)
        self.v2 = two_convs(spec.p2, m2, o2)
        self.h2 = two_convs(o2, o2, o2)
        self.h1 = two_convs(o1, o1, o1)
        self.h0 = two_convs(o0, o0, o0)
        self.deconv = nn.ConvTranspose2d(spec.hidden, o2, P2_WINDOW[2], P2_WINDOW[2])
        self.post0 = conv3(o2, o1)
        self.post1 = conv3(o1, o0)
        self.post2 = conv3(o0, 1)

    def forward(self, p0: torch.Tensor, p1: torch.Tensor, p2: torch.Tensor,
                corr: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """pos: int64 [2] = (row, col) on the score map -> mask logits 1x1x127x127; pos Bx2
        (one cell per target, features stacked) -> Bx1x127x127 (the batched refine graph)."""
        cell, win = (pick_cell_many, window_many) if pos.dim() == 2 else (pick_cell, window)
        out = self.deconv(cell(corr, pos))
        out = self.post0(upsample(self.h2(out) + self.v2(win(p2, pos, P2_WINDOW)), P1_WINDOW[2]))
        out = self.post1(upsample(self.h1(out) + self.v1(win(p1, pos, P1_WINDOW)), P0_WINDOW[2]))
        return self.post2(upsample(self.h0(out) + self.v0(win(p0, pos, P0_WINDOW)), MASK_OUT_SIZE))
