"""The three exported subgraphs as torch modules, and their tracing to ONNX.

Template, search and refine are separate fixed-size graphs because the model has size-dependent
Python control flow (the adjust layer crops only template maps, spec §8.3) and because the
template runs once per target while search and refine run every frame. Each wrapper calls one
pure entry point of `SiamMask`; the correlation function is passed explicitly, so exporting the
`unrolled` strategy changes nothing outside this trace.

Exporter: torch.onnx.export with dynamo=False (the TorchScript-based exporter). In torch 2.13 it
is deprecated but still the most predictable for this model: static shapes, one ONNX node per
torch op, BatchNorm folded into Conv by constant folding, and `index_select` with `arange +
stride*pos` kept as Gather on a runtime tensor. Its highest opset is 20.
"""
from __future__ import annotations

import io
import warnings

import numpy as np
import torch
from torch import nn

from masktrt.errors import MasktrtError
from masktrt.export.models.depthcorr import XCorr
from masktrt.specs.siammask import EXEMPLAR_SIZE, INSTANCE_SIZE, SCORE_SIZE
from masktrt.export.xcorr import as_conv_weight, weight_correlation
from masktrt.runtime.contract import GRAPHS, IO_NAMES, REFIT_WEIGHTS, io_names

MIN_OPSET = 13  # Resize with nearest_mode/coordinate modes as used here, Slice/Pad as inputs, Gather


def max_opset() -> int:
    """The TorchScript exporter's highest opset in the installed torch (20 in 2.1..2.13)."""
    from torch.onnx import _constants

    return int(getattr(_constants, "ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET", 20))


def check_opset(opset: int) -> None:
    top = max_opset()
    if not MIN_OPSET <= opset <= top:
        raise MasktrtError(f"opset {opset} is not supported",
                           f"choose an opset from {MIN_OPSET} to {top} (17 is the tested default)")


class TemplateGraph(nn.Module):
    """z -> (k_cls, k_loc, k_mask)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self.model.template(z)


class SearchGraph(nn.Module):
    """(x, k_cls, k_loc, k_mask) -> (cls, loc, corr, p0, p1, p2); no 3969-channel mask head."""

    def __init__(self, model: nn.Module, xcorr: XCorr) -> None:
        super().__init__()
        self.model = model
        self.xcorr = xcorr

    def forward(self, x: torch.Tensor, k_cls: torch.Tensor, k_loc: torch.Tensor,
                k_mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self.model.search(x, k_cls, k_loc, k_mask, xcorr=self.xcorr)


class RefitSearchGraph(nn.Module):
    """x -> (cls, loc, corr, p0, p1, p2) with the kernels as named buffers k_cls, k_loc, k_mask.

    The buffers are Cx1xhxw depth-wise Conv weights, traced to initializers of those names that
    the Conv uses directly. Their values (the kernels of the export's noise template) are
    PLACEHOLDERS: the runtime refits them with each target's template output before searching.
    """

    def __init__(self, model: nn.Module, kernels: dict[str, torch.Tensor]) -> None:
        super().__init__()
        self.model = model
        for name in REFIT_WEIGHTS:
            self.register_buffer(name, as_conv_weight(kernels[name]).clone())

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        k_cls, k_loc, k_mask = (getattr(self, n) for n in REFIT_WEIGHTS)
        return self.model.search(x, k_cls, k_loc, k_mask, xcorr=weight_correlation)


class RefineGraph(nn.Module):
    """(p0, p1, p2, corr, pos int64[2]) -> mask logits 1x1x127x127."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, p0: torch.Tensor, p1: torch.Tensor, p2: torch.Tensor, corr: torch.Tensor,
                pos: torch.Tensor) -> torch.Tensor:
        return self.model.refine(p0, p1, p2, corr, pos)


def graph_modules(model: nn.Module, xcorr: XCorr) -> dict[str, nn.Module]:
    return {"template": TemplateGraph(model), "search": SearchGraph(model, xcorr),
            "refine": RefineGraph(model)}


@torch.no_grad()
def run_torch(model: nn.Module, graph: str, feeds: dict[str, np.ndarray], xcorr: XCorr
              ) -> dict[str, np.ndarray]:
    """The PyTorch reference of one graph: its entry point on `feeds`, outputs by name."""
    inputs, outputs = IO_NAMES[graph]
    args = [torch.from_numpy(np.ascontiguousarray(feeds[n])) for n in inputs]
    if graph == "search":
        result = model.search(*args, xcorr=xcorr)
    else:
        result = getattr(model, graph)(*args)
    result = result if isinstance(result, (tuple, list)) else (result,)
    return {n: t.detach().numpy() for n, t in zip(outputs, result)}


def refine_feeds(search_out: dict[str, np.ndarray], pos: tuple[int, int]) -> dict[str, np.ndarray]:
    return {"p0": search_out["p0"], "p1": search_out["p1"], "p2": search_out["p2"],
            "corr": search_out["corr"], "pos": np.asarray(pos, dtype=np.int64)}


def reference_feeds(model: nn.Module, z: np.ndarray, x: np.ndarray, pos: tuple[int, int],
                    xcorr: XCorr) -> dict[str, dict[str, np.ndarray]]:
    """Inputs of each graph computed the way the tracker chains them, from one crop pair.

    Used to trace (shapes come from the model, never re-typed) and to check that post-processing
    of a graph leaves its outputs unchanged.
    """
    kernels = run_torch(model, "template", {"z": z}, xcorr)
    search_out = run_torch(model, "search", {"x": x, **kernels}, xcorr)
    return {"template": {"z": z}, "search": {"x": x, **kernels},
            "refine": refine_feeds(search_out, pos)}


def noise_crops(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Uniform 0..255 template and search crops: enough to trace and to compare two graphs."""
    rng = np.random.default_rng(seed)
    z = rng.uniform(0, 255, (1, 3, EXEMPLAR_SIZE, EXEMPLAR_SIZE)).astype(np.float32)
    x = rng.uniform(0, 255, (1, 3, INSTANCE_SIZE, INSTANCE_SIZE)).astype(np.float32)
    return z, x


def trace_to_onnx(module: nn.Module, name: str, feeds: dict[str, np.ndarray], opset: int,
                  correlation: str = "dynamic") -> bytes:
    """One subgraph as serialized ONNX (static shapes, batch 1, names from `io_names`)."""
    inputs, outputs = io_names(name, correlation)
    args = tuple(torch.from_numpy(np.ascontiguousarray(feeds[n])) for n in inputs)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # The TorchScript exporter's deprecation notice and tracer warnings about converting
        # tensor shapes to Python ints (intended: every shape here is static).
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), args, buffer, dynamo=False, opset_version=opset,
                          input_names=list(inputs), output_names=list(outputs),
                          do_constant_folding=True)
    return buffer.getvalue()


def center_pos() -> tuple[int, int]:
    """The score-map centre, used when one tracing position is needed (pos stays an input)."""
    return (SCORE_SIZE // 2, SCORE_SIZE // 2)


__all__ = ["GRAPHS", "IO_NAMES", "graph_modules", "run_torch", "refine_feeds", "reference_feeds", "noise_crops",
           "RefitSearchGraph", "trace_to_onnx", "check_opset", "max_opset", "center_pos"]
