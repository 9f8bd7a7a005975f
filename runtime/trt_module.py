"""Which TensorRT: full TensorRT (`tensorrt`) or TensorRT-RTX (`tensorrt_rtx`), and what each can do.

The two modules share one API, so one builder (masktrt.engines) and one loader (runtime.engine_loader)
serve both; the module object is chosen by name and passed explicitly (never a process-wide switch).
Their differences are few and all are decided by `Flavour`, a plain function of (module name,
version), so they are tested without either module or a GPU. This module is the runtime's (the
loader and the runner need it); the build-only decisions built on it (precision plans, the
correlation strategy) live in masktrt.engines:

- Typing: TensorRT-RTX and TensorRT 11+ networks are always strongly typed and have no precision
  flags (TensorRT 11 removed BuilderFlag.FP16/INT8 with weak typing), so an FP16 engine must come
  from an FP16 graph and an INT8 one from a QDQ graph. TensorRT 8.5-10 takes an FP32 graph plus
  the FP16 flag (or a strongly typed FP16 graph).
- Timing cache: a no-op in TensorRT-RTX (it tunes kernels on the target GPU at run time and has a
  runtime cache instead); full TensorRT reads and writes it.
- Correlation with a runtime kernel (a Conv whose weights are a graph input): TensorRT 8.5+ and
  TensorRT-RTX import it; older TensorRT needs the `unrolled` or `refit` graphs.
- Refit (`refit` graphs: the kernels are named conv weights refitted per target): TensorRT 10+
  and TensorRT-RTX mark just those three weights refittable (REFIT_INDIVIDUAL), so the rest of
  the network keeps every constant-weight optimisation; older TensorRT makes all weights
  refittable (REFIT) and the refitter is handed only the three kernels.
- Targets: TensorRT-RTX builds ahead of time with no GPU for a set of compute capabilities, and
  runs only on those its support matrix lists (RTX_SUPPORT_MATRIX: not 8.0, 8.7 or 9.0); full
  TensorRT builds for the GPU it runs on.

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

# TensorRT-RTX's support matrix: the compute capabilities a release lists (Linux x86-64 and
# Windows x64), keyed by the first release that lists them; later releases take the last row
# until a newer matrix says otherwise. 1.0-1.4: Turing 7.5, Ampere 8.6, Ada 8.9, Blackwell 12.0;
# 1.5 adds 12.1 (GB10). Not listed, so refused before TensorRT-RTX fails inside: 8.0 (A100),
# 8.7 (Jetson Orin), 9.0 (H100/H200), 10.x (B200), although the 1.7 bindings' ComputeCapability
# enum has an SM80 member. Every build and load check reads this table and nothing else.
RTX_SUPPORT_MATRIX: tuple[tuple[tuple[int, int], tuple[str, ...]], ...] = (
    ((1, 0), ("7.5", "8.6", "8.9", "12.0")),
    ((1, 5), ("7.5", "8.6", "8.9", "12.0", "12.1")),
)
# What an engine built without --compute-capability runs on: "portable across 8.6, 8.9 and 12.0"
# (support matrix note); Turing 7.5 only when asked for, as its own target.
RTX_DEFAULT_TARGETS = ("8.6", "8.9", "12.0")
# The first full TensorRT without weak typing (BuilderFlag.FP16/INT8 removed).
TRT_STRONGLY_TYPED_FROM = (11,)


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
        """TensorRT-RTX, and TensorRT 11+ (weak typing and its precision flags were removed)."""
        return self.rtx or parse_version(self.version)[:1] >= TRT_STRONGLY_TYPED_FROM

    @property
    def supported_compute_capabilities(self) -> tuple[str, ...] | None:
        """TensorRT-RTX: what its support matrix lists for this version; full TensorRT: None (it
        builds on, and for, the GPU it runs on, and knows its own)."""
        if not self.rtx:
            return None
        version = parse_version(self.version)[:2]
        listed = [ccs for first, ccs in RTX_SUPPORT_MATRIX if version >= first]
        return listed[-1] if listed else RTX_SUPPORT_MATRIX[0][1]

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


def check_supported(flavour: Flavour, cc: str, what: str, fix: str) -> None:
    """Refuse a compute capability the flavour's support matrix does not list, in one line, before
    TensorRT-RTX is asked to build for it or to run on it (it would fail inside, or worse)."""
    supported = flavour.supported_compute_capabilities
    if supported is not None and cc not in supported:
        raise MasktrtError(f"{flavour.module} {flavour.version} supports compute capability "
                           f"{', '.join(supported)} only (its support matrix), and {what} is {cc}", fix)


def flavour_of(trt: ModuleType) -> Flavour:
    return Flavour(module=trt.__name__.split(".")[0], version=str(trt.__version__))


def error_logger(trt: ModuleType):
    """A TensorRT logger that keeps errors, so a failed parse, build or load says why in one line."""

    class _Collect(trt.ILogger):
        def __init__(self) -> None:
            trt.ILogger.__init__(self)
            self.errors: list[str] = []

        def log(self, severity, msg) -> None:  # noqa: D401 - TensorRT callback
            if severity in (trt.ILogger.Severity.ERROR, trt.ILogger.Severity.INTERNAL_ERROR):
                self.errors.append(str(msg))

    return _Collect()
