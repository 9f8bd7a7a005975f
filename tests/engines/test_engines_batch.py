"""TensorRT-RTX engines of batched exports (batch=dynamic) build ahead of time without a GPU:
the per-frame graphs get optimisation profiles 1..BATCH_MAX with the opt points of the spec,
the template stays a batch-1 engine, and the I/O check reads the dynamic dimension as one target."""
from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("tensorrt_rtx")
torch = pytest.importorskip("torch")
onnx_export = pytest.importorskip("masktrt.export.onnx_export")

from masktrt.engines import BuildRequest, build_engines  # noqa: E402
from masktrt.engines.network import parse_onnx, shape_tensor_inputs  # noqa: E402
from masktrt.export.deploy import random_source  # noqa: E402
from masktrt.trackers.siammask.export.network import SiamMask  # noqa: E402
from masktrt.runtime.trt_module import import_trt  # noqa: E402
from masktrt.specs.base import BATCH_MAX, BATCH_MIN, BATCH_OPT  # noqa: E402

WIDTH = 0.125
TRT = import_trt("tensorrt-rtx")


@pytest.fixture(scope="module")
def batched_siammask(tmp_path_factory) -> Path:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("batched")
    options = onnx_export.ExportOptions(options={"correlation": "unrolled", "batch": "dynamic"})
    onnx_export.export_onnx(SiamMask(width=WIDTH), folder, random_source(0), options)
    return folder


def test_batched_graphs_parse_with_a_dynamic_target_dimension(batched_siammask) -> None:
    for graph in ("search", "refine"):
        network = parse_onnx(TRT, batched_siammask / f"{graph}.onnx").network
        assert all(network.get_input(i).shape[0] == -1 for i in range(network.num_inputs))
        assert shape_tensor_inputs(network) == []  # pos Nx2 stays data


def test_batched_export_builds_with_profiles(batched_siammask, tmp_path) -> None:
    records, _ = build_engines(BuildRequest(batched_siammask, xcorr="unrolled", out=tmp_path), trt=TRT)
    meta = {r.name: r.meta for r in records}
    assert meta["template"]["batch"] is None
    for graph in ("search", "refine"):
        assert meta[graph]["batch"] == {"min": BATCH_MIN, "max": BATCH_MAX, "opt": list(BATCH_OPT),
                                        "dim": 0}
        assert meta[graph]["inputs"][0]["shape"][0] == -1
