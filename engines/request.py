"""What `masktrt build` decides, and what one build hands back."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class BuildRequest:
    """Everything `masktrt build` decides; also what the metadata's rebuild command repeats."""

    onnx_dir: Path
    backend: str = "tensorrt-rtx"
    precision: str = "fp32"
    xcorr: str = "auto"
    out: Path | None = None
    workspace_mb: int | None = None
    timing_cache: Path | None = None
    compute_capabilities: tuple[str, ...] = ()  # TensorRT-RTX targets, e.g. ("8.6",)
    force: bool = False

    def out_dir(self) -> Path:
        return Path(self.out) if self.out else Path(self.onnx_dir) / f"engines-{self.backend}-{self.precision}"

    def command(self, backend: str | None = None) -> str:
        parts = ["masktrt build", f"--onnx {Path(self.onnx_dir).resolve()}",
                 f"--backend {backend or self.backend}", f"--precision {self.precision}",
                 f"--xcorr {self.xcorr}", f"--out {self.out_dir().resolve()}"]
        parts += [f"--compute-capability {cc}" for cc in self.compute_capabilities]
        return " ".join(parts)


@dataclass
class EngineRecord:
    """One built (or reused) engine: where it is and its metadata."""

    name: str
    engine_path: Path
    meta: dict[str, Any]
    cached: bool = False
    notes: list[str] = field(default_factory=list)
