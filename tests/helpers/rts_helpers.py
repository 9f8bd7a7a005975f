"""Shared helpers of the RTS export tests: the seeded model, a small-size export side, crops.

The network has no width multiplier, so tests keep it whole and trace small: a 128x224 crop
(every stride divides it; l1..l4 32x56..4x7, seg 8x14, clf 4x7) and memories of 4 / 8 slots,
the same ops as the deployment's 480x832 / 32 / 50, through the export option
`sizes=128x224/4/8`. 8 real crops fit the BatchNorm statistics (at full size, once, cached);
the STA network is attached with its own seeded weights (4 crops, cached).
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import torch

from masktrt import registry
from masktrt.export.deploy import random_source
from masktrt.trackers.rts.export.export_side import RtsExport
from masktrt.export.onnx_export import ExportOptions, export_onnx
from masktrt.registry import TrackerEntry
from masktrt.runtime.contract import Contract
from masktrt.trackers.rts.spec import GraphSizes

SEED, CROPS = 0, 8
SMALL_SIZES = GraphSizes(crop_hw=(128, 224), seg_memory=4, clf_memory=8)
SMALL_OPTIONS = {"sizes": SMALL_SIZES.option()}
SMALL_EXPORT = RtsExport()  # sizes come from the options (SMALL_OPTIONS)
ENTRY = dict(spec="masktrt.trackers.rts.spec:SPEC", runtime="masktrt.trackers.rts.tracker:RTSTracker")


def rts_model():
    """The seeded random RTS with its seeded random STA attached (box-only init)."""
    from masktrt.trackers.rts.export.random_weights import random_model, random_sta

    torch.set_num_threads(2)
    return random_model(seed=SEED, count=CROPS).with_sta(random_sta(seed=SEED)).eval()


@contextmanager
def registered(export: str = "masktrt.trackers.rts.export.export_side:EXPORT") -> Iterator[None]:
    """RTS in the registry as registered, restored afterwards (tests may swap its export)."""
    previous = registry.get("rts")
    registry.register(TrackerEntry("rts", export=export, **ENTRY), replace=True)
    try:
        yield
    finally:
        registry.register(previous, replace=True)


def export_rts(model, folder: Path, precision: str = "fp32",
               options: dict | None = None) -> Contract:
    """An export at the small sizes unless `options` say otherwise."""
    given = SMALL_OPTIONS if options is None else options
    options = ExportOptions(tracker="rts", precision=precision, options=given)
    return export_onnx(model, folder, random_source(SEED, CROPS), options)
