"""SiamMask's training losses (spec §5), on batched network outputs.

Layouts follow the tracker's decoding: cls channels 0..A-1 are background and A..2A-1
foreground of anchors 0..A-1; loc channel c*A + a is coordinate c of anchor a.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from masktrt.trackers.siammask.spec import ANCHOR_NUM


def cls_loss(cls: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """0.5 NLL over positive anchors + 0.5 NLL over negative anchors, each averaged separately.

    cls Bx2AxSxS logits; labels BxAxSxS in {-1 ignore, 0 negative, 1 positive}. A class with no
    labelled anchor in the batch contributes 0, so a pair without positives still trains."""
    b, _, h, w = cls.shape
    logp = F.log_softmax(cls.reshape(b, 2, ANCHOR_NUM, h, w), dim=1)
    total = cls.new_zeros(())
    for value in (0, 1):
        chosen = labels == value
        if chosen.any():
            total = total - 0.5 * logp[:, value][chosen].mean()
    return total


def box_loss(loc: torch.Tensor, deltas: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Sum over anchors of weight * L1 over the 4 deltas, divided by the batch size.

    loc Bx4AxSxS; deltas Bx4xAxSxS; weights BxAxSxS (1/num_pos on positives, else 0)."""
    b, _, h, w = loc.shape
    diff = (loc.reshape(b, 4, ANCHOR_NUM, h, w) - deltas).abs().sum(dim=1)
    return (diff * weights).sum() / b


def mask_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Soft-margin loss mean(log(1 + exp(-y m))) with labels y = ±1 (spec §5)."""
    return F.soft_margin_loss(logits, target)
