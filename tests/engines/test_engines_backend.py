"""The TensorRT backend: refusal without a GPU here; on a GPU, agreement with ONNX Runtime."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorrt_rtx")

from masktrt.errors import MasktrtError  # noqa: E402
from masktrt.runtime.backends import open_runner  # noqa: E402
from masktrt.engines import BuildRequest, build_engines  # noqa: E402
from masktrt.runtime.engine_loader import probe_gpu  # noqa: E402
from masktrt.trackers.siammask.spec import FEATURES, KERNELS, MASK, POS  # noqa: E402


@pytest.fixture(scope="module")
def real_export(tmp_path_factory) -> Path:
    torch = pytest.importorskip("torch")
    onnx_export = pytest.importorskip("masktrt.export.onnx_export")
    from masktrt.export.deploy import random_source
    from masktrt.trackers.siammask.export.network import SiamMask

    torch.set_num_threads(1)
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("backend") / "dynamic-fp32"
    onnx_export.export_onnx(SiamMask(width=0.125), folder, random_source(0), onnx_export.ExportOptions())
    return folder


def test_backend_without_gpu_is_a_clear_error(tmp_path) -> None:
    if probe_gpu() is not None:
        pytest.skip("a GPU is present")
    from tests.helpers.engine_graphs import write_export

    folder = write_export(tmp_path / "toy")
    out = tmp_path / "engines"
    build_engines(BuildRequest(folder, out=out), graphs=("template",))
    with pytest.raises(MasktrtError) as exc:
        open_runner("tensorrt", engine_dir=out)
    assert "no NVIDIA GPU" in str(exc.value) and "\n" not in str(exc.value)


@pytest.mark.gpu
def test_tensorrt_backend_matches_onnxruntime(real_export, tmp_path) -> None:
    build_engines(BuildRequest(real_export, out=tmp_path / "engines"))
    rng = np.random.default_rng(0)
    z = rng.uniform(0, 255, (1, 3, 127, 127)).astype(np.float32)
    x = rng.uniform(0, 255, (1, 3, 255, 255)).astype(np.float32)
    def search(runner, keep=FEATURES):
        kernels = runner.run("template", {"z": z}, keep_on_device=KERNELS)
        return runner.run("search", {"x": x, **kernels}, keep_on_device=keep)

    def refine(runner, out, pos):
        feeds = {**{n: out[n] for n in FEATURES}, POS: np.asarray(pos, np.int64)}
        return runner.run("refine", feeds)[MASK]

    with open_runner("onnxruntime", onnx_dir=real_export, provider="cpu") as ort, \
            open_runner("tensorrt", engine_dir=tmp_path / "engines") as trt:
        want, got = search(ort), search(trt)
        for key in ("cls", "loc"):
            scale = float(np.abs(want[key]).max()) or 1.0
            assert np.abs(got[key] - want[key]).max() / scale < 1e-3
        for pos in ((0, 0), (12, 7), (24, 24)):  # the mask must follow pos, not a baked value
            a, b = refine(ort, want, pos), refine(trt, got, pos)
            assert np.abs(a - b).max() / (np.abs(a).max() or 1.0) < 1e-3
