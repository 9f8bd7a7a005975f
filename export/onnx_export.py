"""`masktrt export`: the model -> template.onnx, search.onnx, refine.onnx + deploy.json.

Pipeline per graph: trace (graphs.py) -> ONNX checker + strict shape inference -> onnxslim,
proven output-preserving in ONNX Runtime (postprocess.py) -> optionally FP16 with FP32 I/O
(fp16.py), checked again and compared with the FP32 graph -> saved. Then deploy.json is written
and read back through the runtime's own validating loader, so an export that the runtime would
refuse fails here, not on a Jetson.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnx
import torch
from torch import nn

from masktrt.errors import MasktrtError
from masktrt.export.deploy import ONNX_DTYPES, deploy_document, graph_entry, write_deploy
from masktrt.export.fp16 import compute_dtype, to_fp16
from masktrt.export.graphs import (RefitSearchGraph, center_pos, check_opset, graph_modules,
                                   noise_crops, reference_feeds, trace_to_onnx)
from masktrt.export.postprocess import checked, slim, slim_verified, verify_same
from masktrt.export.xcorr import correlation
from masktrt.provenance import writable_folder
from masktrt.specs.siammask import DEFAULT_PRESET, preset
from masktrt.runtime.contract import (EXPORT_PRECISIONS, GRAPHS, REFIT, REFIT_WEIGHTS, Contract,
                                    load_contract)


@dataclass(frozen=True)
class ExportOptions:
    correlation: str = "dynamic"
    precision: str = "fp32"
    opset: int = 17
    preset: str = DEFAULT_PRESET
    fp32_template: bool = False  # with precision fp16: keep template.onnx FP32 (see above)

    def half_graphs(self) -> tuple[str, ...]:
        """The graphs converted to FP16."""
        if self.precision != "fp16":
            return ()
        return FP16_GRAPHS_FP32_TEMPLATE if self.fp32_template else GRAPHS

    def validate(self) -> None:
        """Every bad option is a one-line error before any tracing starts."""
        correlation(self.correlation)
        check_opset(self.opset)
        preset(self.preset)
        if self.precision not in EXPORT_PRECISIONS:
            raise MasktrtError(f"unknown precision '{self.precision}'",
                               f"choose one of: {', '.join(EXPORT_PRECISIONS)}")


# The FP16 graph against the FP32 graph at export: a sanity bound that catches overflow, NaN or
# a broken conversion (errors of order 1 of the range), not an accuracy gate. Accuracy is judged
# by `masktrt parity` against the budgets, on real crops, where the user can see the table.
FP16_SANITY = 0.25
# The template runs once per target, so FP16 saves nothing there, while rounding its weights to
# FP16 moves the kernels by ~10% of their range with the random weights (masktrt/budgets.py) and
# every later frame's correlation inherits that. `fp32_template` keeps it FP32; it is off by
# default because an engine builder that reads only the export's precision (not each graph's
# compute_dtype in deploy.json) would then refuse the FP32 template graph under strong typing.
FP16_GRAPHS_FP32_TEMPLATE = ("search", "refine")


def export_graph(name: str, module: nn.Module, feeds: dict[str, Any],
                 options: ExportOptions) -> onnx.ModelProto:
    """Trace one subgraph and take it through the checks; returns the graph to save."""
    raw = onnx.load_from_string(trace_to_onnx(module, name, feeds, options.opset, options.correlation))
    proto = checked(raw, name, static=False)
    proto = slim_verified(proto, feeds, name)
    if name in options.half_graphs():
        half = checked(slim(to_fp16(proto)), name)
        verify_same(proto, half, feeds, name, tolerance=FP16_SANITY, what="converting to FP16",
                    fix="the weights overflow or underflow FP16: export with --precision fp32")
        proto = half
    if name == "search" and options.correlation == REFIT:
        refit_weights(proto)  # the names must survive slimming and FP16, or nothing can refit
    return proto


def refit_weights(proto: onnx.ModelProto) -> list[dict[str, Any]]:
    """[{name, shape, dtype}] of the refit search graph's kernel initializers, checked to be the
    W input of a Conv as they are (a Reshape or Cast in between would make TensorRT treat them
    as a dynamic weight tensor, which is what refit exists to avoid)."""
    inits = {t.name: t for t in proto.graph.initializer}
    conv_weights = {n.input[1] for n in proto.graph.node if n.op_type == "Conv" and len(n.input) > 1}
    table = []
    for name in REFIT_WEIGHTS:
        if name not in inits or name not in conv_weights:
            raise MasktrtError(f"the refit search graph lost the Conv weight initializer '{name}'",
                               "report this export bug; use --xcorr dynamic or unrolled meanwhile")
        table.append({"name": name, "shape": list(inits[name].dims),
                      "dtype": ONNX_DTYPES.get(inits[name].data_type, str(inits[name].data_type))})
    return table


def _refit_inputs(model: nn.Module, feeds: dict[str, dict[str, Any]],
                  modules: dict[str, nn.Module]) -> None:
    """Refit export: search is traced from x alone, its kernels (the noise template's, as
    placeholders) baked into named buffers."""
    kernels = {n: torch.from_numpy(feeds["search"][n]) for n in REFIT_WEIGHTS}
    modules["search"] = RefitSearchGraph(model, kernels)
    feeds["search"] = {"x": feeds["search"]["x"]}


def _correlation_entry(options: ExportOptions, search: onnx.ModelProto) -> dict[str, Any] | None:
    if options.correlation != REFIT:
        return None
    return {"strategy": REFIT, "kernel_inputs": [], "refit_weights": refit_weights(search),
            "placeholder": "search.onnx holds the export noise template's kernels; the runtime "
                           "refits them from template.onnx's outputs of the same names per target"}


def export_onnx(model: nn.Module, out: str | Path, source: dict[str, Any],
                options: ExportOptions = ExportOptions()) -> Contract:
    """Write the three graphs and deploy.json into `out`; returns the validated contract."""
    options.validate()
    folder = writable_folder(out)
    model = model.eval()
    xcorr = correlation(options.correlation)
    z, x = noise_crops()
    with torch.no_grad():
        feeds = reference_feeds(model, z, x, center_pos(), xcorr)
        modules = graph_modules(model, xcorr)
        if options.correlation == REFIT:
            _refit_inputs(model, feeds, modules)
        entries, protos = {}, {}
        for name in GRAPHS:
            proto = protos[name] = export_graph(name, modules[name], feeds[name], options)
            file = folder / f"{name}.onnx"
            onnx.save(proto, file)
            entries[name] = graph_entry(proto, file, compute_dtype(proto))
    channels = model.spec.to_dict() if hasattr(model, "spec") else {}
    document = deploy_document(
        graphs=entries, model_channels=channels, source=source,
        correlation=options.correlation, precision=options.precision, opset=options.opset,
        preset=options.preset)
    document["correlation"] = _correlation_entry(options, protos["search"]) or document["correlation"]
    write_deploy(folder, document)
    return load_contract(folder)
