"""Correlation strategies for the exported search graph, chosen by name at export time.

The depth-wise correlation takes the template's kernel as a runtime tensor, which is the one
construct of SiamMask that TensorRT versions disagree on (spec siammask.md §8.1, deployment.md):

- `dynamic`: one grouped Conv whose weight is a graph input (TensorRT 8.5+, TensorRT-RTX,
  ONNX Runtime). Fewest nodes, fastest where accepted.
- `unrolled`: the same correlation written as the sum over the kh*kw kernel taps of a shifted
  output-sized slice of the search map times that tap (Slice + Mul + Add). Exact in real
  arithmetic (only the summation order differs from the conv), and every TensorRT builds it,
  including 8.2 on Jetson Nano/TX2.
- `refit`: the kernels are not inputs at all but named initializers ("k_cls", "k_loc",
  "k_mask", shape Cx1xkhxkw) used directly as the depth-wise Conv's weights. TensorRT sees an
  ordinary convolution with constant weights (any version builds it, and it gets the normal conv
  kernels); the runtime builds the search engine refittable and writes each new target's
  kernels into those weights with TensorRT's Refitter. The values stored in search.onnx are
  placeholders (the export's noise template), never meaningful tracking kernels.

For `dynamic` and `unrolled` the kernels stay inputs of search.onnx. For all three, `correlation`
returns the torch function that computes the correlation from kernel *tensors* (the reference of
`run_torch` and the parity checks); `refit` is the depth-wise conv there, its exported graph
differing only in where the weights come from (`weight_correlation`, used by graphs.py).
The function is passed explicitly to `SiamMask.search(..., xcorr=...)`: nothing global changes.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from masktrt.errors import MasktrtError
from masktrt.export.depthcorr import XCorr, xcorr_depthwise, xcorr_unrolled

STRATEGIES: dict[str, XCorr] = {"dynamic": xcorr_depthwise, "unrolled": xcorr_unrolled,
                                "refit": xcorr_depthwise}
REFIT = "refit"


def correlation(name: str) -> XCorr:
    """The torch correlation function for strategy `name` (kernels as 1xCxhxw tensors)."""
    if name not in STRATEGIES:
        raise MasktrtError(f"unknown correlation strategy '{name}'",
                           f"choose one of: {', '.join(STRATEGIES)}")
    return STRATEGIES[name]


def as_conv_weight(kernel: torch.Tensor) -> torch.Tensor:
    """1xCxhxw template kernel -> Cx1xhxw depth-wise Conv weight (same memory order, so the
    runtime refits the template's output buffer as it is, without a reshape)."""
    if kernel.shape[0] != 1:
        raise MasktrtError(f"refit kernels are per target (batch 1), got shape {tuple(kernel.shape)}",
                           "export with batch-1 crops")
    return kernel.reshape(kernel.shape[1], 1, kernel.shape[2], kernel.shape[3])


def weight_correlation(search: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Depth-wise correlation whose Cx1xhxw weight is used by the Conv as it is (batch 1).

    Traced with `weight` a module buffer, the ONNX Conv's W input is that named initializer with
    no Reshape in between: what TensorRT needs to treat it as refittable conv weights.
    """
    return F.conv2d(search, weight, groups=weight.shape[0])
