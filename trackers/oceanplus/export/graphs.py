"""OceanPlus's exported graphs as torch modules, and the feeds they are traced with.

Three fixed-size graphs: `template` (once per target) and one track graph per search side
(255, 287), because the trunk's padding and the decoder's resize targets depend on the input
size and a sequence runs exactly one of them. Each wrapper calls one pure entry point of
`OceanPlus`; the correlation function is passed explicitly, as for SiamMask. The track feeds
chain from the template's outputs by name (`TARGET_STATE`), as the runtime tracker chains them.
"""
from __future__ import annotations

from collections.abc import Mapping

import cv2
import numpy as np
import torch
from torch import nn

from masktrt.export.xcorr import XCorr
from masktrt.trackers.oceanplus.spec import (EXEMPLAR_SIZE, INSTANCE_SIZES, SEARCH_INPUT, SPEC,
                                     TARGET_STATE, TEMPLATE, TEMPLATE_INPUT, TEMPLATE_MASK,
                                     track_graph)

Feeds = dict[str, np.ndarray]


class TemplateGraph(nn.Module):
    """(z, z_mask) -> (zf_reg, zf_cls, lut_key, lut_value).

    `zf_cls` is the same tensor as `zf_reg` at init; the TorchScript exporter gives the second
    output name its own Identity (`zf_reg -> zf_cls`), which onnxslim keeps, so every output is
    a distinct graph value and no explicit copy is needed here (checked by the export tests).
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, z: torch.Tensor, z_mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self.model.template(z, z_mask)


class TrackGraph(nn.Module):
    """(x, zf_reg, zf_cls, lut_key, lut_value) -> (cls, bbox, mask_prob, xf), any search side."""

    def __init__(self, model: nn.Module, xcorr: XCorr) -> None:
        super().__init__()
        self.model = model
        self.xcorr = xcorr

    def forward(self, x: torch.Tensor, zf_reg: torch.Tensor, zf_cls: torch.Tensor,
                lut_key: torch.Tensor, lut_value: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self.model.track(x, zf_reg, zf_cls, lut_key, lut_value, xcorr=self.xcorr)


def graph_modules(model: nn.Module, xcorr: XCorr) -> dict[str, nn.Module]:
    """Every graph's module by name; the track graphs share one wrapper class."""
    track = TrackGraph(model, xcorr)
    return {TEMPLATE: TemplateGraph(model), **{track_graph(s): track for s in INSTANCE_SIZES}}


# a square target's side in its exemplar crop: w / sqrt((w + w) * (w + w)) = 1/2 of the crop
SQUARE_TARGET = EXEMPLAR_SIZE / 2


def box_mask(width: float = SQUARE_TARGET, height: float = SQUARE_TARGET,
             side: int = EXEMPLAR_SIZE) -> np.ndarray:
    """1x1xSxS binary mask of a centred width x height box: the template mask of a target given
    by its box (the crop centres the target), what tracing and the BatchNorm fit feed."""
    centre = (side - 1) / 2
    cols = np.abs(np.arange(side) - centre) <= width / 2
    rows = np.abs(np.arange(side) - centre) <= height / 2
    return (rows[:, None] & cols[None, :]).astype(np.float32)[None, None]


NOISE_CELL = 8  # noise crops: one random value per 8x8 pixels, smoothly interpolated


def noise_crop(side: int, rng: np.random.Generator) -> np.ndarray:
    """A smooth random 0..255 crop 1x3xSxS: enough to trace and to compare two graphs. Smooth,
    because pixel-wise i.i.d. noise is so far from any image that the bbox head's exp
    overflows even with fitted statistics, and an inf output blinds the export's checks."""
    coarse = rng.uniform(0, 255, (side // NOISE_CELL + 1, side // NOISE_CELL + 1, 3))
    crop = cv2.resize(coarse.astype(np.float32), (side, side), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(crop.transpose(2, 0, 1)[None])


@torch.no_grad()
def run_torch(model: nn.Module, graph: str, feeds: Mapping[str, np.ndarray], xcorr: XCorr
              ) -> Feeds:
    """The PyTorch reference of one graph on NumPy feeds, outputs by name."""
    module = graph_modules(model, xcorr)[graph]
    inputs, outputs = SPEC.io_names(graph)
    args = [torch.from_numpy(np.ascontiguousarray(feeds[n])) for n in inputs]
    return {n: t.detach().numpy() for n, t in zip(outputs, module(*args))}


def track_feeds(x: np.ndarray, state: Mapping[str, np.ndarray]) -> Feeds:
    """A track graph's inputs: the search crop and the target state by name."""
    return {SEARCH_INPUT: x, **{n: state[n] for n in TARGET_STATE}}


def batched_tracing_feeds(model: nn.Module, xcorr: XCorr, count: int) -> dict[str, Feeds]:
    """`tracing_feeds` of `count` distinct targets (seeds 0..count-1), the track graphs' feeds
    stacked along the batch: what batched track graphs are traced and checked with."""
    samples = [tracing_feeds(model, xcorr, seed) for seed in range(count)]
    return {**samples[0], **{track_graph(s): {n: np.concatenate([f[track_graph(s)][n] for f in samples])
                                              for n in samples[0][track_graph(s)]}
                             for s in INSTANCE_SIZES}}


def tracing_feeds(model: nn.Module, xcorr: XCorr, seed: int = 0) -> dict[str, Feeds]:
    """Each graph's tracing inputs: noise crops at every side, a box mask, the state chained."""
    rng = np.random.default_rng(seed)
    template = {TEMPLATE_INPUT: noise_crop(EXEMPLAR_SIZE, rng), TEMPLATE_MASK: box_mask()}
    state = run_torch(model, TEMPLATE, template, xcorr)
    return {TEMPLATE: template,
            **{track_graph(s): track_feeds(noise_crop(s, rng), state) for s in INSTANCE_SIZES}}
