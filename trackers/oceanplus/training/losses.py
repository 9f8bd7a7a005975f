"""OceanPlus's training losses on batched network outputs (Ocean + ARN paper, eq. 5).

cls: balanced binary cross-entropy on the sigmoid logits (half the weight on positives, half on
negatives, each averaged separately: a 25x25 map has ~10 positives among 625 cells).
box: the IoU loss -log((I + 1) / (U + 1)) of the l,t,r,b distances, averaged over the cells
inside the target box. mask: BCE on the foreground logit (fg - bg, whose sigmoid is the
exported mask_prob) plus lambda = 0.1 times the contour term BCE(p * contour, contour).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

CONTOUR_WEIGHT = 0.1  # lambda of the paper's eq. 5


def cls_loss(cls: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """cls Bx1xRxR logits, labels BxRxR in {0, 1}; a class absent from the batch adds 0."""
    per_cell = F.binary_cross_entropy_with_logits(cls[:, 0], labels, reduction="none")
    total = cls.new_zeros(())
    for value in (0.0, 1.0):
        chosen = labels == value
        if chosen.any():
            total = total + 0.5 * per_cell[chosen].mean()
    return total


def iou_loss(bbox: torch.Tensor, ltrb: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """bbox and ltrb Bx4xRxR (distances, crop px), weight BxRxR; 0 when nothing is weighted."""
    area_p = (bbox[:, 0] + bbox[:, 2]) * (bbox[:, 1] + bbox[:, 3])
    area_t = (ltrb[:, 0] + ltrb[:, 2]) * (ltrb[:, 1] + ltrb[:, 3])
    w_i = torch.minimum(bbox[:, 0], ltrb[:, 0]) + torch.minimum(bbox[:, 2], ltrb[:, 2])
    h_i = torch.minimum(bbox[:, 1], ltrb[:, 1]) + torch.minimum(bbox[:, 3], ltrb[:, 3])
    inter = w_i.clamp(min=0) * h_i.clamp(min=0)
    losses = -torch.log((inter + 1.0) / (area_p + area_t - inter + 1.0))
    total = weight.sum()
    return (losses * weight).sum() / total if total > 0 else bbox.new_zeros(())


def foreground_logit(logits: torch.Tensor) -> torch.Tensor:
    """Bx2xSxS decoder logits -> Bx1xSxS logit whose sigmoid is softmax's foreground."""
    return logits[:, 1:2] - logits[:, 0:1]


def mask_loss(logits: torch.Tensor, target: torch.Tensor, contour: torch.Tensor) -> torch.Tensor:
    """logits Bx2xSxS; target and contour Bx1xSxS in {0, 1} (0 when no pair is positive).

    The contour term BCE(p * y_b, y_b) is -y_b log p per pixel (pixels off the contour have
    prediction and label 0), averaged over all pixels like the first term."""
    if target.shape[0] == 0:
        return logits.new_zeros(())
    fg = foreground_logit(logits)
    content = F.binary_cross_entropy_with_logits(fg, target)
    edge = -(contour * F.logsigmoid(fg)).mean()
    return content + CONTOUR_WEIGHT * edge
