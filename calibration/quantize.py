"""Activation ranges from the calibration set, and QDQ graphs in two flavours from those ranges.

Library: ONNX Runtime's quantization tools (`onnxruntime.quantization`). They are maintained with
ONNX Runtime, which masktrt already depends on for its CPU backend and parity, and they write
standard QuantizeLinear/DequantizeLinear (QDQ) graphs that both ONNX Runtime and TensorRT's ONNX
parser read, so the accuracy gate runs on the very graph TensorRT builds from. NVIDIA ModelOpt
would pull in its PyTorch/CUDA stack for the same QDQ output.

One calibration, two flavours: the ranges are measured once per graph (`compute_ranges`, ONNX
Runtime's calibrator on the FP32 graph) and saved in ONNX Runtime's own calibration-cache format;
each flavour is then a `quantize_static` call that reads that cache (`calibration_cache_path`)
instead of running the data again. The ranges are raw (asymmetric) statistics; each flavour's
quantizer derives its scales from them:

- `trt`: S8S8, symmetric activations and weights, biases left in float. TensorRT's parser refuses
  ONNX Runtime's default INT32-quantised biases (spec/deployment.md), and TensorRT expects
  symmetric INT8.
- `ort`: U8S8 (uint8 activations with zero points, int8 weights) for ONNX Runtime on the CPU:
  on this AVX2 machine S8S8 ran no faster than FP32 while U8S8 was about 1.9x faster.
  `reduce_range` (7-bit weights) follows ONNX Runtime's guidance for CPUs without VNNI, whose
  u8 x s8 instruction can saturate its 16-bit intermediate sums.

Both: per-channel weights, per-tensor activations.
"""
from __future__ import annotations

import contextlib
import io
import logging
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator


from .dataset import Feeds

METHODS = ("minmax", "entropy", "percentile")
PERCENTILE = 99.999  # of |activation|: drops the rare outliers that would stretch a range
CHUNK = 2  # samples per calibrator update: histogram methods keep every activation of a chunk


@dataclass(frozen=True)
class Flavour:
    """The quantize_static settings of one target runtime."""

    name: str
    activation: str  # "QInt8" | "QUInt8"
    weight: str
    reduce_range: bool
    extra: tuple[tuple[str, Any], ...]
    why: str

    def describe(self) -> dict[str, Any]:
        return {"flavour": self.name, "activation_type": self.activation, "weight_type": self.weight,
                "per_channel": True, "reduce_range": self.reduce_range, "extra": dict(self.extra),
                "why": self.why}


FLAVOURS: dict[str, Flavour] = {
    "trt": Flavour("trt", "QInt8", "QInt8", False,
                   (("QuantizeBias", False), ("ActivationSymmetric", True), ("WeightSymmetric", True)),
                   "TensorRT: symmetric S8S8, float biases (its parser refuses INT32 bias DQ)"),
    "ort": Flavour("ort", "QUInt8", "QInt8", True, (("WeightSymmetric", True),),
                   "ONNX Runtime CPU: U8S8 runs ~1.9x FP32 on AVX2, S8S8 does not"),
}


class FeedReader:
    """ONNX Runtime's CalibrationDataReader protocol over a list of feeds."""

    def __init__(self, feeds: list[Feeds]) -> None:
        self._iter: Iterator[Feeds] = iter(feeds)

    def get_next(self) -> Feeds | None:
        return next(self._iter, None)


@contextmanager
def quiet_quantizer() -> Iterator[None]:
    """ONNX Runtime's quantizer logs a pre-processing hint per call at WARNING; our graphs are
    already shape-inferred and slimmed by the exporter, so the hint is noise here; the histogram
    calibrators print progress lines to stdout, which would break the command's tables."""
    logger = logging.getLogger()
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # histogram calibrators print progress
            yield
    finally:
        logger.setLevel(level)


def ort_method(method: str):
    from onnxruntime.quantization import CalibrationMethod

    return {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
            "percentile": CalibrationMethod.Percentile}[method]


def _calibrator_options(method: str) -> dict[str, Any]:
    if method == "percentile":
        return {"percentile": PERCENTILE, "symmetric": True}
    return {}


def compute_ranges(graph_path: Path, feeds: list[Feeds], method: str, cache_path: Path,
                   workdir: Path) -> Path:
    """Run the FP32 graph over `feeds`, keep every activation's range in `cache_path` (JSON)."""
    from onnxruntime.quantization.calibrate import create_calibrator, save_tensors_data

    workdir.mkdir(parents=True, exist_ok=True)
    with quiet_quantizer():
        calibrator = create_calibrator(graph_path, None,
                                       augmented_model_path=str(workdir / f"augmented-{graph_path.name}"),
                                       calibrate_method=ort_method(method),
                                       extra_options=_calibrator_options(method))
        calibrator.execution_providers = ["CPUExecutionProvider"]
        for start in range(0, len(feeds), CHUNK):  # each call folds its chunk into the ranges
            calibrator.collect_data(FeedReader(feeds[start:start + CHUNK]))
        ranges = calibrator.compute_data()
    (workdir / f"augmented-{graph_path.name}").unlink(missing_ok=True)
    save_tensors_data(ranges, cache_path)
    return cache_path


def quantize_graph(src: Path, dst: Path, flavour: Flavour, method: str, ranges: Path,
                   exclude: list[str] | None = None, include: list[str] | None = None) -> Path:
    """Write the QDQ version of `src` using the saved ranges; `exclude` nodes stay float."""
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    dst.parent.mkdir(parents=True, exist_ok=True)
    with quiet_quantizer():
        quantize_static(str(src), str(dst), calibration_data_reader=None,
                        quant_format=QuantFormat.QDQ, per_channel=True,
                        reduce_range=flavour.reduce_range,
                        activation_type=getattr(QuantType, flavour.activation),
                        weight_type=getattr(QuantType, flavour.weight),
                        nodes_to_exclude=list(exclude or []) or None,
                        nodes_to_quantize=list(include) if include else None,
                        calibrate_method=ort_method(method), extra_options=dict(flavour.extra),
                        calibration_cache_path=str(ranges))
    return dst


def count_qdq(path: Path) -> int:
    """QuantizeLinear nodes in a graph: proof that something was quantised (or not)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return sum(node.op_type == "QuantizeLinear" for node in model.graph.node)
