"""SiamMask's three exported subgraphs as torch modules, and the feeds they are traced with.

Template, search and refine are separate fixed-size graphs because the model has size-dependent
Python control flow (the adjust layer crops only template maps, spec §8.3) and because the
template runs once per target while search and refine run every frame. Each wrapper calls one
pure entry point of `SiamMask`; the correlation function is passed explicitly, so exporting the
`unrolled` strategy changes nothing outside this trace.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from masktrt.export.depthcorr import XCorr
from masktrt.export.xcorr import as_conv_weight, weight_correlation
from masktrt.trackers.siammask.spec import (EXEMPLAR_SIZE, INSTANCE_SIZE, IO_NAMES, REFIT_WEIGHTS,
                                    SCORE_SIZE)

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


def batched_feeds(model: nn.Module, xcorr: XCorr, positions: tuple[tuple[int, int], ...]
                  ) -> dict[str, dict[str, np.ndarray]]:
    """Search and refine feeds of len(positions) distinct targets stacked along the batch (each
    its own noise crops, kernels and refine cell; pos becomes Bx2): what a batched graph is
    traced and checked with, so that no op is specialised to one target."""
    samples = [reference_feeds(model, *noise_crops(seed=k), pos, xcorr)
               for k, pos in enumerate(positions)]
    stacked = {g: {n: np.concatenate([s[g][n] for s in samples]) for n in samples[0][g]}
               for g in ("search", "refine")}
    stacked["refine"]["pos"] = np.stack([s["refine"]["pos"] for s in samples])
    return stacked


def noise_crops(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Uniform 0..255 template and search crops: enough to trace and to compare two graphs."""
    rng = np.random.default_rng(seed)
    z = rng.uniform(0, 255, (1, 3, EXEMPLAR_SIZE, EXEMPLAR_SIZE)).astype(np.float32)
    x = rng.uniform(0, 255, (1, 3, INSTANCE_SIZE, INSTANCE_SIZE)).astype(np.float32)
    return z, x


def center_pos() -> tuple[int, int]:
    """The score-map centre, used when one tracing position is needed (pos stays an input)."""
    return (SCORE_SIZE // 2, SCORE_SIZE // 2)
