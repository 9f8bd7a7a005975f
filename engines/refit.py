"""Refittable engines: the contract's refit weights marked in the network, and their metadata.

A graph whose contract entry lists `refit` weights (SiamMask's search under `--xcorr refit`: the
correlation kernels) is built refittable in exactly those weights; the build checks that the
parsed network has weights of those names first, and the metadata's "refit" entry lists them for
the runner. TensorRT-RTX 1.7 compiles refittable engines with CUDA (Myelin's JIT), so unlike the
others a refittable engine is built where a CUDA driver is.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from masktrt.errors import MasktrtError
from masktrt.runtime.contract import TensorSpec
from masktrt.runtime.trt_module import Flavour


def mark_refittable(network: Any, flavour: Flavour, weights: Iterable[TensorSpec], path: Path) -> None:
    """Mark the contract's refit weights refittable, refusing a network without weights of those names.

    The ONNX parser names each initializer's weights after it, so a refit graph's weights must be
    found here; an engine without them would build and then refuse every refit. Older TensorRT
    (no individual marking) makes every weight refittable: nothing to check here.
    """
    if not flavour.individual_refit:
        return
    missing = [w.name for w in weights if not _mark(network, w.name)]
    if missing:
        raise MasktrtError(f"'{path}' has no weights named {', '.join(missing)} for TensorRT to refit",
                           f"re-export with: masktrt export --xcorr refit --out {path.parent}")


def _mark(network: Any, name: str) -> bool:
    return bool(network.mark_weights_refittable(name) and network.are_weights_marked_refittable(name))


def refit_entry(flavour: Flavour, weights: Iterable[TensorSpec]) -> dict[str, Any]:
    """The metadata the runner's refitter needs: which names, and their shapes and dtypes."""
    return {"flag": flavour.refit_flag, "weights": [w.to_dict() for w in weights],
            "source": "the outputs of the same names of another graph, fed to run() by name"}
