"""OceanPlus's default model without a checkpoint: seeded random weights with sane activations.

The recipe is SiamMask's (`masktrt.export.random_weights`): the Siamese init, then every
BatchNorm's running statistics re-estimated on real crop pairs cut by the tracker's crop logic.
OceanPlus needs it more: fed raw 0..255 BGR crops, a plainly initialised head drives the bbox
branch's `exp(adjust * pred + bias)` to infinity (NOTES.md). Crop geometry (127 exemplar, 255
search, context 0.5) and input range are SiamMask's, so the calibration crops are shared; the
template's mask is the target box's (OceanPlus's template takes one). The mask decoder has no
BatchNorm: its convs get the refinement decoders' kaiming-uniform(a=1), which keeps the scale
of its normalised inputs. The result is cached as safetensors, keyed by what it depends on.
"""
from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path
from collections.abc import Callable, Iterator

import numpy as np
import torch

from masktrt.export.batchnorm import fit_batchnorm_statistics
from masktrt.trackers.oceanplus.export.graphs import box_mask
from masktrt.trackers.oceanplus.export.network import OceanPlus
from masktrt.export.random_weights import (BATCH, DEFAULT_PAIRS, Crops, calibration_crops,
                                           data_source, seeded_init)
from masktrt.paths import cache_dir
from masktrt.trackers.oceanplus.spec import NAME, VARIANTS

CODE_VERSION = 1  # bump whenever the init, the crops, the masks or the re-estimation change


def official_init(model: OceanPlus, seed: int) -> OceanPlus:
    """Deterministic init: trunk, neck and head convs N(0, sqrt(2/(k*k*out))), BN 1/0, every
    mask-model conv (decoder and ARN embeddings) kaiming-uniform(a=1); the head's `adjust`
    (0.1), `bias` (1) and GroupDW weights (1) keep their official constants."""
    return seeded_init(model, seed, model.mask_model.modules())


def template_masks(crops: Crops, start: int, stop: int) -> np.ndarray:
    """Bx1x127x127 box masks of the pairs' template targets (centred in their crops)."""
    return np.concatenate([box_mask(w, h) for w, h in crops.target_sizes[start:stop]])


def bn_forward(model: OceanPlus, z: torch.Tensor, z_mask: torch.Tensor, x: torch.Tensor) -> None:
    """Every BatchNorm fed as in tracking: the trunk and neck see templates and searches, the
    kernel encoders the template map, the search encoders and towers the search map. The mask
    decoder (no BatchNorm) is skipped: it would only cost time."""
    zf_reg, zf_cls, _, _ = model.template(z, z_mask)
    model.connect_model(model.neck(model.features(x)[3]), zf_reg, zf_cls)


def batches(model: OceanPlus, crops: Crops, batch: int = BATCH) -> Iterator[Callable[[], None]]:
    """One forward pass per batch of crop pairs, as callables for the statistics fit."""
    for start in range(0, len(crops.templates), batch):
        stop = start + batch
        z = torch.from_numpy(crops.templates[start:stop]).float()
        x = torch.from_numpy(crops.searches[start:stop]).float()
        z_mask = torch.from_numpy(template_masks(crops, start, stop))
        yield lambda z=z, m=z_mask, x=x: bn_forward(model, z, m, x)


def compute_random_model(seed: int = 0, width: float = 1.0, variant: str = VARIANTS[0],
                         n_pairs: int = DEFAULT_PAIRS, use_shared_data: bool = True) -> OceanPlus:
    """Init + BN re-estimation, uncached; prints a one-line note with the time it took."""
    started = time.perf_counter()
    model = official_init(OceanPlus(variant, width), seed)
    crops = calibration_crops(n_pairs, seed, use_shared_data)
    print(f"masktrt: fitting BatchNorm statistics of the random OceanPlus {variant.upper()} (seed "
          f"{seed}, width {width:g}) on {n_pairs} crop pairs ({crops.source}) ...",
          file=sys.stderr, end="", flush=True)
    fit_batchnorm_statistics(model, batches(model, crops))
    print(f" done in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return model


def cache_path(seed: int, width: float, variant: str, source: str, n_pairs: int) -> Path:
    """The cache file of one seeded model; its name carries every input of the computation."""
    key = json.dumps({"seed": seed, "width": width, "variant": variant, "source": source,
                      "pairs": n_pairs, "code": CODE_VERSION}, sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return cache_dir("weights") / f"{NAME}_{variant}_random_seed{seed}_w{width:g}_{digest}.safetensors"


def random_model(seed: int = 0, width: float = 1.0, variant: str = VARIANTS[0],
                 n_pairs: int = DEFAULT_PAIRS, use_shared_data: bool = True,
                 cache: bool = True) -> OceanPlus:
    """The default seeded random model (eval mode), computed once and then read from the cache."""
    from masktrt.trackers.oceanplus.export.checkpoint import load_checkpoint, save_checkpoint

    path = cache_path(seed, float(width), variant, data_source(use_shared_data), n_pairs)
    if cache and path.is_file():
        return load_checkpoint(path, OceanPlus(variant, width))
    model = compute_random_model(seed, width, variant, n_pairs, use_shared_data)
    if cache:  # written atomically: a concurrent reader never sees half a file
        save_checkpoint(model, path)
    return model.eval()
