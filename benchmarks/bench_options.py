"""What `masktrt bench` is asked to measure: its options, validated before any work starts.

Its own module so that the runner (bench.py) and the backend variants (bench_variants.py) both
read it without importing each other.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from masktrt.errors import MasktrtError
from masktrt.registry import DEFAULT_TRACKER

BACKEND_NAMES = ("torch", "onnxruntime", "tensorrt")


@dataclass(frozen=True)
class BenchOptions:
    sequence: Path
    backends: tuple[str, ...] = ("torch", "onnxruntime")
    onnx_dir: Path | None = None
    engines_dir: Path | None = None
    extra_onnx: tuple[Path, ...] = ()  # more graph folders of the same weights, e.g. INT8
    precision: str = "fp32"
    correlation: str = "dynamic"
    export_options: tuple[tuple[str, str], ...] = ()  # --option KEY=VALUE (e.g. rts sizes)
    frames: int = 20
    warmup: int = 2
    targets: tuple[int, ...] = (1, 2, 4, 8)
    scaling_frames: int | None = None  # None: the same frames as the main run
    checkpoint: Path | None = None
    seed: int = 0
    width: float = 1.0
    variant: str | None = None  # model variant of trackers released in several (None: default)
    preset: str | None = None  # None: the tracker's default preset
    provider: str = "auto"
    tracker: str = DEFAULT_TRACKER
    progress: bool = True

    def tracker_options(self) -> dict[str, str]:
        """The export options the tracker declares: --xcorr where it has `correlation` (Siamese
        trackers), then the --option pairs, which win."""
        from masktrt import registry

        declared = registry.spec(self.tracker).options
        xcorr = {"correlation": self.correlation} if "correlation" in declared else {}
        return {**xcorr, **dict(self.export_options)}

    def validate(self) -> None:
        unknown = [b for b in self.backends if b not in BACKEND_NAMES]
        if unknown or not self.backends:
            raise MasktrtError(f"unknown backend(s) {unknown or '(none given)'}",
                               f"choose from: {', '.join(BACKEND_NAMES)}")
        if self.frames < 1 or self.warmup < 0:
            raise MasktrtError(f"--timed-frames {self.frames} / --warmup {self.warmup} out of range",
                               "give --timed-frames >= 1 and --warmup >= 0")
        if not self.targets or min(self.targets) < 1:
            raise MasktrtError(f"--targets {self.targets} must be positive counts",
                               "give e.g. --targets 1,2,4,8")
        if self.precision not in ("fp32", "fp16"):
            raise MasktrtError(f"unknown precision '{self.precision}'", "choose fp32 or fp16")
