"""A fake `tensorrt` 11.x module: the builder API masktrt.engines calls, minus what TensorRT 11 removed.

Full TensorRT cannot be installed here (the registry's 11.x packages are stubs), so this models
the documented Python API of TensorRT 11 (docs: "Removed Python APIs and Replacements", 10.x ->
11.x migration): `BuilderFlag` has no FP16, INT8, FP8, BF16, INT4, FP4, OBEY/PREFER_PRECISION_
CONSTRAINTS or DIRECT_IO members (getattr raises AttributeError, as the real bindings do), every
network is strongly typed (the STRONGLY_TYPED creation flag is accepted and ignored), and a build
takes its types from the graph. The ONNX "parser" reads the real file with `onnx`, so the network's
I/O, its Q/DQ layers and its half tensors are the graph's own, not made up by the test.
"""
from __future__ import annotations

import enum
from pathlib import Path
from types import SimpleNamespace

import onnx

__name__ = "tensorrt"  # noqa: A001 - what flavour_of() reads, as on the real module
__version__ = "11.4.0.11"

_ONNX_TO_TRT = {onnx.TensorProto.FLOAT: "FLOAT", onnx.TensorProto.FLOAT16: "HALF",
                onnx.TensorProto.INT8: "INT8", onnx.TensorProto.INT32: "INT32",
                onnx.TensorProto.INT64: "INT64", onnx.TensorProto.BOOL: "BOOL"}


class BuilderFlag(enum.IntEnum):
    """TensorRT 11's flags: the precision-enabling ones are gone."""

    DEBUG = 0
    GPU_FALLBACK = 1
    REFIT = 2
    DISABLE_TIMING_CACHE = 3
    TF32 = 4
    SPARSE_WEIGHTS = 5
    REFIT_INDIVIDUAL = 6
    STRIP_PLAN = 7


class NetworkDefinitionCreationFlag(enum.IntEnum):
    STRONGLY_TYPED = 1  # accepted, ignored: always strongly typed


class MemoryPoolType(enum.IntEnum):
    WORKSPACE = 0


class ILogger:
    class Severity(enum.IntEnum):
        INTERNAL_ERROR = 0
        ERROR = 1
        WARNING = 2

    def __init__(self) -> None:
        pass


class _Tensor(SimpleNamespace):
    pass


def _dtype(elem_type: int) -> str:
    return f"DataType.{_ONNX_TO_TRT.get(elem_type, 'FLOAT')}"


class _Layer:
    def __init__(self, node: onnx.NodeProto, types: dict[str, int]) -> None:
        kinds = {"QuantizeLinear": "QUANTIZE", "DequantizeLinear": "DEQUANTIZE"}
        self.type = f"LayerType.{kinds.get(node.op_type, node.op_type.upper())}"
        self._outputs = [_Tensor(name=o, dtype=_dtype(types.get(o, onnx.TensorProto.FLOAT)))
                         for o in node.output]

    @property
    def num_outputs(self) -> int:
        return len(self._outputs)

    def get_output(self, i: int) -> _Tensor:
        return self._outputs[i]


class _Network:
    def __init__(self, flags: int) -> None:
        self.flags, self.inputs, self.outputs, self.layers = flags, [], [], []

    def load(self, model: onnx.ModelProto) -> None:
        model = onnx.shape_inference.infer_shapes(model)
        graph = model.graph
        types = {v.name: v.type.tensor_type.elem_type
                 for v in list(graph.value_info) + list(graph.input) + list(graph.output)}
        self.inputs = [self._io(v) for v in graph.input]
        self.outputs = [self._io(v) for v in graph.output]
        self.layers = [_Layer(node, types) for node in graph.node]

    @staticmethod
    def _io(value: onnx.ValueInfoProto) -> _Tensor:
        tensor = value.type.tensor_type
        return _Tensor(name=value.name, shape=[d.dim_value for d in tensor.shape.dim],
                       dtype=_dtype(tensor.elem_type), is_shape_tensor=False)

    num_inputs = property(lambda self: len(self.inputs))
    num_outputs = property(lambda self: len(self.outputs))
    num_layers = property(lambda self: len(self.layers))

    def get_input(self, i: int) -> _Tensor:
        return self.inputs[i]

    def get_output(self, i: int) -> _Tensor:
        return self.outputs[i]

    def get_layer(self, i: int) -> _Layer:
        return self.layers[i]


class OnnxParser:
    def __init__(self, network: _Network, logger: ILogger) -> None:
        self.network = network
        self.num_errors = 0

    def parse_from_file(self, path: str) -> bool:
        self.network.load(onnx.load(Path(path)))
        return True


class _TimingCache:
    def __init__(self, blob: bytes) -> None:
        self.blob = bytes(blob) or b"fake-timing-cache"

    def serialize(self) -> bytes:
        return self.blob


class _BuilderConfig:
    def __init__(self) -> None:
        self.flags: set[BuilderFlag] = set()
        self.cache: _TimingCache | None = None
        self.pools: dict = {}

    def set_flag(self, flag: BuilderFlag) -> None:
        self.flags.add(BuilderFlag(flag))

    def clear_flag(self, flag: BuilderFlag) -> None:
        self.flags.discard(BuilderFlag(flag))

    def set_memory_pool_limit(self, pool: MemoryPoolType, size: int) -> None:
        self.pools[pool] = size

    def create_timing_cache(self, blob: bytes) -> _TimingCache:
        return _TimingCache(blob)

    def set_timing_cache(self, cache: _TimingCache, ignore_mismatch: bool) -> bool:
        self.cache = cache
        return True

    def get_timing_cache(self) -> _TimingCache:
        return self.cache


class Builder:
    """Records every config it built with, so a test can see the flags a build set."""

    configs: list[_BuilderConfig] = []

    def __init__(self, logger: ILogger) -> None:
        self.logger = logger

    def create_network(self, flags: int = 0) -> _Network:
        return _Network(flags)

    def create_builder_config(self) -> _BuilderConfig:
        Builder.configs.append(_BuilderConfig())
        return Builder.configs[-1]

    def build_serialized_network(self, network: _Network, config: _BuilderConfig) -> bytes:
        return b"fake TensorRT 11 engine: " + ",".join(t.name for t in network.outputs).encode()
