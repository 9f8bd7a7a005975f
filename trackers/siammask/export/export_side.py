"""SiamMask's export side (torch): the model, its graphs as modules, and their reference run.

The generic exporter (export/onnx_export.py), the torch reference runner
(export/torch_backend.py) and tensor parity call these through the registry entry `EXPORT`; they
never name SiamMask's graphs or tensors themselves.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np
import torch
from torch import nn

from masktrt.errors import MasktrtError
from masktrt.trackers.siammask.export.graphs import (RefitSearchGraph, batched_feeds, center_pos,
                                                   graph_modules, noise_crops, reference_feeds,
                                                   refine_feeds, run_torch)
from masktrt.export.xcorr import correlation
from masktrt.specs.base import batched, check_batch
from masktrt.trackers.siammask.spec import (EXEMPLAR_SIZE, INSTANCE_SIZE, POS, REFINE, REFIT,
                                    REFIT_WEIGHTS, SCORE_SIZE, SEARCH, SEARCH_INPUT, SPEC, TEMPLATE,
                                    TEMPLATE_INPUT)

MODEL_NAME = "siammask_sharp"
LAST = SCORE_SIZE - 1
# Refine is checked at the corners, where its windows reach into the zero padding, and inside.
REFINE_POSITIONS: tuple[tuple[int, int], ...] = ((0, 0), (0, LAST), (LAST, 0), (LAST, LAST),
                                                 (SCORE_SIZE // 2, SCORE_SIZE // 2), (7, 17))
CROP_SIDES = {TEMPLATE_INPUT: EXEMPLAR_SIZE, SEARCH_INPUT: INSTANCE_SIZE}
CROP_WHAT = {TEMPLATE_INPUT: "template", SEARCH_INPUT: "search"}
TRACE_TARGETS = 2  # batched graphs are traced with this many distinct targets


class SiamMaskExport:
    """The torch side of the `siammask` registry entry."""

    spec = SPEC

    def load_model(self, checkpoint: str | Path | None, seed: int = 0, width: float = 1.0,
                   pairs: int | None = None) -> tuple[nn.Module, dict[str, Any]]:
        """(model in eval mode, the contract's `source` record). SiamMask has no model variants
        (the spec declares none, so `--variant` is refused before this is called). No checkpoint
        -> the seeded random model (`pairs`: crop pairs its BatchNorm statistics are fitted on;
        None = the default)."""
        from masktrt.export.deploy import checkpoint_source, random_source

        if checkpoint is not None:
            from masktrt.trackers.siammask.export.checkpoint import load_checkpoint

            return load_checkpoint(checkpoint).eval(), checkpoint_source(checkpoint)
        from masktrt.trackers.siammask.export.random_weights import random_model

        extra = {} if pairs is None else {"n_pairs": pairs}
        return random_model(seed=seed, width=width, **extra).eval(), random_source(seed, pairs)

    def model_record(self, model: nn.Module) -> dict[str, Any]:
        """deploy.json's `model` record: backbone and width are what rebuilds the network."""
        channels = model.spec.to_dict() if hasattr(model, "spec") else {}
        return {"name": MODEL_NAME, "backbone": channels.get("backbone", "resnet50"),
                "width": channels.get("width", 1.0), "channels": channels,
                "mask_head": "omitted (unused with Refine)"}

    def check_options(self, options: Mapping[str, Any]) -> None:
        correlation(str(options.get("correlation")))
        check_batch(options)

    def trace_setup(self, model: nn.Module, options: Mapping[str, Any]
                    ) -> tuple[dict[str, nn.Module], dict[str, dict[str, np.ndarray]]]:
        """Each graph's module and the feeds it is traced with (chained from noise crops)."""
        xcorr = correlation(options["correlation"])
        z, x = noise_crops()
        feeds = reference_feeds(model, z, x, center_pos(), xcorr)
        modules = graph_modules(model, xcorr)
        if options["correlation"] == REFIT:
            # search is traced from x alone, the noise template's kernels baked in as placeholders
            kernels = {n: torch.from_numpy(feeds[SEARCH][n]) for n in REFIT_WEIGHTS}
            modules[SEARCH] = RefitSearchGraph(model, kernels)
            feeds[SEARCH] = {SEARCH_INPUT: feeds[SEARCH][SEARCH_INPUT]}
        if batched(options):  # search and refine take N targets (refine's pos becomes Nx2)
            feeds.update(batched_feeds(model, xcorr, REFINE_POSITIONS[:TRACE_TARGETS]))
        return modules, feeds

    def run_graph(self, model: nn.Module, graph: str, feeds: Mapping[str, torch.Tensor],
                  options: Mapping[str, Any] | None = None) -> dict[str, torch.Tensor]:
        """The reference of one graph (the model's entry point), outputs by name."""
        check_torch_feeds(feeds)
        inputs, outputs = SPEC.io_names(graph)
        args = [feeds[n] for n in inputs]
        if graph == SEARCH:
            xcorr = correlation(str((options or {}).get("correlation", "dynamic")))
            result = model.search(*args, xcorr=xcorr)
        else:
            result = getattr(model, graph)(*args)
        result = result if isinstance(result, (tuple, list)) else (result,)
        return dict(zip(outputs, result))


    def parity_crops(self, path: str | Path, frames: int, options: Mapping[str, Any]) -> Any:
        """Tensor parity's inputs from a real sequence: the Siamese exemplar and search crops
        (`export.parity_tensor.sequence_crops`)."""
        from masktrt.export.parity_tensor import sequence_crops

        return sequence_crops(path, frames)

    def parity_cases(self, model: nn.Module, crops: Any, options: Mapping[str, Any],
                     positions: tuple[tuple[int, int], ...] | None = None) -> Iterator[tuple]:
        """(case label or "", graph, feeds, reference outputs) for tensor parity: each graph gets
        exactly the inputs PyTorch computed for it (search PyTorch's kernels, refine its
        features), so an error is charged to the graph that made it."""
        xcorr = correlation(str(options.get("correlation", "dynamic")))
        kernels = run_torch(model, TEMPLATE, {TEMPLATE_INPUT: crops.z}, xcorr)
        yield "", TEMPLATE, {TEMPLATE_INPUT: crops.z}, kernels
        for i, x in enumerate(crops.xs):
            feeds = {SEARCH_INPUT: x, **kernels}
            search = run_torch(model, SEARCH, feeds, xcorr)
            yield "", SEARCH, feeds, search
            chosen = positions or REFINE_POSITIONS
            for k, pos in enumerate(chosen):  # the last refine closes search crop i's case
                r_feeds = refine_feeds(search, pos)
                label = str(i) if k == len(chosen) - 1 else ""
                yield label, REFINE, r_feeds, run_torch(model, REFINE, r_feeds, xcorr)


def check_torch_feeds(feeds: Mapping[str, Any]) -> None:
    """Crops of the wrong size and refine positions off the score map are one-line errors."""
    for name, side in CROP_SIDES.items():
        if name in feeds and tuple(feeds[name].shape) != (1, 3, side, side):
            raise MasktrtError(f"{CROP_WHAT[name]} crop has shape {tuple(feeds[name].shape)}, "
                               f"expected (1, 3, {side}, {side})",
                               "pass the output of masktrt.runtime.crop.crop_subwindow")
    if POS in feeds:
        row, col = (int(v) for v in feeds[POS])
        if not (0 <= row < SCORE_SIZE and 0 <= col < SCORE_SIZE):
            raise MasktrtError(f"refine position {(row, col)} is outside the {SCORE_SIZE}x{SCORE_SIZE} "
                               "score map", "pass the (row, column) of the selected candidate")


EXPORT = SiamMaskExport()
