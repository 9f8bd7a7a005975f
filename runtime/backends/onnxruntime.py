"""ONNX Runtime runner: runs any graph of a contract from deploy.json + the .onnx files only.

Outputs kept on the device stay OrtValues on the session's device (IO binding), so on the CUDA
provider only what the tracker reads on the host crosses to it. Graphs with refittable weights
are refused: their weights are placeholders that only TensorRT refits per target.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Collection, Mapping

import numpy as np

from masktrt.errors import MasktrtError, require
from masktrt.provenance import sha256_file

from .base import RunnerBase, missing_feeds


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


def _checked_path(contract: Any, graph: str) -> Path:
    """The graph file, refusing one changed since deploy.json recorded its hash."""
    spec = contract.graph(graph)
    if spec.sha256 and sha256_file(spec.path) != spec.sha256:
        raise MasktrtError(f"'{spec.path}' changed since deploy.json was written (sha256 differs)",
                           f"re-export the folder: masktrt export --out {contract.root}")
    return spec.path


class OnnxRuntimeBackend(RunnerBase):
    """GraphRunner over one ONNX Runtime session per contract graph."""

    def __init__(self, onnx_dir: str | Path, provider: str = "auto", threads: int = 0) -> None:
        ort = require("onnxruntime", "onnxruntime")
        from masktrt.runtime.contract import load_contract

        self.dir = Path(onnx_dir)
        self.contract = load_contract(self.dir)
        if self.contract.refits:
            raise MasktrtError(f"{self.dir} holds graphs with refittable placeholder weights, "
                               "meant for TensorRT refitting",
                               "export for ONNX Runtime without refit (e.g. --xcorr dynamic)")
        self.tracker, self.preset = self.contract.tracker, self.contract.preset
        self.providers = choose_providers(ort, provider)
        self.device = "cuda" if self.providers[0] == "CUDAExecutionProvider" else "cpu"
        self.name = f"onnxruntime-{self.device}"
        self._ort = ort
        options = _session_options(ort, threads)
        self.sessions = {g: ort.InferenceSession(str(_checked_path(self.contract, g)), options,
                                                 providers=self.providers)
                         for g in self.contract.graph_names}

    def _value(self, array: Any) -> Any:
        if isinstance(array, self._ort.OrtValue):
            return array
        return self._ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(array), self.device, 0)

    def run(self, graph: str, feeds: Mapping[str, Any],
            keep_on_device: Collection[str] = ()) -> dict[str, Any]:
        session = self.sessions[self.contract.graph(graph).name]
        binding = session.io_binding()
        names = [i.name for i in session.get_inputs()]
        missing_feeds(graph, names, feeds)
        for name in names:
            binding.bind_ortvalue_input(name, self._value(feeds[name]))
        outputs = [o.name for o in session.get_outputs()]
        for name in outputs:
            binding.bind_output(name, self.device if name in keep_on_device else "cpu")
        session.run_with_iobinding(binding)
        values = binding.get_outputs()
        return {n: v if n in keep_on_device else v.numpy() for n, v in zip(outputs, values)}

    def close(self) -> None:
        self.sessions = {}
        super().close()


def _session_options(ort: Any, threads: int) -> Any:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        options.intra_op_num_threads = threads
    return options


def create(onnx_dir: str | Path, provider: str = "auto", threads: int = 0) -> OnnxRuntimeBackend:
    return OnnxRuntimeBackend(onnx_dir, provider=provider, threads=threads)
