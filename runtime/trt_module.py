"""Which TensorRT: full TensorRT (`tensorrt`) or TensorRT-RTX (`tensorrt_rtx`), and what each can do.

The two modules share one API, so one builder and one loader serve both; the module object is
chosen by name and passed explicitly (never a process-wide switch). Their differences are few and
all are decided here, as plain functions of (module name, version), so they are tested without
either module or a GPU:

- Typing: TensorRT-RTX networks are always strongly typed and have no precision flags, so an FP16
  engine must come from an FP16 graph. Full TensorRT takes an FP32 graph plus the FP16 flag (or a
  strongly typed FP16 graph).
- Timing cache: a no-op in TensorRT-RTX (it tunes kernels on the target GPU at run time and has a
  runtime cache instead); full TensorRT reads and writes it.
- Correlation with a runtime kernel (a Conv whose weights are a graph input): TensorRT 8.5+ and
  TensorRT-RTX import it; older TensorRT needs the `unrolled` or `refit` graphs.
- Refit (`refit` graphs: the kernels are named conv weights refitted per target): TensorRT 10+
  and TensorRT-RTX mark just those three weights refittable (REFIT_INDIVIDUAL), so the rest of
  the network keeps every constant-weight optimisation; older TensorRT makes all weights
  refittable (REFIT) and the refitter is handed only the three kernels.
- Targets: TensorRT-RTX builds ahead of time with no GPU for a set of compute capabilities;
  full TensorRT builds for the GPU it runs on.

Why not polygraphy's loaders: polygraphy picks `tensorrt_rtx` from `POLYGRAPHY_USE_TENSORRT_RTX`
read once, when `polygraphy.config` is first imported, and binds the module into its loader
modules at import time. One process could then build for only one of the two modules, chosen by
hidden global state, and its `CreateConfig` refuses precision flags under TensorRT-RTX anyway.
The raw builder calls we need (parse, configure, serialize) are the same ten lines in both.
"""
from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from types import ModuleType

from masktrt.errors import MasktrtError

# `--backend` name -> (Python module, how to install it)
BACKENDS: dict[str, tuple[str, str]] = {
    "tensorrt": ("tensorrt", "install NVIDIA TensorRT 8.5+ for your CUDA (JetPack ships it; "
                 "on x86-64: pip install tensorrt), or use --backend tensorrt-rtx"),
    "tensorrt-rtx": ("tensorrt_rtx", "install it with: pip install 'masktrt[tensorrt-rtx]' "
                     "(tensorrt-rtx-cu13)"),
}
MODULE_TO_BACKEND = {module: backend for backend, (module, _) in BACKENDS.items()}

PRECISIONS = ("fp32", "fp16", "int8")
XCORR_CHOICES = ("auto", "dynamic", "unrolled", "refit")
# strategies every TensorRT builds: no convolution with an input as its weights
ANY_TENSORRT = ("unrolled", "refit")

# TensorRT-RTX's default ahead-of-time targets (its documentation: Ampere and later; Turing 7.5
# only when asked for explicitly). Used to reject a GPU before deserialising.
RTX_DEFAULT_MIN_CC = (8, 0)
RTX_TARGETS = ((7, 5), (8, 0), (8, 6), (8, 9), (12, 0), (12, 1))


def import_trt(backend: str) -> ModuleType:
    """Import the module behind `--backend`; a missing one is a one-line error with the fix."""
    if backend not in BACKENDS:
        raise MasktrtError(f"unknown TensorRT backend '{backend}'",
                           f"choose one of: {', '.join(BACKENDS)}")
    module, fix = BACKENDS[backend]
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MasktrtError(f"--backend {backend} needs the Python module '{module}', "
                           f"which is not installed ({exc.msg})", fix) from exc


def parse_version(text: str) -> tuple[int, ...]:
    """'10.3.0.26' -> (10, 3, 0, 26); non-numeric tails ('8.6.1.post1') are dropped."""
    return tuple(int(p) for p in re.match(r"\d+(?:\.\d+)*", text).group(0).split("."))


@dataclass(frozen=True)
class Flavour:
    """What a (module, version) can do; every TensorRT/TensorRT-RTX difference in one place."""

    module: str
    version: str

    @property
    def rtx(self) -> bool:
        return self.module == "tensorrt_rtx"

    @property
    def backend(self) -> str:
        return MODULE_TO_BACKEND[self.module]

    @property
    def always_strongly_typed(self) -> bool:
        return self.rtx

    @property
    def uses_timing_cache(self) -> bool:
        return not self.rtx

    @property
    def builds_without_gpu(self) -> bool:
        return self.rtx

    @property
    def dynamic_weights(self) -> bool:
        """Conv with weights as a graph input: TensorRT 8.5+ (NVIDIA/TensorRT #1675), any RTX."""
        return self.rtx or parse_version(self.version)[:2] >= (8, 5)

    @property
    def individual_refit(self) -> bool:
        """REFIT_INDIVIDUAL + INetworkDefinition.mark_weights_refittable: TensorRT 10+, any RTX."""
        return self.rtx or parse_version(self.version)[:1] >= (10,)

    @property
    def refit_flag(self) -> str:
        return "REFIT_INDIVIDUAL" if self.individual_refit else "REFIT"

    @property
    def needs_explicit_batch_flag(self) -> bool:
        return not self.rtx and parse_version(self.version)[:1] < (10,)


def flavour_of(trt: ModuleType) -> Flavour:
    return Flavour(module=trt.__name__.split(".")[0], version=str(trt.__version__))


@dataclass(frozen=True)
class PrecisionPlan:
    """How to get an engine of `precision` from a graph of `graph_precision` on one flavour."""

    strongly_typed: bool
    flags: tuple[str, ...]  # BuilderFlag names to set
    clear_flags: tuple[str, ...]  # BuilderFlag names to clear


def precision_plan(flavour: Flavour, precision: str, graph_precision: str,
                   onnx_dir: str = "DIR", others_quantized: bool = False) -> PrecisionPlan:
    """Decide typing and builder flags; an impossible pair is a one-line error with the fix.

    `graph_precision` is what the parsed graph holds: 'fp32', 'fp16' (half tensors) or 'int8'
    (QuantizeLinear/DequantizeLinear nodes). `others_quantized`: another graph of the same INT8
    build has Q/DQ nodes, so a float graph here was left unquantized on purpose (calibration keeps
    fragile parts out of INT8) and is built in FP16 where the flavour allows.
    """
    if precision not in PRECISIONS:
        raise MasktrtError(f"unknown precision '{precision}'", f"choose one of: {', '.join(PRECISIONS)}")
    if precision == "int8":
        if graph_precision != "int8" and others_quantized:
            if flavour.always_strongly_typed:
                return PrecisionPlan(True, (), ())
            return PrecisionPlan(graph_precision == "fp16", () if graph_precision == "fp16" else ("FP16",), ())
        if graph_precision != "int8":
            raise MasktrtError(
                f"--precision int8 needs a QDQ graph (QuantizeLinear/DequantizeLinear nodes), but "
                f"the graphs in {onnx_dir} have none",
                "make one with 'masktrt calibrate' (explicit quantization) and build from its folder")
        if flavour.always_strongly_typed:
            return PrecisionPlan(True, (), ())
        # Explicit quantization on full TensorRT: INT8 where the Q/DQ nodes say, FP16 elsewhere
        # (the correlation and heads stay out of INT8, spec deployment.md).
        return PrecisionPlan(False, ("INT8", "FP16"), ())
    if graph_precision == "int8":
        raise MasktrtError(f"the graphs in {onnx_dir} are quantized (QDQ) but --precision is {precision}",
                           "build them with --precision int8, or export float graphs with 'masktrt export'")
    if graph_precision == precision:
        # FP32 on full TensorRT: no TF32, so FP32 engines keep float32 parity budgets.
        clear = ("TF32",) if (precision == "fp32" and not flavour.rtx) else ()
        return PrecisionPlan(precision == "fp16" or flavour.always_strongly_typed, (), clear)
    if flavour.rtx:
        raise MasktrtError(
            f"TensorRT-RTX is strongly typed: an {precision.upper()} engine needs {precision.upper()} "
            f"graphs, but the graphs in {onnx_dir} are {graph_precision.upper()}",
            f"export them with: masktrt export --precision {precision} --out {onnx_dir}")
    if precision == "fp16" and graph_precision == "fp32":
        return PrecisionPlan(False, ("FP16",), ())
    raise MasktrtError(f"an FP32 engine cannot be built from the FP16 graphs in {onnx_dir}",
                       f"export FP32 graphs with: masktrt export --precision fp32 --out {onnx_dir}")


def choose_xcorr(flavour: Flavour, requested: str, exported: str,
                 onnx_dir: str = "DIR") -> tuple[str, str]:
    """Pick the correlation strategy; returns (strategy, sentence saying why).

    The strategy is fixed at export time, so the build can only check that the graphs in DIR
    suit the request and this TensorRT; a mismatch names the export command that fixes it.
    """
    if requested not in XCORR_CHOICES:
        raise MasktrtError(f"unknown --xcorr '{requested}'", f"choose one of: {', '.join(XCORR_CHOICES)}")
    who = f"{flavour.module} {flavour.version}"
    if requested == "auto":
        preferred = "dynamic" if flavour.dynamic_weights else "unrolled"
        if exported == preferred:
            return preferred, f"auto picked '{preferred}' for {who}"
        if exported in ANY_TENSORRT:  # accepted everywhere: use it, say what is better
            better = (f"; {who} also takes 'dynamic': masktrt export --xcorr dynamic --out {onnx_dir}"
                      if flavour.dynamic_weights else f" for {who}")
            return exported, f"auto picked '{exported}' (the graphs in {onnx_dir}){better}"
        requested = exported  # 'dynamic' on an old TensorRT: the check below explains
    if requested == "dynamic" and not flavour.dynamic_weights:
        raise MasktrtError(f"{who} cannot import a convolution whose weights are an input (needs "
                           f"TensorRT 8.5+)", f"export with: masktrt export --xcorr unrolled --out {onnx_dir} "
                           "(or --xcorr refit)")
    if exported != requested:
        raise MasktrtError(f"the graphs in {onnx_dir} were exported with --xcorr {exported}, not {requested}",
                           f"re-export with: masktrt export --xcorr {requested} --out {onnx_dir}")
    return requested, f"'{requested}' as asked"
