"""Bicubic x2 upsampling (PyTorch's: align_corners=False, A = -0.75, borders clamped) as fixed
depthwise convolutions: an exact rewrite of the decoder's two `F.interpolate(mode="bicubic")`.

Why: a 2x bicubic with align_corners=False samples the input at i/2 - 0.25, so even outputs use
one fixed 4-tap filter (t = 0.75) and odd outputs another (t = 0.25), over the input padded by
edge replication (PyTorch clamps indices). Written that way the graph holds an edge Pad, one
depthwise Conv with two 5-tap phases per channel, and a reshape that interleaves them, per axis.
This takes the runtime's cubic convention out of the question (ONNX Runtime, TensorRT's kCUBIC
and PyTorch need not agree on coefficients or borders: every graph now only convolves), and it
is fast where a runtime's cubic Resize is slow: ONNX Runtime's CPU Resize took 83 % of the
full-size head (1.15 s of ~1.4 s per frame, measured with its profiler). Float32 rounding differs
from PyTorch's kernel by ~1e-7 relative (tests/export/test_rts_bicubic.py).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

CUBIC_A = -0.75  # PyTorch's (and OpenCV's) cubic convolution coefficient


def cubic_weights(t: float, a: float = CUBIC_A) -> list[float]:
    """The 4 tap weights at fractional offset t (taps at floor-1 .. floor+2)."""
    def near(x: float) -> float:  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x: float) -> float:  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


PHASES = (cubic_weights(0.75) + [0.0], [0.0] + cubic_weights(0.25))  # even, odd outputs


def phase_kernel(channels: int, dim: int) -> torch.Tensor:
    """(2C, 1, 5, 1) or (2C, 1, 1, 5): both phases for every channel, along `dim` (-2 or -1)."""
    taps = torch.tensor(PHASES, dtype=torch.float32)  # 2 x 5
    shape = (2, 1, 5, 1) if dim == -2 else (2, 1, 1, 5)
    return taps.reshape(shape).repeat(channels, 1, 1, 1)


def double(x: torch.Tensor, kernel: torch.Tensor, dim: int) -> torch.Tensor:
    """x2 along `dim` (-2: height, -1: width) with that axis' `phase_kernel`."""
    n, c, h, w = x.shape
    pad = (0, 0, 2, 2) if dim == -2 else (2, 2, 0, 0)
    phases = F.conv2d(F.pad(x, pad, mode="replicate"), kernel.to(x.dtype), groups=c)
    phases = phases.reshape(n, c, 2, h, w)
    if dim == -2:
        return phases.permute(0, 1, 3, 2, 4).reshape(n, c, 2 * h, w)
    return phases.permute(0, 1, 3, 4, 2).reshape(n, c, h, 2 * w)


class Bicubic(nn.Module):
    """`F.interpolate(x, size, mode="bicubic", align_corners=False)` for `channels`-channel maps;
    the exact-x2 case (every call in RTS's decoder) as convolutions. The phase kernels are
    non-persistent buffers: constants of the graph, not weights of the checkpoint."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.register_buffer("rows", phase_kernel(channels, -2), persistent=False)
        self.register_buffer("cols", phase_kernel(channels, -1), persistent=False)

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        if tuple(size) == (2 * x.shape[-2], 2 * x.shape[-1]):
            return double(double(x, self.cols, -1), self.rows, -2)
        return F.interpolate(x, size=tuple(size), mode="bicubic", align_corners=False)
