"""Shared helpers of the export tests: a small, BN-fitted random model and real crops.

Width 0.125 keeps every graph's structure (same ops, same spatial sizes) at ~1/60 of the
compute; 8 crop pairs for the BatchNorm fit keep activations at their real scale (FP16 checks
mean nothing on un-normalised activations in the thousands) and cost seconds, once (cached).
"""
from __future__ import annotations

from pathlib import Path

import torch

from masktrt.export.deploy import random_source
from masktrt.export.onnx_export import ExportOptions, export_onnx
from masktrt.export.parity_tensor import CropSet, sequence_crops
from masktrt.runtime.contract import Contract
from tests.conftest import real_sequence

WIDTH = 0.125
PAIRS = 8
SEED = 0


def small_model():
    from masktrt.trackers.siammask.export.random_weights import random_model

    torch.set_num_threads(1)
    return random_model(seed=SEED, width=WIDTH, n_pairs=PAIRS).eval()


def export_small(model, folder: Path, correlation: str = "dynamic",
                 precision: str = "fp32") -> Contract:
    options = ExportOptions(options={"correlation": correlation}, precision=precision)
    return export_onnx(model, folder, random_source(SEED, PAIRS), options)


def real_crops(name: str = "davis-dog", frames: int = 1) -> CropSet:
    return sequence_crops(real_sequence(name), frames)
