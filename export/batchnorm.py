"""Re-estimating BatchNorm running statistics of randomly initialised weights, for any tracker.

Seeded random weights fed raw 0..255 crops give activations in the thousands; parity budgets,
FP16 overflow checks and INT8 calibration then describe the weights, not the pipeline. Every
tracker's seeded model therefore keeps its random weights but replaces each BatchNorm's running
statistics by their cumulative average over real crops, each branch fed what it sees when
tracking. How a tracker's branches are fed is the tracker's business (`batches`); the statistics
bookkeeping is here once.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

import torch
from torch import nn


def fit_batchnorm_statistics(model: nn.Module, batches: Iterable[Callable[[], Any]]) -> nn.Module:
    """Run every callable of `batches` (each a forward pass over one batch of crops) with only
    the BatchNorm layers in training mode and cumulative averaging; return the model in eval
    mode. Weights are untouched; no gradient is computed."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    model.eval()
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average over all batches
        bn.train()
    with torch.no_grad():
        for forward in batches:
            forward()
    for bn in bns:
        bn.momentum = 0.1
    return model.eval()
