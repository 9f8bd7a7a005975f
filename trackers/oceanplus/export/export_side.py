"""OceanPlus's export side (torch): the model, its graphs as modules, and their reference run.

The generic exporter (export/onnx_export.py), the torch reference runner
(export/torch_backend.py) and tensor parity call these through the registry entry `EXPORT`;
they never name OceanPlus's graphs or tensors themselves. Two things differ from SiamMask:
the model comes in two variants (MSS/MMS decoders: a model property, detected from a
checkpoint, chosen for random weights), and both track graphs run one entry point
(`model.track`) at different search sides.
"""
from __future__ import annotations

from pathlib import Path
from collections.abc import Iterator, Mapping
from typing import Any

import cv2
import numpy as np
import torch
from torch import nn

from masktrt.errors import MasktrtError
from masktrt.export.deploy import checkpoint_source, random_source
from masktrt.export.backbones import RESNET50
from masktrt.trackers.oceanplus.export.graphs import (Feeds, batched_tracing_feeds, box_mask,
                                                    graph_modules, run_torch, track_feeds,
                                                    tracing_feeds)
from masktrt.trackers.oceanplus.export.network import OceanPlus, check_variant
from masktrt.export.xcorr import XCorr, correlation
from masktrt.specs.base import batched, check_batch, correlation_of
from masktrt.trackers.oceanplus.spec import (CORRELATIONS, EXEMPLAR_SIZE, INSTANCE_SIZES, LAMBDA_S, NAME,
                                     SEARCH_INPUT, SPEC, TEMPLATE, TEMPLATE_INPUT, TEMPLATE_MASK,
                                     VARIANTS, ZF_CLS, ZF_REG, tensor_shapes, track_graph)

CROPS = (TEMPLATE_INPUT, TEMPLATE_MASK, SEARCH_INPUT)  # inputs whose shape is the pixels' (any width)
TRACE_TARGETS = 2  # batched track graphs are traced with this many distinct targets


class OceanPlusExport:
    """The torch side of the `oceanplus` registry entry."""

    spec = SPEC

    def load_model(self, checkpoint: str | Path | None, seed: int = 0, width: float = 1.0,
                   pairs: int | None = None, variant: str | None = None
                   ) -> tuple[nn.Module, dict[str, Any]]:
        """(model in eval mode, the contract's `source` record). A checkpoint decides its own
        variant and width (an explicit, different variant is an error); without one the
        seeded random model is built at `variant` (default MSS) and `width`."""
        if variant is not None:
            check_variant(variant)
        if checkpoint is not None:
            return checkpoint_model(checkpoint, variant), checkpoint_source(checkpoint)
        from masktrt.trackers.oceanplus.export.random_weights import random_model

        extra = {} if pairs is None else {"n_pairs": pairs}
        model = random_model(seed=seed, width=width, variant=variant or VARIANTS[0], **extra)
        return model.eval(), random_source(seed, pairs)

    def model_record(self, model: nn.Module) -> dict[str, Any]:
        """deploy.json's `model` record: variant, width (and backbone) rebuild the network."""
        channels = model.channels.to_dict()
        return {"name": f"{NAME}_{model.variant}", "variant": model.variant,
                "backbone": channels.get("backbone", RESNET50), "width": model.channels.width,
                "channels": channels}

    def check_options(self, options: Mapping[str, Any]) -> None:
        """Only `dynamic` and `unrolled`: the kernels come from `zf_cls`, an input that the
        template update changes, so there are no constant kernels to refit."""
        name = correlation_of(options)
        if name not in CORRELATIONS:
            raise MasktrtError(f"OceanPlus has no correlation strategy '{name}'",
                               f"choose one of: {', '.join(CORRELATIONS)} (refit does not apply: "
                               "the correlation kernels are computed from zf_cls inside track)")
        check_batch(options)

    def xcorr(self, options: Mapping[str, Any] | None) -> XCorr:
        """The torch correlation function the options ask for, after checking them."""
        self.check_options(options or {})
        return correlation(correlation_of(options))

    def trace_setup(self, model: nn.Module, options: Mapping[str, Any]
                    ) -> tuple[dict[str, nn.Module], dict[str, Feeds]]:
        """Each graph's module and the feeds it is traced with (noise crops, a box mask, the
        track graphs' state chained from the template's outputs)."""
        xcorr = self.xcorr(options)
        feeds = (batched_tracing_feeds(model, xcorr, TRACE_TARGETS) if batched(options)
                 else tracing_feeds(model, xcorr))
        return graph_modules(model, xcorr), feeds

    def run_graph(self, model: nn.Module, graph: str, feeds: Mapping[str, torch.Tensor],
                  options: Mapping[str, Any] | None = None) -> dict[str, torch.Tensor]:
        """The reference of one graph on torch feeds, outputs by name; both track graphs are
        `model.track`, told apart by the search crop's side."""
        inputs, outputs = SPEC.io_names(graph)
        check_feeds(graph, feeds)
        args = [feeds[n] for n in inputs]
        if graph == TEMPLATE:
            return dict(zip(outputs, model.template(*args)))
        return dict(zip(outputs, model.track(*args, xcorr=self.xcorr(options))))

    def parity_crops(self, path: str | Path, frames: int, options: Mapping[str, Any]) -> Any:
        """Tensor parity's inputs from a real sequence: the Siamese exemplar and search crops
        (`export.parity_tensor.sequence_crops`)."""
        from masktrt.export.parity_tensor import sequence_crops

        return sequence_crops(path, frames)

    def parity_cases(self, model: nn.Module, crops: Any, options: Mapping[str, Any],
                     positions: tuple[tuple[int, int], ...] | None = None) -> Iterator[tuple]:
        """(case label or "", graph, feeds, reference outputs) for tensor parity: the template
        on the exemplar crop with its box mask, then every search crop through BOTH track
        graphs with an updated `zf_cls` (different from `zf_reg`), so the template-update
        path is covered. Each graph gets exactly PyTorch's inputs. `positions` (SiamMask's
        refine positions) do not apply."""
        xcorr = self.xcorr(options)
        template = {TEMPLATE_INPUT: crops.z, TEMPLATE_MASK: box_mask()}
        state = run_torch(model, TEMPLATE, template, xcorr)
        yield "", TEMPLATE, template, state
        updated = updated_state(model, state, crops.xs[0], xcorr)
        for i, x in enumerate(crops.xs):
            for k, side in enumerate(INSTANCE_SIZES):
                graph, feeds = track_graph(side), track_feeds(search_crop(x, side), updated)
                label = str(i) if k == len(INSTANCE_SIZES) - 1 else ""
                yield label, graph, feeds, run_torch(model, graph, feeds, xcorr)


def checkpoint_model(checkpoint: str | Path, variant: str | None) -> OceanPlus:
    """The checkpoint's model (its variant and width detected); a conflicting explicit variant
    is one line naming both."""
    from masktrt.trackers.oceanplus.export.checkpoint import RELEASED, load_checkpoint

    model = load_checkpoint(checkpoint)
    if variant is not None and variant != model.variant:
        raise MasktrtError(f"checkpoint '{checkpoint}' holds the {model.variant.upper()} variant, "
                           f"not {variant.upper()}",
                           f"drop --variant, or pass the {variant.upper()} weights ({RELEASED[variant]})")
    return model


def updated_state(model: nn.Module, state: Feeds, x: np.ndarray, xcorr: XCorr) -> Feeds:
    """The target state after a template update: zf_cls = LAMBDA_S * zf_reg + (1 - LAMBDA_S) *
    the template map of a later frame (the centre exemplar-sized part of its search crop)."""
    lo = (x.shape[-1] - EXEMPLAR_SIZE) // 2
    later = np.ascontiguousarray(x[..., lo:lo + EXEMPLAR_SIZE, lo:lo + EXEMPLAR_SIZE])
    other = run_torch(model, TEMPLATE, {TEMPLATE_INPUT: later, TEMPLATE_MASK: box_mask()}, xcorr)
    zf_cls = LAMBDA_S * state[ZF_REG] + (1 - LAMBDA_S) * other[ZF_REG]
    return {**state, ZF_CLS: zf_cls.astype(np.float32)}


def search_crop(x: np.ndarray, side: int) -> np.ndarray:
    """A 1x3xSxS search crop at `side`: as it is, or resized bilinearly (parity's crop sets
    hold 255 crops; the resized one keeps real image statistics at 287)."""
    if x.shape[-1] == side:
        return x
    resized = cv2.resize(x[0].transpose(1, 2, 0), (side, side), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(resized.transpose(2, 0, 1)[None], dtype=np.float32)


def check_feeds(graph: str, feeds: Mapping[str, Any]) -> None:
    """Crops and masks of the wrong shape for `graph` are one-line errors (the features'
    shapes depend on the width, the crops' never)."""
    shapes = tensor_shapes(graph)
    for name in CROPS:
        if name in feeds and name in shapes and tuple(feeds[name].shape) != shapes[name]:
            raise MasktrtError(f"{graph}: '{name}' has shape {tuple(feeds[name].shape)}, "
                               f"expected {shapes[name]}",
                               "pass crops cut by masktrt.runtime.crop.crop_subwindow at the "
                               "graph's size")


EXPORT = OceanPlusExport()
