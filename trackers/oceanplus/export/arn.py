"""ARN, the attention retrieval network (`mask_model.sequential`; spec arn-rts.md §A1, §A2).

The look-up table (LUT) is the template's embedded 15x15 neck map (key, 64 channels) and the
first-frame mask resized to 15x15 (value). Both depend only on the first frame, so they are
computed once by the template graph (the released code recomputes them every frame); each
search position then retrieves a softmax(affinity)-weighted mask value: an attention map in
[0, 1] that is added to the search features before the mask decoder.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class ARN(nn.Module):
    """1x1 embeddings of search (`s_embed`) and template (`t_embed`) features, both with bias."""

    def __init__(self, channels: int, embed: int) -> None:
        super().__init__()
        self.s_embed = nn.Conv2d(channels, embed, 1)
        self.t_embed = nn.Conv2d(channels, embed, 1)

    def key(self, zf_ori: torch.Tensor) -> torch.Tensor:
        """The LUT key from the full 15x15 template neck map (not the 7x7 crop)."""
        return self.t_embed(zf_ori)

    def forward(self, xf: torch.Tensor, lut_key: torch.Tensor,
                lut_value: torch.Tensor) -> torch.Tensor:
        """Attention map Bx1xHxW in [0, 1] for the search neck map `xf`."""
        query = self.s_embed(xf)
        b, c, h, w = query.shape
        affinity = torch.matmul(query.flatten(2).transpose(1, 2), lut_key.flatten(2))
        weights = F.softmax(affinity / math.sqrt(c), dim=-1)  # over the LUT's positions
        retrieved = torch.matmul(weights, lut_value.flatten(2).transpose(1, 2))
        return torch.clamp(retrieved.reshape(b, 1, h, w), 0.0, 1.0)


def lut_value(z_mask: torch.Tensor, side: int) -> torch.Tensor:
    """The LUT value: the Bx1x127x127 template mask resized (bilinear, corners aligned)."""
    return F.interpolate(z_mask, size=(side, side), mode="bilinear", align_corners=True)
