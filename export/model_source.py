"""Which PyTorch model an export or a parity check uses, and how deploy.json names it.

Two sources: a checkpoint file (recorded by its sha256, so engines and reports are tied to the
exact weights) or the seeded random model (recorded as "random:<seed>" plus the width, enough to
rebuild it bit for bit). Parity rebuilds the reference from deploy.json so that it always
compares a graph with the weights it was exported from.
"""
from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from torch import nn

from masktrt.errors import MasktrtError
from masktrt.runtime.contract import Contract


def load_tracker_model(tracker: str, checkpoint: str | Path | None, seed: int = 0,
                       width: float = 1.0, pairs: int | None = None, variant: str | None = None
                       ) -> tuple[nn.Module, dict[str, Any]]:
    """(model, `source` record) of any registered tracker, through its export side; `variant`
    is checked against the tracker's spec first (one line for a tracker without variants)."""
    from masktrt import registry

    entry = registry.get(tracker)
    variant = entry.load_spec().variant(variant) if variant is not None else None
    extra = {"variant": variant} if variant is not None else {}
    return entry.load_export().load_model(checkpoint, seed, width, pairs, **extra)


def model_for_deploy(deploy: Contract, checkpoint: str | Path | None = None) -> nn.Module:
    """The reference model the graphs in `deploy` were exported from (checked by hash), built
    by the export side of the contract's tracker."""
    from masktrt import registry

    load = registry.get(deploy.tracker).load_export().load_model
    variant = deploy.model.get("variant")
    if variant is not None:  # the variant the graphs were exported from rebuilds the same network
        load = partial(load, variant=variant)
    source = deploy.source
    if source.get("kind") == "random":
        if checkpoint is not None:
            raise MasktrtError(f"{deploy.root} was exported from random weights "
                               f"({source.get('sha256')}), not a checkpoint",
                               "drop --checkpoint, or re-export from that checkpoint")
        model, _ = load(None, int(source["seed"]), float(deploy.model.get("width", 1.0)),
                        source.get("pairs"))
        return model
    path = checkpoint or source.get("path")
    if path is None or not Path(path).is_file():
        raise MasktrtError(f"the checkpoint {deploy.root} was exported from is not available "
                           f"({path})", "pass it with --checkpoint PATH")
    model, record = load(path)
    if record["sha256"] != source.get("sha256"):
        raise MasktrtError(f"checkpoint '{path}' is not the one {deploy.root} was exported from "
                           "(sha256 differs)", "pass the original checkpoint, or re-export")
    return model
