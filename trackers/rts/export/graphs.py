"""RTS's exported graphs as torch modules, one per graph of `masktrt.trackers.rts.spec`.

Each wrapper calls one pure entry point of `RTS` (network.py says why the network is split
this way). The learner graphs unroll a fixed number of closed-form GN steps
(`steepest_descent`), not the release's autograd: autograd cannot be traced, and one launch
per update keeps the 100 MB memory read once per step inside one engine with no host sync
(each step's alpha stays a device scalar). Memories arrive padded to a fixed slot count with
zero weights, which adds nothing to the gradient or the step length (§B6), so one static graph
serves a memory in any fill state. Graphs that apply a filter take the export's `Filtering`
(Conv with tensor weights, or MatMul + shifts: `steepest_descent`).
"""
from __future__ import annotations

import torch
from torch import nn

from masktrt.trackers.rts.export.steepest_descent import CONV, Filtering
from masktrt.trackers.rts.spec import (CLF_INIT_FEAT, CLF_LEARN_GRAPHS, FEAT, HEAD, LABEL_ENC,
                               SEG_LEARN_GRAPHS, STA, learn_iterations)


class FeatGraph(nn.Module):
    """im -> (l1, l2, l3, l4, seg_x, clf_x); every frame."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, im: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self.model.features(im)


class ClfInitFeatGraph(nn.Module):
    """im5 -> (clf_x5, clf_pool_in5); once per target (PrRoIPool stays on the host)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, im5: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.model.clf_init_features(im5)


class HeadGraph(nn.Module):
    """Features + both filters (inputs: they change after each update) -> (mask_logits, clf_scores)."""

    def __init__(self, model: nn.Module, ops: Filtering = CONV) -> None:
        super().__init__()
        self.model, self.ops = model, ops

    def forward(self, l1: torch.Tensor, l2: torch.Tensor, l3: torch.Tensor, l4: torch.Tensor,
                seg_x: torch.Tensor, clf_x: torch.Tensor, seg_filter: torch.Tensor,
                clf_filter: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.model.head(l1, l2, l3, l4, seg_x, clf_x, seg_filter, clf_filter, self.ops)


class LabelEncGraph(nn.Module):
    """mask -> (label, label_w); once per memory insert (cached per slot by the tracker)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.model.encode_label(mask)


class SegLearnGraph(nn.Module):
    """(seg_filter, seg_mem_x, seg_mem_y, seg_mem_w) -> seg_filter_out after `iters` steps."""

    def __init__(self, model: nn.Module, iters: int, ops: Filtering = CONV) -> None:
        super().__init__()
        self.model, self.iters, self.ops = model, iters, ops

    def forward(self, seg_filter: torch.Tensor, x: torch.Tensor, y: torch.Tensor,
                w: torch.Tensor) -> torch.Tensor:
        return self.model.seg_learn(seg_filter, x, y, w, self.iters, self.ops)


class ClfLearnGraph(nn.Module):
    """(clf_filter, clf_mem_x, clf_mem_y, clf_mem_w) -> clf_filter_out after `iters` steps."""

    def __init__(self, model: nn.Module, iters: int, ops: Filtering = CONV) -> None:
        super().__init__()
        self.model, self.iters, self.ops = model, iters, ops

    def forward(self, clf_filter: torch.Tensor, x: torch.Tensor, y: torch.Tensor,
                sw: torch.Tensor) -> torch.Tensor:
        return self.model.clf_learn(clf_filter, x, y, sw, self.iters, self.ops)


class StaGraph(nn.Module):
    """(im, box) -> sta_logits: the STA network, once per box-only start. The box is an input
    (rasterised inside by comparisons), so one graph serves every box; both 5-step learners
    are unrolled in it (batch 1, no memory: nothing to gain from splitting). It holds STA
    itself, which RTS carries outside its module tree, so the tracer sees its weights."""

    def __init__(self, model: nn.Module, ops: Filtering = CONV) -> None:
        super().__init__()
        self.sta, self.ops = model.sta, ops

    def forward(self, im: torch.Tensor, box: torch.Tensor) -> torch.Tensor:
        return self.sta.segment(im, box, self.ops)


def graph_modules(model: nn.Module, ops: Filtering = CONV) -> dict[str, nn.Module]:
    """Every graph of the spec, by name, applying filters with `ops`."""
    modules: dict[str, nn.Module] = {FEAT: FeatGraph(model), CLF_INIT_FEAT: ClfInitFeatGraph(model),
                                     HEAD: HeadGraph(model, ops), LABEL_ENC: LabelEncGraph(model),
                                     STA: StaGraph(model, ops)}
    modules |= {g: SegLearnGraph(model, learn_iterations(g), ops) for g in SEG_LEARN_GRAPHS}
    modules |= {g: ClfLearnGraph(model, learn_iterations(g), ops) for g in CLF_LEARN_GRAPHS}
    return modules
