"""deploy.json: the contract between the exporter and every runtime, read without torch or onnx.

`masktrt export` writes it beside template.onnx, search.onnx and refine.onnx; the ONNX Runtime
and TensorRT backends and `masktrt build` read only this file and the graphs. It records what a
runtime cannot recover from the graphs alone (preprocessing, tracker hyper-parameters, anchors,
where the weights came from) and what an engine builder must check (names, shapes, dtypes).

Validation is strict and happens once, here: a runtime that loads a deploy.json knows the graphs
exist, the I/O tables are complete, and the geometry matches this masktrt's constants (a graph
exported for another crop size would track garbage without a single error).

Schema (version 1), every key required unless marked optional:

    schema: "masktrt.deploy"            schema_version: 1
    model: {name, width, channels: {stem, p1, p2, p3, adjust, hidden, ...}}
    source: {kind: "checkpoint"|"random", sha256: "<hex>"|"random:<seed>", path (optional)}
    correlation: {strategy: "dynamic"|"unrolled"|"refit", kernel_inputs: ["k_cls", "k_loc", "k_mask"]
                  (empty for refit), refit_weights (refit only): [{name, shape, dtype}]}
    precision: "fp32"|"fp16"            opset: int
    graphs: {template|search|refine: {file, sha256, compute_dtype,
             inputs: [{name, shape, dtype}], outputs: [{name, shape, dtype}]}}
    preprocessing: {color_order: "BGR", value_range: [0, 255], mean: [0,0,0], std: [1,1,1],
                    layout: "NCHW", dtype: "float32", template_size, search_size}
    tracker: {preset: {name, seg_thr, penalty_k, window_influence, lr, lost_score},
              geometry: {exemplar_size, instance_size, total_stride, base_size, score_size,
                         context_amount, mask_out_size, min_contour_area, min_target_size}}
    anchors: {stride, ratios, scales, anchor_num, score_size, index_order}
    window: {kind: "cosine", score_size, tiled: anchor_num}
    versions: {masktrt, torch, onnx, onnxslim, ...}
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from masktrt.errors import MasktrtError
from masktrt.runtime import config

DEPLOY_FILE = "deploy.json"
SCHEMA = "masktrt.deploy"
SCHEMA_VERSION = 1
GRAPHS = ("template", "search", "refine")
CORRELATIONS = ("dynamic", "unrolled", "refit")
# `refit`: search.onnx has input x only; the template's three outputs are named initializers of
# search.onnx (the depth-wise Conv weights, shape Cx1xhxw) that the runtime refits per target.
REFIT = "refit"
EXPORT_PRECISIONS = ("fp32", "fp16")  # what `masktrt export` writes
PRECISIONS = EXPORT_PRECISIONS + ("int8",)  # int8: QDQ graphs written by `masktrt calibrate`
DTYPES = ("float32", "float16", "int64", "int32")
# The graph I/O names every runtime binds by (fixed so engines and backends need no lookup).
IO_NAMES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "template": (("z",), ("k_cls", "k_loc", "k_mask")),
    "search": (("x", "k_cls", "k_loc", "k_mask"), ("cls", "loc", "corr", "p0", "p1", "p2")),
    "refine": (("p0", "p1", "p2", "corr", "pos"), ("mask",)),
}
REFIT_WEIGHTS = IO_NAMES["template"][1]  # template output k_* refits search weight k_*


def io_names(graph: str, correlation: str = "dynamic") -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(inputs, outputs) of `graph` under a correlation strategy: refit's search takes x only."""
    inputs, outputs = IO_NAMES[graph]
    if graph == "search" and correlation == REFIT:
        inputs = tuple(n for n in inputs if n not in REFIT_WEIGHTS)
    return inputs, outputs


REQUIRED = ("model", "source", "correlation", "precision", "opset", "graphs", "preprocessing",
            "tracker", "anchors", "window", "versions")


def geometry() -> dict[str, float | int]:
    """This masktrt's tracker geometry, as recorded in (and checked against) deploy.json."""
    return {"exemplar_size": config.EXEMPLAR_SIZE, "instance_size": config.INSTANCE_SIZE,
            "total_stride": config.TOTAL_STRIDE, "base_size": config.BASE_SIZE,
            "score_size": config.SCORE_SIZE, "context_amount": config.CONTEXT_AMOUNT,
            "mask_out_size": config.MASK_OUT_SIZE, "min_contour_area": config.MIN_CONTOUR_AREA,
            "min_target_size": config.MIN_TARGET_SIZE}


@dataclass(frozen=True)
class TensorSpec:
    """One graph input or output: what a runtime binds and an engine builder checks."""

    name: str
    shape: tuple[int, ...]
    dtype: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype}


@dataclass(frozen=True)
class GraphSpec:
    """One exported subgraph: its file (absolute once loaded), hash and I/O tables."""

    name: str
    path: Path
    sha256: str
    compute_dtype: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]

    def input(self, name: str) -> TensorSpec:
        return _find(self.inputs, name, f"{self.name} input")

    def output(self, name: str) -> TensorSpec:
        return _find(self.outputs, name, f"{self.name} output")


@dataclass(frozen=True)
class Deploy:
    """A validated deploy.json. `raw` keeps the whole document for fields without an accessor."""

    root: Path
    correlation: str
    precision: str
    opset: int
    graphs: dict[str, GraphSpec]
    preset: config.TrackerConfig
    source: dict[str, Any]
    model: dict[str, Any]
    raw: dict[str, Any]
    # refit only: the search graph's refittable weights, one per template output, in that order
    refit_weights: tuple[TensorSpec, ...] = ()

    def graph(self, name: str) -> GraphSpec:
        if name not in self.graphs:
            raise MasktrtError(f"deploy.json has no graph '{name}'", f"expected {GRAPHS}")
        return self.graphs[name]


def _find(specs: tuple[TensorSpec, ...], name: str, what: str) -> TensorSpec:
    for spec in specs:
        if spec.name == name:
            return spec
    raise MasktrtError(f"no {what} named '{name}'", f"known: {[s.name for s in specs]}")


def _bad(path: Path, problem: str) -> MasktrtError:
    return MasktrtError(f"{path}: {problem}",
                        "re-export with 'masktrt export --out DIR' from this masktrt version")


def _tensor(path: Path, item: Any) -> TensorSpec:
    if not isinstance(item, dict) or not {"name", "shape", "dtype"} <= set(item):
        raise _bad(path, f"tensor entry {item!r} needs name, shape and dtype")
    shape = item["shape"]
    if not isinstance(shape, list) or not all(isinstance(d, int) and d > 0 for d in shape):
        raise _bad(path, f"tensor '{item['name']}' has a non-static shape {shape!r}")
    if item["dtype"] not in DTYPES:
        raise _bad(path, f"tensor '{item['name']}' has unknown dtype {item['dtype']!r}")
    return TensorSpec(str(item["name"]), tuple(shape), item["dtype"])


def _graph(path: Path, root: Path, name: str, entry: Any, correlation: str) -> GraphSpec:
    if not isinstance(entry, dict) or not {"file", "inputs", "outputs"} <= set(entry):
        raise _bad(path, f"graph '{name}' needs file, inputs and outputs")
    inputs = tuple(_tensor(path, t) for t in entry["inputs"])
    outputs = tuple(_tensor(path, t) for t in entry["outputs"])
    want_in, want_out = io_names(name, correlation)
    if tuple(t.name for t in inputs) != want_in or tuple(t.name for t in outputs) != want_out:
        raise _bad(path, f"graph '{name}' I/O names differ from {want_in} -> {want_out}")
    file = root / entry["file"]
    if not file.is_file():
        raise MasktrtError(f"'{file}' named by {path} is missing",
                           "export again into this folder with 'masktrt export --out DIR'")
    return GraphSpec(name, file, str(entry.get("sha256", "")),
                     str(entry.get("compute_dtype", "float32")), inputs, outputs)


def _read(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise MasktrtError(f"no {DEPLOY_FILE} in '{path.parent}'",
                           "run 'masktrt export --out DIR' and pass that DIR")
    try:
        doc = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise _bad(path, f"cannot be read as JSON ({exc})") from exc
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise _bad(path, f"is not a {SCHEMA} document")
    if doc.get("schema_version") != SCHEMA_VERSION:
        raise _bad(path, f"has schema_version {doc.get('schema_version')!r}, "
                         f"this masktrt reads {SCHEMA_VERSION}")
    missing = [key for key in REQUIRED if key not in doc]
    if missing:
        raise _bad(path, f"lacks {', '.join(missing)}")
    return doc


def _check_choices(path: Path, doc: dict[str, Any]) -> None:
    strategy = doc["correlation"].get("strategy") if isinstance(doc["correlation"], dict) else None
    if strategy not in CORRELATIONS:
        raise _bad(path, f"unknown correlation {doc['correlation']!r}")
    if doc["precision"] not in PRECISIONS:
        raise _bad(path, f"unknown precision {doc['precision']!r}")
    recorded = doc["tracker"].get("geometry", {})
    mismatched = {k: (recorded.get(k), v) for k, v in geometry().items() if recorded.get(k) != v}
    if mismatched:
        raise _bad(path, f"tracker geometry differs from this masktrt's (file, here): {mismatched}")


def _preset(path: Path, doc: dict[str, Any]) -> config.TrackerConfig:
    values = doc["tracker"].get("preset")
    try:
        return config.TrackerConfig(**values)
    except TypeError as exc:
        raise _bad(path, f"tracker preset {values!r} is malformed ({exc})") from exc


def load_deploy(folder: str | Path) -> Deploy:
    """Read and validate `folder/deploy.json`; every problem is one MasktrtError line."""
    root = Path(folder).resolve()
    path = root / DEPLOY_FILE
    doc = _read(path)
    _check_choices(path, doc)
    graphs = doc["graphs"]
    if not isinstance(graphs, dict) or set(graphs) != set(GRAPHS):
        raise _bad(path, f"graphs must be exactly {GRAPHS}")
    strategy = doc["correlation"]["strategy"]
    specs = {name: _graph(path, root, name, graphs[name], strategy) for name in GRAPHS}
    refit = _refit_weights(path, doc, specs["template"]) if strategy == REFIT else ()
    return Deploy(root=root, correlation=doc["correlation"]["strategy"], precision=doc["precision"],
                  opset=int(doc["opset"]), graphs=specs, preset=_preset(path, doc),
                  source=dict(doc["source"]), model=dict(doc["model"]), raw=doc,
                  refit_weights=refit)


def _refit_weights(path: Path, doc: dict[str, Any], template: GraphSpec) -> tuple[TensorSpec, ...]:
    """The refittable weights of a refit export: one per template output, same element count
    (the runtime copies each template output into its weight as it is, so a mismatch would
    refit garbage or be refused by TensorRT at the first target)."""
    weights = tuple(_tensor(path, t) for t in doc["correlation"].get("refit_weights") or ())
    if tuple(w.name for w in weights) != REFIT_WEIGHTS:
        raise _bad(path, f"correlation 'refit' needs refit_weights named {REFIT_WEIGHTS}")
    for weight in weights:
        out = template.output(weight.name)
        if _count(weight.shape) != _count(out.shape):
            raise _bad(path, f"refit weight '{weight.name}' {list(weight.shape)} does not hold the "
                             f"template output {list(out.shape)}")
    return weights


def _count(shape: tuple[int, ...]) -> int:
    total = 1
    for d in shape:
        total *= d
    return total
