"""Correlation strategies for the exported search graph, chosen by name at export time.

The depth-wise correlation takes the template's kernel as a runtime tensor, which is the one
construct of SiamMask that TensorRT versions disagree on (spec siammask.md §8.1, deployment.md):

- `dynamic`: one grouped Conv whose weight is a graph input (TensorRT 8.5+, TensorRT-RTX,
  ONNX Runtime). Fewest nodes, fastest where accepted.
- `unrolled`: the same correlation written as the sum over the kh*kw kernel taps of a shifted
  output-sized slice of the search map times that tap (Slice + Mul + Add). Exact in real
  arithmetic (only the summation order differs from the conv), and every TensorRT builds it,
  including 8.2 on Jetson Nano/TX2.

In both cases the kernels stay inputs of search.onnx, so the runtime contract is the same.
The function is passed explicitly to `SiamMask.search(..., xcorr=...)`: nothing global changes.
"""
from __future__ import annotations

from masktrt.errors import MasktrtError
from masktrt.export.models.depthcorr import XCorr, xcorr_depthwise, xcorr_unrolled

STRATEGIES: dict[str, XCorr] = {"dynamic": xcorr_depthwise, "unrolled": xcorr_unrolled}


def correlation(name: str) -> XCorr:
    """The torch correlation function for strategy `name`."""
    if name not in STRATEGIES:
        raise MasktrtError(f"unknown correlation strategy '{name}'",
                           f"choose one of: {', '.join(STRATEGIES)}")
    return STRATEGIES[name]
