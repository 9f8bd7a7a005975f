"""Engine building: TensorRT and TensorRT-RTX engines from an export folder (one code path).

The runtime only loads engines (masktrt.runtime.engine_loader) and never imports this package;
this package may import the runtime (contract, flavour, metadata schema). Neither imports torch
or onnx: a Jetson builds its engines with TensorRT alone.

    build.py           build (or reuse) one engine per contract graph; the CI matrix; the table
    network.py         the parsed network and the checks made on it without a GPU
    precision.py       precision plans (typing and builder flags per flavour)
    correlation.py     the tensor-weight convolution strategy against this TensorRT
    refit.py           refittable weights marked in the network, and their metadata
    builder_config.py  the builder config (flags, workspace, timing cache, targets)
    targets.py         which GPUs an engine may run on
    timing_cache.py    full TensorRT's timing cache
    metadata.py        an engine's <graph>.json and reuse
    sources.py         the contract's graphs: path, hash, I/O
"""
from .build import build_engines, build_matrix, build_one, summary_table
from .request import BuildRequest, EngineRecord

__all__ = ["BuildRequest", "EngineRecord", "build_engines", "build_matrix", "build_one", "summary_table"]
