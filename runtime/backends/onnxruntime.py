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

from .base import RunnerBase, missing_feeds, opens_lazily


PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}  # --provider names
CUDA = PROVIDERS["cuda"]
INSTALL_GPU = ("pip uninstall -y onnxruntime && pip install onnxruntime-gpu (the GPU build of the same "
               "module; on Jetson, the JetPack build), or use --provider cpu")


def _gpu_present() -> bool:
    from masktrt.kernels import gpu_available

    return gpu_available()


def choose_providers(ort, requested: str = "auto") -> list[str]:
    """`auto`: CUDA when onnxruntime-gpu and a GPU are both present, else CPU. `cuda` insists on
    both, in one line naming the fix: ONNX Runtime itself would fall back to the CPU with only a
    warning, and the CPU's timings would be reported as CUDA's."""
    available = ort.get_available_providers()
    if requested == "auto":
        return [CUDA, PROVIDERS["cpu"]] if CUDA in available and _gpu_present() else [PROVIDERS["cpu"]]
    name = PROVIDERS.get(requested, requested)
    if name == CUDA and CUDA not in available:
        raise MasktrtError(f"--provider cuda needs onnxruntime-gpu, but this onnxruntime "
                           f"{getattr(ort, '__version__', '')} has only {', '.join(available)}", INSTALL_GPU)
    if name not in available:
        raise MasktrtError(f"ONNX Runtime provider '{name}' is not available here",
                           f"choose one of: auto, {', '.join(PROVIDERS)}")
    if name == CUDA and not _gpu_present():
        raise MasktrtError("--provider cuda: onnxruntime-gpu is installed but no NVIDIA GPU was found",
                           "run on a machine with a GPU and driver, or use --provider cpu")
    return [name, PROVIDERS["cpu"]] if name != PROVIDERS["cpu"] else [name]


def open_session(ort: Any, spec: Any, options: Any, providers: list[str]) -> Any:
    """An InferenceSession of one contract graph (hash already checked by load_contract); a
    file ONNX Runtime cannot load, or one whose inputs/outputs are not the contract's (a graph
    from another export), is one line."""
    try:
        session = ort.InferenceSession(str(spec.path), options, providers=providers)
    except Exception as exc:  # ONNX Runtime raises its own pybind classes (InvalidProtobuf, ...)
        raise MasktrtError(f"ONNX Runtime cannot load graph '{spec.name}' from '{spec.path}' "
                           f"({first_line(exc)})", "re-export the folder: masktrt export --out DIR") from exc
    inputs = tuple(i.name for i in session.get_inputs())
    outputs = tuple(o.name for o in session.get_outputs())
    if set(inputs) != set(spec.input_names) or set(outputs) != set(spec.output_names):
        raise MasktrtError(f"'{spec.path}' is not the contract's graph '{spec.name}': it takes "
                           f"{list(inputs)} -> {list(outputs)}, deploy.json lists "
                           f"{list(spec.input_names)} -> {list(spec.output_names)}",
                           "re-export the folder: masktrt export --out DIR")
    problem = (table_mismatch(spec.inputs, session.get_inputs())
               or table_mismatch(spec.outputs, session.get_outputs()))
    if problem:
        raise MasktrtError(f"'{spec.path}' does not match deploy.json's graph '{spec.name}': {problem}",
                           "re-export the folder: masktrt export --out DIR")
    return session


ORT_DTYPES = {"tensor(float)": "float32", "tensor(float16)": "float16", "tensor(int64)": "int64",
              "tensor(int32)": "int32"}


def table_mismatch(declared: Any, found: Any) -> str | None:
    """Where the graph file's own I/O table disagrees with the contract's: a dtype, or a static
    dimension (a symbolic one, e.g. a dynamic batch, accepts the contract's value)."""
    by_name = {arg.name: arg for arg in found}
    for tensor in declared:
        arg = by_name[tensor.name]
        dtype = ORT_DTYPES.get(arg.type, arg.type)
        if dtype != tensor.dtype:
            return f"'{tensor.name}' is {dtype}, deploy.json says {tensor.dtype}"
        dims = list(arg.shape)
        if len(dims) != len(tensor.shape) or any(
                isinstance(d, int) and d != want for d, want in zip(dims, tensor.shape)):
            return f"'{tensor.name}' has shape {dims}, deploy.json says {list(tensor.shape)}"
    return None


def first_line(exc: BaseException) -> str:
    """The first line of an exception's text, shortened (ONNX Runtime's run to paragraphs)."""
    lines = str(exc).strip().splitlines()
    return (lines[0][:200] if lines else type(exc).__name__)


class OnnxRuntimeRunner(RunnerBase):
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
        self.device = "cuda" if self.providers[0] == CUDA else "cpu"
        self.name = f"onnxruntime-{self.device}"
        self._ort = ort
        self._options = _session_options(ort, threads)
        self.sessions = {g: self._open(g) for g in self.contract.graph_names
                         if not opens_lazily(self.tracker, g)}

    def _open(self, graph: str) -> Any:
        return open_session(self._ort, self.contract.graph(graph), self._options, self.providers)

    def session(self, graph: str) -> Any:
        """The graph's session, opened now if it is one of a group of alternatives."""
        if self.closed:
            raise MasktrtError("the ONNX Runtime runner was closed", "create a new one")
        name = self.contract.graph(graph).name
        if name not in self.sessions:
            self.sessions[name] = self._open(name)
        return self.sessions[name]

    def _value(self, array: Any) -> Any:
        if isinstance(array, self._ort.OrtValue):
            return array
        return self._ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(array), self.device, 0)

    def run(self, graph: str, feeds: Mapping[str, Any],
            keep_on_device: Collection[str] = ()) -> dict[str, Any]:
        session = self.session(graph)
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


def create(onnx_dir: str | Path, provider: str = "auto", threads: int = 0) -> OnnxRuntimeRunner:
    return OnnxRuntimeRunner(onnx_dir, provider=provider, threads=threads)
