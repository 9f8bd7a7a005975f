"""Precise RoI pooling (PrRoIPool2D) as an exact closed form, for the classifier's filter init.

PrRoIPool averages the bilinearly interpolated feature map over each bin (zero outside the
map). Bilinear interpolation is a sum of separable hat functions, so each bin's integral is
`wy^T F wx` with per-row and per-column weights from the hat's antiderivative: no sampling, no
CUDA extension, and the same few lines port to NumPy for the host (where the deployment runs
it, §B6: no ONNX op exists). RoI coordinates are scaled by `scale` with no half-pixel offset,
and an empty bin gives 0, as in the released kernel.
"""
from __future__ import annotations

import torch


def hat_integral(t: torch.Tensor) -> torch.Tensor:
    """Antiderivative of max(0, 1 - |t|) that is 0 at -inf and 1 at +inf."""
    left = torch.clamp(t + 1, min=0) ** 2 / 2
    right = 1 - torch.clamp(1 - t, min=0) ** 2 / 2
    return torch.where(t < 0, left, right)


def bin_weights(start: torch.Tensor, length: torch.Tensor, bins: int, size: int) -> torch.Tensor:
    """(bins, size): the integral of each pixel's hat over each bin along one axis."""
    edges = start + length * torch.arange(bins + 1, dtype=start.dtype) / bins
    grid = torch.arange(size, dtype=start.dtype)
    cdf = hat_integral(edges[:, None] - grid[None, :])
    return cdf[1:] - cdf[:-1]


def prroi_pool(feat: torch.Tensor, boxes: torch.Tensor, bins: int, scale: float) -> torch.Tensor:
    """feat BxCxHxW, boxes Bx4 (x, y, w, h in image pixels, one per sample) -> BxCxbinsxbins."""
    out = []
    for sample, box in zip(feat, boxes.to(feat.dtype) * scale):
        wy = bin_weights(box[1], box[3], bins, feat.shape[-2])
        wx = bin_weights(box[0], box[2], bins, feat.shape[-1])
        area = (box[2] / bins) * (box[3] / bins)
        pooled = torch.einsum("py,cyx,qx->cpq", wy, sample, wx)
        out.append(pooled / area if float(area) > 0 else torch.zeros_like(pooled))
    return torch.stack(out)
