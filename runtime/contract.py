"""deploy.json: the contract between the exporter and every runtime, read without torch or onnx.

`masktrt export` writes it beside the graphs; graph runners, `masktrt build`, calibration, parity
and bench read only this file and the graphs. It records what a runtime cannot recover from the
graphs alone (which tracker, preprocessing, hyper-parameters, where the weights came from) and
what an engine builder must check (names, shapes, dtypes).

Validation is strict and happens once, here, against the tracker's spec (masktrt.specs): a
runtime that loads a contract knows the tracker is registered, the graphs exist, their I/O
tables are the spec's, and the tracker section fits this masktrt (a graph exported for another
crop size would track garbage without a single error).

Schema (version 2), every key required unless marked optional:

    schema: "masktrt.deploy"            schema_version: 2
    tracker: "<registered name>"        options: {<export options of that tracker>}
    precision: "fp32"|"fp16"|"int8"     opset: int
    graphs: {<name>: {file, sha256, compute_dtype, inputs: [{name, shape, dtype}],
                      outputs: [...], refit (optional): [{name, shape, dtype}]}}
    preprocessing: {color_order, value_range, mean, std, layout, dtype, sizes: {input: side}}
    preset: {name, <the tracker's hyper-parameters>}
    source: {kind: "checkpoint"|"random", sha256, path (optional)}
    model: {name, width, channels, ...}
    <tracker>: {<tracker-specific section, checked by the spec>}
    versions: {masktrt, torch, onnx, ...}

`refit` lists weights of a graph that a runner sets by refitting (TensorRT) instead of binding;
each is fed by the output of the same name of another graph. Version 1 files (SiamMask only,
written by masktrt 0.1) are read by converting them to version 2.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from masktrt import registry, strict_json
from masktrt.errors import MasktrtError
from masktrt.specs.base import TrackerSpec

DEPLOY_FILE = "deploy.json"
SCHEMA = "masktrt.deploy"
SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)
EXPORT_PRECISIONS = ("fp32", "fp16")  # what `masktrt export` writes
PRECISIONS = EXPORT_PRECISIONS + ("int8",)  # int8: QDQ graphs written by `masktrt calibrate`
DTYPES = ("float32", "float16", "int64", "int32")
REQUIRED = ("tracker", "options", "precision", "opset", "graphs", "preprocessing", "preset",
            "source", "model", "versions")


@dataclass(frozen=True)
class TensorSpec:
    """One graph input or output: what a runtime binds and an engine builder checks."""

    name: str
    shape: tuple[int, ...]
    dtype: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype}

    @property
    def size(self) -> int:
        total = 1
        for d in self.shape:
            total *= d
        return total


@dataclass(frozen=True)
class GraphSpec:
    """One exported graph: its file (absolute once loaded), hash, I/O tables, refit weights."""

    name: str
    path: Path
    sha256: str
    compute_dtype: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    refit: tuple[TensorSpec, ...] = ()
    runs: str = "frame"  # the spec's: "target" (once per target) or "frame"

    def input(self, name: str) -> TensorSpec:
        return _find(self.inputs, name, f"{self.name} input")

    def output(self, name: str) -> TensorSpec:
        return _find(self.outputs, name, f"{self.name} output")

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.inputs)

    @property
    def output_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.outputs)


@dataclass(frozen=True)
class Contract:
    """A validated deploy.json. `raw` keeps the whole (version 2) document."""

    root: Path
    tracker: str
    spec: TrackerSpec
    options: dict[str, Any]
    precision: str
    opset: int
    graphs: dict[str, GraphSpec]
    preset: Any
    source: dict[str, Any]
    model: dict[str, Any]
    raw: dict[str, Any]

    @property
    def graph_names(self) -> tuple[str, ...]:
        return tuple(self.graphs)

    def graph(self, name: str) -> GraphSpec:
        if name not in self.graphs:
            raise MasktrtError(f"{DEPLOY_FILE} has no graph '{name}'",
                               f"expected {', '.join(self.graphs)}")
        return self.graphs[name]

    @property
    def section(self) -> dict[str, Any]:
        """The tracker-specific section."""
        return self.raw.get(self.tracker, {})

    @property
    def refits(self) -> bool:
        return any(g.refit for g in self.graphs.values())


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


def _tensors(path: Path, items: Any, what: str) -> tuple[TensorSpec, ...]:
    if not isinstance(items, list):
        raise _bad(path, f"{what} must be a list of tensors")
    return tuple(_tensor(path, t) for t in items)


def _graph(path: Path, root: Path, spec: TrackerSpec, name: str, entry: Any,
           options: dict[str, Any]) -> GraphSpec:
    if not isinstance(entry, dict) or not {"file", "inputs", "outputs"} <= set(entry):
        raise _bad(path, f"graph '{name}' needs file, inputs and outputs")
    inputs = _tensors(path, entry["inputs"], f"graph '{name}' inputs")
    outputs = _tensors(path, entry["outputs"], f"graph '{name}' outputs")
    refit = _tensors(path, entry.get("refit") or [], f"graph '{name}' refit")
    want_in, want_out = spec.io_names(name, options)
    if tuple(t.name for t in inputs) != want_in or tuple(t.name for t in outputs) != want_out:
        raise _bad(path, f"graph '{name}' I/O names differ from {want_in} -> {want_out}")
    if tuple(t.name for t in refit) != spec.refit_names(name, options):
        raise _bad(path, f"graph '{name}' needs refit weights named {spec.refit_names(name, options)}")
    file = contained(path, root, entry["file"], f"graph '{name}'")
    if not file.is_file():
        raise MasktrtError(f"'{file}' named by {path} is missing",
                           "export again into this folder with 'masktrt export --out DIR'")
    check_hash(file, entry.get("sha256"), root)
    return GraphSpec(name, file, str(entry.get("sha256", "")),
                     str(entry.get("compute_dtype", "float32")), inputs, outputs, refit,
                     spec.graph(name).runs)


def contained(path: Path, root: Path, name: Any, what: str) -> Path:
    """The file a contract names, which must lie in the contract's own folder: a relative path
    without `..` whose target (links followed) stays inside `root` (already resolved)."""
    if not isinstance(name, str) or not name.strip():
        raise _bad(path, f"{what} file must be a file name")
    relative = PurePosixPath(name.replace("\\", "/"))
    if relative.is_absolute() or PureWindowsPath(name).drive or ".." in relative.parts:
        raise MasktrtError(f"{path}: {what} names '{name}', outside the contract's folder",
                           "a contract names only files in its own folder: re-export with "
                           "'masktrt export --out DIR'")
    file = root / relative
    if not file.resolve().is_relative_to(root):
        raise MasktrtError(f"{path}: {what} file '{name}' is a link out of the contract's folder",
                           "copy the file into the folder instead of linking it")
    return file


def check_hash(file: Path, sha256: Any, root: Path) -> None:
    """Refuse a graph whose bytes differ from the hash the contract recorded: a truncated copy,
    a swapped or edited file would otherwise load (or fail deep inside a backend). The hash ties
    a graph to its contract; it does not authenticate either (whoever edits one can edit both)."""
    from masktrt.provenance import sha256_file

    if not isinstance(sha256, str) or not sha256:
        raise MasktrtError(f"'{file}' has no sha256 in deploy.json",
                           f"re-export the folder (masktrt export --out {root}) so the file is "
                           "recorded with its hash")
    if sha256_file(file) != sha256:
        raise MasktrtError(f"'{file}' changed since deploy.json was written (sha256 differs)",
                           f"re-export the folder: masktrt export --out {root}")


def _read(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise MasktrtError(f"no {DEPLOY_FILE} in '{path.parent}'",
                           "run 'masktrt export --out DIR' and pass that DIR")
    try:
        doc = strict_json.loads(path.read_bytes())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise _bad(path, f"cannot be read as JSON ({exc})") from exc
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise _bad(path, f"is not a {SCHEMA} document")
    version = doc.get("schema_version")
    if version not in READABLE_VERSIONS:
        raise _bad(path, f"has schema_version {version!r}, this masktrt reads {READABLE_VERSIONS}")
    doc = upgrade_v1(path, doc) if version == 1 else doc
    missing = [key for key in REQUIRED if key not in doc]
    if missing:
        raise _bad(path, f"lacks {', '.join(missing)}")
    return doc


def upgrade_v1(path: Path, doc: dict[str, Any]) -> dict[str, Any]:
    """A version 1 (SiamMask-only) document as version 2: same graphs, names and numbers."""
    try:
        correlation, tracker = dict(doc["correlation"]), dict(doc["tracker"])
        graphs = {name: dict(entry) for name, entry in doc["graphs"].items()}
        pre = dict(doc["preprocessing"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise _bad(path, f"is a malformed version 1 document ({exc!r})") from exc
    if correlation.get("refit_weights") and "search" in graphs:
        graphs["search"]["refit"] = correlation["refit_weights"]
    sizes = {"z": pre.pop("template_size", None), "x": pre.pop("search_size", None)}
    v2 = {key: doc[key] for key in ("source", "model", "precision", "opset", "versions") if key in doc}
    v2.update(schema=SCHEMA, schema_version=SCHEMA_VERSION, tracker="siammask",
              options={"correlation": correlation.get("strategy")}, graphs=graphs,
              preprocessing={**pre, "sizes": sizes}, preset=tracker.get("preset"),
              siammask={"geometry": tracker.get("geometry", {}), "anchors": doc.get("anchors"),
                        "window": doc.get("window")})
    return v2


def _spec(path: Path, doc: dict[str, Any]) -> TrackerSpec:
    name = doc["tracker"]
    if not isinstance(name, str) or name not in registry.names():
        raise MasktrtError(f"{path}: tracker {name!r} is not registered in this masktrt",
                           f"registered: {', '.join(registry.names())}; "
                           "install the masktrt version or plug-in that exported it")
    return registry.spec(name)


def _check_choices(path: Path, spec: TrackerSpec, doc: dict[str, Any]) -> None:
    if not isinstance(doc["options"], dict):
        raise _bad(path, "options must be an object")
    if doc["precision"] not in PRECISIONS:
        raise _bad(path, f"unknown precision {doc['precision']!r}")
    if not isinstance(doc["opset"], int) or isinstance(doc["opset"], bool):
        raise _bad(path, f"opset {doc['opset']!r} is not an integer")
    problem = spec.section_problem(doc.get(spec.name), doc["options"])
    if problem:
        raise _bad(path, problem)
    graphs = doc["graphs"]
    if not isinstance(graphs, dict) or set(graphs) != set(spec.graph_names):
        raise _bad(path, f"graphs must be exactly {spec.graph_names}")


def _preset(path: Path, spec: TrackerSpec, values: Any) -> Any:
    try:
        preset = spec.preset_from_dict(values)
    except (TypeError, ValueError) as exc:
        raise _bad(path, f"preset {values!r} is malformed ({exc})") from exc
    problem = _preset_problem(preset, spec.preset(None))
    if problem:
        raise _bad(path, f"preset {problem}")
    return preset


def _preset_problem(preset: Any, default: Any) -> str | None:
    """A value whose type differs from the default preset's (a number given as text, NaN)."""
    for key, want in vars(default).items():
        got = getattr(preset, key)
        if isinstance(want, bool) or not isinstance(want, (int, float)):
            if type(got) is not type(want):
                return f"'{key}' is {got!r}, expected a {type(want).__name__}"
        elif isinstance(got, bool) or not isinstance(got, (int, float)) or not math.isfinite(got):
            return f"'{key}' is {got!r}, expected a finite number"
    return None


def _check_refits(path: Path, graphs: dict[str, GraphSpec]) -> None:
    """Each refit weight is fed by another graph's output of its name, with as many values (the
    runtime copies that output into the weight as it is: a mismatch would refit garbage)."""
    outputs = {t.name: t for g in graphs.values() for t in g.outputs}
    for graph in graphs.values():
        for weight in graph.refit:
            source = outputs.get(weight.name)
            if source is None or source.size != weight.size:
                got = list(source.shape) if source else "no output of that name"
                raise _bad(path, f"refit weight '{weight.name}' {list(weight.shape)} does not hold "
                                 f"the graph output {got}")


def load_contract(folder: str | Path) -> Contract:
    """Read and validate `folder/deploy.json`; every problem is one MasktrtError line."""
    root = Path(folder).resolve()
    path = root / DEPLOY_FILE
    doc = _read(path)
    spec = _spec(path, doc)
    _check_choices(path, spec, doc)
    options = dict(doc["options"])
    graphs = {name: _graph(path, root, spec, name, doc["graphs"][name], options)
              for name in spec.graph_names}
    _check_refits(path, graphs)
    if not isinstance(doc["source"], dict) or not isinstance(doc["model"], dict):
        raise _bad(path, "source and model must be objects")
    return Contract(root=root, tracker=spec.name, spec=spec, options=options,
                    precision=doc["precision"], opset=doc["opset"], graphs=graphs,
                    preset=_preset(path, spec, doc["preset"]), source=dict(doc["source"]),
                    model=dict(doc["model"]), raw=doc)
