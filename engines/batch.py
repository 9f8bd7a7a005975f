"""Optimisation profiles of batched graphs (export option batch=dynamic): N targets per call.

The contract lists one target's shapes and records `batch: dynamic`; the parsed network of a
batched graph has -1 as every input's and output's leading dimension. Each engine gets one
profile per opt point in BATCH_OPT, every one spanning BATCH_MIN..BATCH_MAX targets, so a runner
picks the profile tuned nearest its count; callers split larger target sets (runtime batched.py).
"""
from __future__ import annotations

from typing import Any

from masktrt.runtime.contract import Contract
from masktrt.specs.base import BATCH_MAX, BATCH_MIN, BATCH_OPT, batched

from .network import Parsed


def is_batch_graph(contract: Contract, graph: str) -> bool:
    """Whether `graph` was exported with a dynamic target dimension."""
    return batched(contract.options) and graph in contract.spec.batch_graphs


def per_target_io(io: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """The network's I/O with the dynamic leading dimension read as one target (the contract's
    convention), so the I/O check compares the rest of each shape as it is."""
    def one(t: dict[str, Any]) -> dict[str, Any]:
        shape = list(t["shape"])
        return {**t, "shape": [1] + shape[1:] if shape and shape[0] == -1 else shape}

    return {kind: [one(t) for t in tensors] for kind, tensors in io.items()}


def add_profiles(parsed: Parsed, config: Any) -> list[int]:
    """One optimisation profile per opt point, each BATCH_MIN..BATCH_MAX targets; the opt points."""
    network = parsed.network
    inputs = [network.get_input(i) for i in range(network.num_inputs)]
    for opt in BATCH_OPT:
        profile = parsed.builder.create_optimization_profile()
        for tensor in inputs:
            rest = tuple(int(d) for d in tensor.shape)[1:]
            profile.set_shape(tensor.name, (BATCH_MIN,) + rest, (opt,) + rest, (BATCH_MAX,) + rest)
        config.add_optimization_profile(profile)
    return list(BATCH_OPT)


def batch_entry(contract: Contract, graph: str) -> dict[str, Any] | None:
    """The engine metadata's record of its profiles (None: a batch-1 engine)."""
    if not is_batch_graph(contract, graph):
        return None
    return {"min": BATCH_MIN, "max": BATCH_MAX, "opt": list(BATCH_OPT), "dim": 0}
