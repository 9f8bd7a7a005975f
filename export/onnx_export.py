"""`masktrt export`: a tracker's model -> one ONNX graph per spec graph + deploy.json.

Pipeline per graph: trace (the tracker's export side gives the module and its feeds) -> ONNX
checker + strict shape inference -> onnxslim, proven output-preserving in ONNX Runtime
(postprocess.py) -> optionally FP16 with FP32 I/O (fp16.py), checked again and compared with the
FP32 graph -> saved. Then deploy.json is written and read back through the runtime's own
validating loader, so an export that the runtime would refuse fails here, not on a Jetson.
Graph and tensor names come from the tracker's spec; nothing here names a tracker's tensors.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import onnx
import torch
from torch import nn

from masktrt import registry
from masktrt.errors import MasktrtError
from masktrt.export.deploy import ONNX_DTYPES, deploy_document, graph_entry, write_deploy
from masktrt.export.fp16 import compute_dtype, to_fp16
from masktrt.export.postprocess import (checked, slim, slim_verified, verify_per_target,
                                        verify_same)
from masktrt.export.trace import check_opset, trace_to_onnx
from masktrt.provenance import writable_folder
from masktrt.runtime.contract import EXPORT_PRECISIONS, Contract, load_contract
from masktrt.specs.base import BATCH, TrackerSpec, batched


@dataclass(frozen=True)
class ExportOptions:
    """How to export; `options` are the tracker's own (e.g. SiamMask's `correlation`)."""

    tracker: str = registry.DEFAULT_TRACKER
    precision: str = "fp32"
    opset: int = 17
    preset: str | None = None  # default: the spec's
    keep_fp32: tuple[str, ...] = ()  # with precision fp16: graphs left FP32 (see below)
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def spec(self) -> TrackerSpec:
        return registry.spec(self.tracker)

    def tracker_options(self) -> dict[str, Any]:
        """The spec's defaults overridden by the given options (what the contract records)."""
        known = set(self.spec.options) | ({BATCH} if self.spec.batch_graphs else set())
        unknown = sorted(set(self.options) - known)
        if unknown:
            raise MasktrtError(f"tracker '{self.tracker}' has no export option {unknown}",
                               f"its options are: {sorted(self.spec.options) or 'none'}")
        return {**self.spec.options, **self.options}

    def half_graphs(self) -> tuple[str, ...]:
        """The graphs converted to FP16."""
        if self.precision != "fp16":
            return ()
        return tuple(g for g in self.spec.graph_names if g not in self.keep_fp32)

    def validate(self) -> None:
        """Every bad option is a one-line error before any tracing starts."""
        registry.get(self.tracker).load_export().check_options(self.tracker_options())
        check_opset(self.opset)
        self.spec.preset(self.preset)
        if self.precision not in EXPORT_PRECISIONS:
            raise MasktrtError(f"unknown precision '{self.precision}'",
                               f"choose one of: {', '.join(EXPORT_PRECISIONS)}")
        unknown = [g for g in self.keep_fp32 if g not in self.spec.graph_names]
        if unknown:
            raise MasktrtError(f"no graph {unknown} to keep FP32",
                               f"graphs of '{self.tracker}': {', '.join(self.spec.graph_names)}")


# The FP16 graph against the FP32 graph at export: a sanity bound that catches overflow, NaN or
# a broken conversion (errors of order 1 of the range), not an accuracy gate. Accuracy is judged
# by `masktrt parity` against the budgets, on real crops, where the user can see the table.
FP16_SANITY = 0.25
# The template runs once per target, so FP16 saves nothing there, while rounding its weights to
# FP16 moves the kernels by ~10% of their range with the random weights (masktrt/budgets.py) and
# every later frame's correlation inherits that. `keep_fp32=("template",)` keeps it FP32; it is
# off by default because an engine builder that reads only the export's precision (not each
# graph's compute_dtype in deploy.json) would then refuse the FP32 template graph under strong
# typing.


def fp32_nodes(tracker: str, graph: str, proto: onnx.ModelProto) -> list[str]:
    """Nodes the tracker's export side keeps FP32 in an FP16 graph (none unless it says)."""
    mark = getattr(registry.get(tracker).load_export(), "fp32_nodes", None)
    return list(mark(graph, proto)) if mark is not None else []


def export_graph(name: str, module: nn.Module, feeds: dict[str, Any], options: ExportOptions,
                 tracker_options: dict[str, Any]) -> onnx.ModelProto:
    """Trace one graph and take it through the checks; returns the graph to save."""
    inputs, outputs = options.spec.io_names(name, tracker_options)
    batch = name in options.spec.batch_graphs and batched(tracker_options)
    raw = onnx.load_from_string(trace_to_onnx(module, feeds, options.opset, inputs, outputs, batch))
    proto = checked(raw, name, static=False)
    proto = slim_verified(proto, feeds, name, batch)
    if batch:
        verify_per_target(proto, feeds, name)
    if name in options.half_graphs():
        half = checked(slim(to_fp16(proto, fp32_nodes(options.tracker, name, proto))), name, batch=batch)
        verify_same(proto, half, feeds, name, tolerance=FP16_SANITY, what="converting to FP16",
                    fix="the weights overflow or underflow FP16: export with --precision fp32")
        proto = half
    return proto


def refit_weights(proto: onnx.ModelProto, names: tuple[str, ...]) -> list[dict[str, Any]]:
    """[{name, shape, dtype}] of a graph's refittable initializers, checked to be the W input of
    a Conv as they are (a Reshape or Cast in between would make TensorRT treat them as a dynamic
    weight tensor, which is what refit exists to avoid)."""
    inits = {t.name: t for t in proto.graph.initializer}
    conv_weights = {n.input[1] for n in proto.graph.node if n.op_type == "Conv" and len(n.input) > 1}
    table = []
    for name in names:
        if name not in inits or name not in conv_weights:
            raise MasktrtError(f"the refit graph lost the Conv weight initializer '{name}'",
                               "report this export bug; export without refit meanwhile")
        table.append({"name": name, "shape": list(inits[name].dims),
                      "dtype": ONNX_DTYPES.get(inits[name].data_type, str(inits[name].data_type))})
    return table


def export_onnx(model: nn.Module, out: str | Path, source: dict[str, Any],
                options: ExportOptions = ExportOptions()) -> Contract:
    """Write the tracker's graphs and deploy.json into `out`; returns the validated contract."""
    options.validate()
    spec, side = options.spec, registry.get(options.tracker).load_export()
    tracker_options = options.tracker_options()
    folder = writable_folder(out)
    model = model.eval()
    entries = {}
    with torch.no_grad():
        modules, feeds = side.trace_setup(model, tracker_options)
        for name in spec.graph_names:
            proto = export_graph(name, modules[name], feeds[name], options, tracker_options)
            file = folder / f"{name}.onnx"
            onnx.save(proto, file)
            # refit names must survive slimming and FP16, or nothing can refit
            refit = refit_weights(proto, spec.refit_names(name, tracker_options))
            entries[name] = graph_entry(proto, file, compute_dtype(proto), refit)
    document = deploy_document(spec=spec, graphs=entries, model=side.model_record(model),
                               source=source, options=tracker_options, precision=options.precision,
                               opset=options.opset, preset=options.preset)
    write_deploy(folder, document)
    return load_contract(folder)
