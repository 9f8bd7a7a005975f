"""ONNX Runtime backend: runs the exported subgraphs from deploy.json + the .onnx files only.

Features for Refine (p0, p1, p2, corr) stay as OrtValues on the session's device between
`search()` and `refine()` (IO binding), so on the CUDA provider only cls/loc, `pos` and the
127x127 logits cross to the host. The template's kernels are computed once per target and kept
by the tracker in its state.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from masktrt.errors import MasktrtError, require

from .base import SearchOutput

GRAPHS = ("template", "search", "refine")


def _cuda_usable(ort) -> bool:
    from masktrt.kernels import gpu_available

    return "CUDAExecutionProvider" in ort.get_available_providers() and gpu_available()


def choose_providers(ort, requested: str = "auto") -> list[str]:
    """`auto`: CUDA when onnxruntime-gpu and a GPU are both present, else CPU."""
    if requested == "auto":
        return ["CUDAExecutionProvider", "CPUExecutionProvider"] if _cuda_usable(ort) \
            else ["CPUExecutionProvider"]
    name = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}.get(requested, requested)
    if name not in ort.get_available_providers():
        raise MasktrtError(f"ONNX Runtime provider '{name}' is not available here",
                           "use --provider cpu, or install onnxruntime-gpu on a machine with a GPU")
    return [name, "CPUExecutionProvider"] if name != "CPUExecutionProvider" else [name]


class OnnxRuntimeBackend:
    """The Backend protocol over three ONNX Runtime sessions."""

    def __init__(self, onnx_dir: str | Path, provider: str = "auto", threads: int = 0) -> None:
        ort = require("onnxruntime", "onnxruntime")
        from masktrt.runtime.contract import load_contract

        self.dir = Path(onnx_dir)
        self.deploy = load_contract(self.dir)
        if self.deploy.correlation == "refit":
            raise MasktrtError(f"{self.dir} holds 'refit' graphs, whose kernels are baked-in "
                               "placeholders meant for TensorRT refitting",
                               "export for ONNX Runtime with: masktrt export --xcorr dynamic")
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            options.intra_op_num_threads = threads
        self.providers = choose_providers(ort, provider)
        self.device = "cuda" if self.providers[0] == "CUDAExecutionProvider" else "cpu"
        self.name = f"onnxruntime-{self.device}"
        self._ort = ort
        self.sessions = {}
        for graph in GRAPHS:
            path = self.dir / f"{graph}.onnx"
            if not path.is_file():
                raise MasktrtError(f"'{path}' is missing", "run 'masktrt export --out DIR' first")
            self.sessions[graph] = ort.InferenceSession(str(path), options, providers=self.providers)
        self._search_outputs = [o.name for o in self.sessions["search"].get_outputs()]
        self._template_outputs = [o.name for o in self.sessions["template"].get_outputs()]

    def _value(self, array: np.ndarray):
        return self._ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(array), self.device, 0)

    def _run(self, graph: str, inputs: dict[str, Any], host_outputs: set[str]) -> dict[str, Any]:
        session = self.sessions[graph]
        binding = session.io_binding()
        for name, value in inputs.items():
            if isinstance(value, np.ndarray):
                value = self._value(value)
            binding.bind_ortvalue_input(name, value)
        for out in session.get_outputs():
            binding.bind_output(out.name, "cpu" if out.name in host_outputs else self.device)
        session.run_with_iobinding(binding)
        names = [o.name for o in session.get_outputs()]
        return dict(zip(names, binding.get_outputs()))

    def template(self, z: np.ndarray) -> dict[str, Any]:
        return self._run("template", {"z": z}, host_outputs=set())

    def search(self, x: np.ndarray, kernels: dict[str, Any]) -> SearchOutput:
        outs = self._run("search", {"x": x, **kernels}, host_outputs={"cls", "loc"})
        return SearchOutput(cls=outs["cls"].numpy(), loc=outs["loc"].numpy(),
                            features={k: outs[k] for k in ("p0", "p1", "p2", "corr")})

    def refine(self, features: dict[str, Any], pos: tuple[int, int]) -> np.ndarray:
        pos_arr = np.asarray(pos, dtype=np.int64)
        out = self._run("refine", {**features, "pos": pos_arr}, host_outputs={"mask"})["mask"]
        return out.numpy().reshape(out.shape()[-2], out.shape()[-1]).astype(np.float32)


def create(onnx_dir: str | Path, provider: str = "auto", threads: int = 0) -> OnnxRuntimeBackend:
    return OnnxRuntimeBackend(onnx_dir, provider=provider, threads=threads)
