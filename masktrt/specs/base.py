"""What every tracker declares as pure data: its graphs, presets, geometry and parity budgets.

A spec is importable anywhere (no torch, no onnx, no numpy work at import) because every shared
layer — exporter, contract reader, engine builder, graph runners, calibration, parity, bench —
learns graph and tensor names from it and from the contract it writes, never from literals.
Trackers subclass `TrackerSpec` only where their contract section needs its own checks.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping

from masktrt.budgets import Budget
from masktrt.errors import MasktrtError

PER_TARGET = "target"  # a graph run once per target (its outputs are target state)
PER_FRAME = "frame"  # a graph run every frame (its outputs live until its next run)
# tensor-weight correlation strategies masktrt exports (each Siamese spec offers a subset):
# dynamic-weight conv, unrolled Slice/Mul/Add, kernels as refittable constant weights
CORRELATIONS = ("dynamic", "unrolled", "refit")
# export option `batch`: "dynamic" gives the spec's `batch_graphs` a leading target dimension, so
# one call serves N targets (their crops and per-target state stacked). Absent = batch 1, and an
# export without it is byte-identical to one made before the option existed.
BATCH, BATCH_DYNAMIC = "batch", "dynamic"
# Only the unrolled correlation broadcasts per-sample kernels: a depth-wise Conv's `group` is a
# build-time attribute (ONNX, TensorRT), so groups = B*C cannot follow a dynamic B.
BATCH_CORRELATION = "unrolled"
# TensorRT optimisation profiles of batched graphs: every profile spans BATCH_MIN..BATCH_MAX
# targets, one per opt point (the common target counts); callers split larger sets.
BATCH_MIN, BATCH_MAX = 1, 16
BATCH_OPT = (1, 4, 8)
# The Siamese graph contract the shared frame ops (runtime.gpu_ops: crop kernels writing into an
# engine's input, refine logits pasted back on the device) bind by name: crop roles are the
# graphs whose input the crop is, and refine maps (features, pos) -> mask. A tracker that wants
# the device frame ops names its graphs and tensors so (SiamMask does; OceanPlus shares the
# template's names and crops on the host).
TEMPLATE, SEARCH, REFINE = "template", "search", "refine"
TEMPLATE_INPUT, SEARCH_INPUT, POS, MASK = "z", "x", "pos", "mask"


@dataclass(frozen=True)
class GraphDecl:
    """One exported graph: its tensor names in order, and how often the tracker runs it.

    `runs` tells a graph runner how long outputs kept on the device must live: outputs of a
    per-target graph belong to the target (fresh buffers per call), those of a per-frame graph
    are overwritten by the graph's next run.

    `group` names a set of alternative graphs of which a tracker runs one per target (OceanPlus's
    track_255 / track_287, chosen by target size). Runners open grouped graphs on first use, so
    a device holds the activations of the one a sequence needs, not of all of them.
    """

    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    runs: str = PER_FRAME
    group: str = ""


@dataclass(frozen=True)
class Preprocessing:
    """How the runtime turns a frame crop into a network input (recorded in the contract)."""

    color_order: str = "BGR"
    value_range: tuple[float, float] = (0.0, 255.0)
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    layout: str = "NCHW"
    dtype: str = "float32"
    sizes: Mapping[str, int] = field(default_factory=dict)  # input tensor -> crop side (pixels)

    def to_dict(self) -> dict[str, Any]:
        return {"color_order": self.color_order, "value_range": list(self.value_range),
                "mean": list(self.mean), "std": list(self.std), "layout": self.layout,
                "dtype": self.dtype, "sizes": dict(self.sizes)}


@dataclass(frozen=True)
class HeldOut:
    """How `masktrt eval --tracker` runs this tracker over the held-out sequences (the model
    card's table): one preset for every sequence (None: the default preset), whether it starts
    from the first-frame mask where a sequence has one (else from the box), and the export
    options the PyTorch reference runs at (e.g. RTS's `sizes`, the crop its weights know)."""

    preset: str | None = None
    start_from_mask: bool = False
    options: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TrackerSpec:
    """A tracker's declarations. `presets` maps names to frozen dataclasses with `to_dict()`."""

    name: str
    summary: str
    graphs: tuple[GraphDecl, ...]
    presets: Mapping[str, Any]
    default_preset: str
    preprocessing: Preprocessing
    budgets: tuple[Budget, ...] = ()
    # export options (tracker-specific) recorded in the contract and their defaults
    options: Mapping[str, Any] = field(default_factory=dict)
    # released model variants (e.g. decoders) one architecture comes in; the first is the default
    variants: tuple[str, ...] = ()
    # file name of the small trained demo checkpoint in the tracker's folder (None: none shipped)
    demo_weights: str | None = None
    # the runtime tracker's timer stages, in call order ({"init": (...), "track": (...)}), and
    # what each measures: `masktrt bench` reports exactly these, plus "total"
    stages: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    stage_help: str = ""
    # per-frame graphs that take N targets in one call under the export option batch=dynamic
    batch_graphs: tuple[str, ...] = ()
    # the held-out evaluation protocol (`masktrt eval --tracker NAME`)
    held_out: HeldOut = field(default_factory=HeldOut)

    # -- graphs --------------------------------------------------------------------------------
    @property
    def graph_names(self) -> tuple[str, ...]:
        return tuple(g.name for g in self.graphs)

    def graph(self, name: str) -> GraphDecl:
        for decl in self.graphs:
            if decl.name == name:
                return decl
        raise MasktrtError(f"tracker '{self.name}' has no graph '{name}'",
                           f"its graphs are: {', '.join(self.graph_names)}")

    def io_names(self, graph: str, options: Mapping[str, Any] | None = None
                 ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(inputs, outputs) of `graph` as exported under `options` (default: as declared)."""
        decl = self.graph(graph)
        return decl.inputs, decl.outputs

    def refit_names(self, graph: str, options: Mapping[str, Any] | None = None) -> tuple[str, ...]:
        """Names `graph` takes as refittable weights rather than inputs under `options`."""
        return ()

    def variant(self, name: str | None) -> str | None:
        """`name` checked against the tracker's variants (None: the default, or None for a
        tracker that has no variants)."""
        if name is None:
            return self.variants[0] if self.variants else None
        if name not in self.variants:
            known = ", ".join(self.variants) or "none (drop --variant)"
            raise MasktrtError(f"tracker '{self.name}' has no model variant '{name}'",
                               f"its variants: {known}")
        return name

    # -- presets -------------------------------------------------------------------------------
    def preset(self, name: str | None = None, **overrides: Any) -> Any:
        """A preset by name (default: the spec's); unknown names fail with the valid ones."""
        name = name or self.default_preset
        if name not in self.presets:
            raise MasktrtError(f"unknown preset '{name}' for tracker '{self.name}'",
                               f"choose one of: {', '.join(self.presets)}")
        return replace(self.presets[name], **overrides) if overrides else self.presets[name]

    def preset_from_dict(self, values: Any) -> Any:
        """The preset a contract records; TypeError/ValueError on a malformed one."""
        kind = type(self.presets[self.default_preset])
        if not isinstance(values, dict):
            raise TypeError(f"expected an object, got {type(values).__name__}")
        return kind(**values)

    # -- contract ------------------------------------------------------------------------------
    def section(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """The tracker-specific part of the contract (geometry, anchors, ...) for an export."""
        return {}

    def section_problem(self, section: Any, options: Mapping[str, Any]) -> str | None:
        """Why a contract's tracker section does not fit this masktrt (None: it fits)."""
        return None if isinstance(section, dict) else "the tracker section is not an object"

    # -- budgets -------------------------------------------------------------------------------
    def budgets_for(self, level: str, precision: str) -> list[Budget]:
        return [b for b in self.budgets if b.level == level and b.precision == precision]

    def budget(self, name: str) -> Budget:
        for b in self.budgets:
            if b.name == name:
                return b
        raise KeyError(name)


def correlation_of(options: Mapping[str, Any] | None) -> str:
    """The export option `correlation` (Siamese trackers), `dynamic` unless given."""
    return str((options or {}).get("correlation", "dynamic"))


def batched(options: Mapping[str, Any] | None) -> bool:
    """Whether an export's options ask for (or a contract records) the dynamic target batch."""
    return (options or {}).get(BATCH) == BATCH_DYNAMIC


def batch_problem(options: Mapping[str, Any] | None) -> str | None:
    """Why the `batch` option is unusable (None: absent, or dynamic with a correlation that
    broadcasts per-target kernels)."""
    value = (options or {}).get(BATCH)
    if value is None:
        return None
    if value != BATCH_DYNAMIC:
        return f"unknown batch {value!r} (known: {BATCH_DYNAMIC}, or leave it out for batch 1)"
    if correlation_of(options) != BATCH_CORRELATION:
        return (f"batch={BATCH_DYNAMIC} needs correlation={BATCH_CORRELATION} (a depth-wise Conv's "
                f"groups cannot follow a dynamic batch), not {correlation_of(options)!r}")
    return None


def check_batch(options: Mapping[str, Any] | None) -> None:
    """`batch_problem` as the one-line export error."""
    problem = batch_problem(options)
    if problem:
        raise MasktrtError(problem, f"export with --{BATCH} {BATCH_DYNAMIC} --xcorr "
                                    f"{BATCH_CORRELATION}, or without --{BATCH}")


def siamese_section_problem(tracker: str, section: Any, options: Mapping[str, Any] | None,
                            correlations: tuple[str, ...], geometry: Mapping[str, Any]) -> str | None:
    """The contract checks every Siamese tracker shares: the section is an object, the
    correlation is one this masktrt exports, and the recorded geometry is this masktrt's (a
    graph exported for another crop size would track garbage without a single error)."""
    if not isinstance(section, dict):
        return f"the {tracker} section is not an object"
    if correlation_of(options) not in correlations:
        return f"unknown correlation {correlation_of(options)!r} (known: {', '.join(correlations)})"
    if batch_problem(options):
        return batch_problem(options)
    recorded = section.get("geometry") or {}
    mismatched = {k: (recorded.get(k), v) for k, v in geometry.items() if recorded.get(k) != v}
    if mismatched:
        return f"tracker geometry differs from this masktrt's (file, here): {mismatched}"
    return None
