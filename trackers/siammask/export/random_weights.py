"""SiamMask's default model when no checkpoint is given: seeded random weights, sane activations.

SiamMask does no input normalisation, so after the official initialisation every BatchNorm's
running statistics are re-estimated (cumulative average, no gradients) on the shared crop pairs
(export.random_weights), each branch seeing the input it sees when tracking: template crops for
the kernel convs, search crops for the search convs and the heads, both for the shared trunk.
The result is cached as safetensors, keyed by everything it depends on.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path

import torch

from masktrt.export.batchnorm import fit_batchnorm_statistics
from masktrt.export.random_weights import (BATCH, DEFAULT_PAIRS, Crops, calibration_crops,
                                           data_source, seeded_init)
from masktrt.paths import cache_dir
from masktrt.trackers.siammask.export.network import SiamMask

CODE_VERSION = 1  # bump whenever the init, the sampling or the re-estimation changes


def official_init(model: SiamMask, seed: int) -> SiamMask:
    """Official init, deterministic: convs N(0, sqrt(2/(k*k*out))), BN 1/0, Refine convs
    kaiming-uniform(a=1), the deconv PyTorch's default (kaiming-uniform a=sqrt(5))."""
    return seeded_init(model, seed, model.refine_model.modules())


def reestimate_batchnorm(model: SiamMask, crops: Crops, batch: int = BATCH) -> SiamMask:
    """Replace every BN's running stats by their average over the crops, used as in tracking.

    Templates go through trunk + adjust + conv_kernel; searches through trunk + adjust +
    conv_search + correlation (with the paired template's kernels) + each head's BN.
    """
    def batches():
        for start in range(0, len(crops.templates), batch):
            z = torch.from_numpy(crops.templates[start:start + batch]).float()
            x = torch.from_numpy(crops.searches[start:start + batch]).float()
            # the last line feeds the mask head's BN; its unused 3969-channel conv is skipped
            yield lambda z=z, x=x: model.mask_model.mask.head[:3](model.search(x, *model.template(z))[2])

    return fit_batchnorm_statistics(model, batches())


def cache_path(seed: int, width: float, source: str, n_pairs: int) -> Path:
    key = json.dumps({"seed": seed, "width": width, "source": source, "pairs": n_pairs,
                      "code": CODE_VERSION}, sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return cache_dir("weights") / f"siammask_random_seed{seed}_w{width:g}_{digest}.safetensors"


def compute_random_model(seed: int = 0, width: float = 1.0, n_pairs: int = DEFAULT_PAIRS,
                         use_shared_data: bool = True) -> SiamMask:
    """Init + BN re-estimation, uncached; prints a one-line note with the time it took."""
    started = time.perf_counter()
    model = official_init(SiamMask(width=width), seed)
    crops = calibration_crops(n_pairs, seed, use_shared_data)
    print(f"masktrt: fitting BatchNorm statistics of the random SiamMask (seed {seed}, width "
          f"{width:g}) on {n_pairs} crop pairs ({crops.source}) ...", file=sys.stderr, end="", flush=True)
    reestimate_batchnorm(model, crops)
    print(f" done in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return model


def random_model(seed: int = 0, width: float = 1.0, n_pairs: int = DEFAULT_PAIRS,
                 use_shared_data: bool = True, cache: bool = True) -> SiamMask:
    """The default seeded random model (eval mode), computed once and then read from the cache."""
    from masktrt.trackers.siammask.export.checkpoint import load_checkpoint, save_checkpoint

    path = cache_path(seed, float(width), data_source(use_shared_data), n_pairs)
    if cache and path.is_file():
        return load_checkpoint(path, SiamMask(width=width))
    model = compute_random_model(seed, width, n_pairs, use_shared_data)
    if cache:
        partial = path.with_suffix(f".tmp{os.getpid()}")
        save_checkpoint(model, partial)
        os.replace(partial, path)  # atomic: a concurrent reader never sees half a file
    return model
