"""Depth-wise correlation heads (spec §2.2): SiamMask's cls, loc and mask branches.

The correlation is a free function so the exporter can swap it (e.g. for `xcorr_unrolled`,
which TensorRT builds without dynamic-weight convolutions) without touching the modules.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

XCorr = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def xcorr_depthwise(search: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Per-channel valid cross-correlation of BxCxHxW with BxCxhxw -> BxCx(H-h+1)x(W-w+1).

    As in the official code the batch is folded into the channels and one grouped conv runs
    (groups = B*C); at batch 1 that is a plain depth-wise conv whose weight is a runtime tensor.
    """
    b, c = kernel.shape[:2]
    x = search.reshape(1, b * c, search.shape[2], search.shape[3])
    k = kernel.reshape(b * c, 1, kernel.shape[2], kernel.shape[3])
    out = F.conv2d(x, k, groups=b * c)
    return out.reshape(b, c, out.shape[2], out.shape[3])


def xcorr_unrolled(search: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """The same correlation as a sum of h*w shifted slices times per-channel kernel taps.

    Only Slice/Mul/Add: any TensorRT version builds it, the kernel being an ordinary input.
    """
    kh, kw = kernel.shape[2], kernel.shape[3]
    oh, ow = search.shape[2] - kh + 1, search.shape[3] - kw + 1
    out = None
    for i in range(kh):
        for j in range(kw):
            term = search[:, :, i:i + oh, j:j + ow] * kernel[:, :, i:i + 1, j:j + 1]
            out = term if out is None else out + term
    return out


def conv_bn_relu(cin: int, cout: int, kernel: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


class DepthCorr(nn.Module):
    """conv_kernel (template) and conv_search (search) 3x3 valid convs, correlation, 1x1 head."""

    def __init__(self, cin: int, hidden: int, cout: int) -> None:
        super().__init__()
        self.conv_kernel = conv_bn_relu(cin, hidden, 3)
        self.conv_search = conv_bn_relu(cin, hidden, 3)
        self.head = nn.Sequential(nn.Conv2d(hidden, hidden, 1, bias=False),
                                  nn.BatchNorm2d(hidden), nn.ReLU(inplace=True),
                                  nn.Conv2d(hidden, cout, 1))

    def make_kernel(self, zf: torch.Tensor) -> torch.Tensor:
        """Adjusted 7x7 template map -> this head's 5x5 correlation kernel (once per target)."""
        return self.conv_kernel(zf)

    def correlate(self, xf: torch.Tensor, kernel: torch.Tensor,
                  xcorr: XCorr = xcorr_depthwise) -> torch.Tensor:
        """Adjusted 31x31 search map + kernel -> the 25x25 corr feature (before `head`)."""
        return xcorr(self.conv_search(xf), kernel)

    def forward(self, xf: torch.Tensor, kernel: torch.Tensor,
                xcorr: XCorr = xcorr_depthwise) -> torch.Tensor:
        return self.head(self.correlate(xf, kernel, xcorr))
