"""RTS's export side (torch): the model, its graphs as modules, and their reference run.

The generic exporter (export/onnx_export.py), the torch reference runner and tensor parity call
these through the registry entry `EXPORT`; they never name RTS's graphs or tensors themselves.
Learner graphs are referenced by the closed-form steps they unroll (`steepest_descent`); the
closed form against the release's autograd is covered by tests/export/test_rts_model.py.
The export option `sizes` ("HxW/N/M", masktrt.trackers.rts.spec) traces at other sizes (CI: a small crop
and memory, same ops); every method reads it from the options it is given, so one export side
serves any size and the contract's options say which (its `rts` section has the geometry).
The option `filtering` ("conv" or "matmul") chooses how the head, learner and STA graphs apply
their input filters; the reference they are compared with always convolves.
The model carries the STA box-initialisation network (`RTS.with_sta`): from `sta.pth.tar`
beside the RTS checkpoint, or seeded random with refitted BatchNorm.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np
import onnx
import torch
from torch import nn

from masktrt.errors import MasktrtError
from masktrt.trackers.rts.export.chain import Case, first_feeds, run_torch, tracker_cases
from masktrt.trackers.rts.export.crops import fitted
from masktrt.trackers.rts.export.fp32_nodes import fp32_nodes
from masktrt.trackers.rts.export.graphs import graph_modules
from masktrt.trackers.rts.export.seeded_partial import is_partial
from masktrt.trackers.rts.export.steepest_descent import CONV, MATMUL, Filtering
from masktrt.trackers.rts.spec import (IM, IM5, MASK, SIZES, SPEC, GraphSizes, filtering_of, parse_sizes,
                               sizes_of)

MODEL_NAME = "rts50"
NOISE_SEED = 0
CROP_INPUTS = (IM, IM5, MASK)
FILTERING_OPS = {"conv": CONV, "matmul": MATMUL}  # by the option's value (trackers.rts.spec.FILTERINGS)


class RtsExport:
    """The torch side of the `rts` registry entry; graph sizes come from the export options."""

    spec = SPEC

    def load_model(self, checkpoint: str | Path | None, seed: int = 0, width: float = 1.0,
                   pairs: int | None = None, variant: str | None = None
                   ) -> tuple[nn.Module, dict[str, Any]]:
        """(model in eval mode, the contract's `source` record); `pairs`: the number of crops
        the random model's BatchNorm statistics are fitted on (None: the default)."""
        check_model_args(width, variant)
        from masktrt.export.deploy import checkpoint_source, random_source

        if checkpoint is not None and is_partial(checkpoint):
            return partial_model(checkpoint)
        if checkpoint is not None:
            from masktrt.trackers.rts.export.checkpoint import load_checkpoint, load_sta, sta_path

            model = load_checkpoint(checkpoint)  # first: a wrong or damaged file says so
            sta = sta_path(checkpoint)
            source = {**checkpoint_source(checkpoint), "sta": checkpoint_source(sta)}
            return model.with_sta(load_sta(sta)), source
        from masktrt.trackers.rts.export.random_weights import (DEFAULT_CROPS, random_model,
                                                                random_sta)

        model = random_model(seed, pairs or DEFAULT_CROPS).with_sta(random_sta(seed))
        return model, random_source(seed, pairs)

    def model_record(self, model: nn.Module) -> dict[str, Any]:
        """deploy.json's `model` record, with lambda_seg: the only weight of the seg learner
        graphs, so an engine built from one checkpoint is recognisable (NOTES mismatch 7)."""
        return {"name": MODEL_NAME, "backbone": model.backbone, "width": 1.0,
                "seg_reg": float(model.target_model.reg.detach().reshape(-1)[0]),
                "sta_reg": [float(model.sta.target_model.reg.detach().reshape(-1)[0]),
                            float(model.sta.target_model_segm.reg.detach().reshape(-1)[0])]}

    def check_options(self, options: Mapping[str, Any]) -> None:
        """`sizes` must parse and be traceable, `filtering` be known (one line otherwise)."""
        if options.get(SIZES) is not None:
            parse_sizes(options[SIZES])
        filtering_of(options)

    def trace_setup(self, model: nn.Module, options: Mapping[str, Any]
                    ) -> tuple[dict[str, nn.Module], dict[str, dict[str, np.ndarray]]]:
        """Each graph's module and its feeds, chained as the tracker runs them from noise crops."""
        sizes = sizes_of(options)
        return graph_modules(model, filtering(options)), first_feeds(model, noise_crops(sizes), sizes)

    def run_graph(self, model: nn.Module, graph: str, feeds: Mapping[str, torch.Tensor],
                  options: Mapping[str, Any] | None = None) -> dict[str, torch.Tensor]:
        """The reference of one graph (learners: the closed form), outputs by name."""
        check_crops(feeds, sizes_of(options))
        return run_torch(model, graph, dict(feeds))

    def parity_crops(self, path: str | Path, frames: int, options: Mapping[str, Any]) -> Any:
        """Tensor parity's inputs from a real sequence: RTS crops (its own geometry, at the
        traced crop size) on the ground truth of `frames` frames, the first the init crop."""
        from masktrt.trackers.rts.export.crops import sequence_crops

        return sequence_crops(path, max(frames, 2), sizes_of(options).crop_hw)

    def parity_cases(self, model: nn.Module, crops: Any, options: Mapping[str, Any],
                     positions: tuple[tuple[int, int], ...] | None = None) -> Iterator[Case]:
        """(label, graph, feeds, reference outputs) for every graph: init on `crops.xs[0]`, a
        tracked frame per later crop. Crops of another geometry (a `CropSet` of SiamMask's
        255x255 search crops) are resized to the traced crop; `sequence_crops` in
        `rts.crops` cuts RTS-geometry ones."""
        if positions:
            raise MasktrtError("RTS has no refine positions", "drop --positions for RTS")
        sizes = sizes_of(options)
        xs = [fitted(x, sizes.crop_hw) for x in crops.xs]
        yield from tracker_cases(model.eval(), xs, sizes)

    def fp32_nodes(self, graph: str, proto: onnx.ModelProto) -> list[str]:
        """Nodes kept FP32 in FP16 builds: reductions that overflow FP16 (fp32_nodes.py)."""
        return fp32_nodes(proto)


def filtering(options: Mapping[str, Any] | None) -> Filtering:
    """The torch functions behind the `filtering` option (the reference always uses Conv)."""
    return FILTERING_OPS[filtering_of(options)]


def partial_model(checkpoint: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """A seeded-partial file (the demo weights): its RTS, and the seeded random STA of the same
    seed (no STA was trained: box-only starts get a rough first mask, see the model card)."""
    from masktrt.export.deploy import checkpoint_source, random_source
    from masktrt.trackers.rts.export.random_weights import random_sta
    from masktrt.trackers.rts.export.seeded_partial import load_partial, partial_header

    seed = partial_header(Path(checkpoint))[0]
    source = {**checkpoint_source(checkpoint), "sta": random_source(seed, None)}
    return load_partial(checkpoint).with_sta(random_sta(seed)), source


def check_crops(feeds: Mapping[str, Any], sizes: GraphSizes) -> None:
    """A crop or mask of another size than the options' is a one-line error."""
    for name in CROP_INPUTS:
        if name in feeds and tuple(feeds[name].shape[-2:]) != tuple(sizes.crop_hw):
            raise MasktrtError(f"'{name}' has shape {tuple(feeds[name].shape)}, expected "
                               f"H x W = {tuple(sizes.crop_hw)}",
                               f"crop at the exported size (export option sizes={sizes.option()})")


def check_model_args(width: float, variant: str | None) -> None:
    if variant is not None:
        raise MasktrtError(f"RTS has no variant '{variant}'", "drop --variant for RTS")
    if float(width) != 1.0:
        raise MasktrtError(f"RTS has no width multiplier (got {width:g})", "drop --width for RTS")


def noise_crops(sizes: GraphSizes, seed: int = NOISE_SEED, count: int = 2) -> list[np.ndarray]:
    """Uniform 0..255 BGR crops: enough to trace (init on one, track on the other)."""
    rng = np.random.default_rng(seed)
    return [rng.uniform(0, 255, (1, 3, *sizes.crop_hw)).astype(np.float32) for _ in range(count)]


EXPORT = RtsExport()
