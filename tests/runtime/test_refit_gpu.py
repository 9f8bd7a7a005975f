"""A refit TensorRT engine on a GPU (skipped without one: never faked).

The refit search engine must track like ONNX Runtime running the dynamic graphs of the same
weights, and must follow whichever target's kernels it is given: searching with target A's
kernels after target B's template() refits A back in (one engine holds one target at a time).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tests.helpers.fake_numpy_runners import synthetic_sequence
from test_gpu_ops import assert_steps_alike

pytestmark = pytest.mark.gpu
pytest.importorskip("tensorrt_rtx")
torch = pytest.importorskip("torch")
onnx_export = pytest.importorskip("masktrt.export.onnx_export")

from masktrt.export.deploy import random_source  # noqa: E402
from masktrt.trackers.siammask.export.network import SiamMask  # noqa: E402
from masktrt.engines import BuildRequest, build_engines  # noqa: E402
from masktrt.runtime.backends import open_runner  # noqa: E402
from masktrt.trackers.siammask.spec import FEATURES, KERNELS, preset  # noqa: E402
from masktrt.runtime.backends.tensorrt_refit import value_key  # noqa: E402
from masktrt.runtime.gpu_ops import HostOps  # noqa: E402
from masktrt.trackers.siammask.tracker import SiamMaskTracker  # noqa: E402

DAVIS = preset("davis")
NET = 1e-3  # TensorRT FP32 vs ONNX Runtime CPU, relative to each map's magnitude
NET_TIE = 0.02  # mask pixels may differ where the probability is this close to seg_thr


def export(folder: Path, correlation: str) -> Path:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    onnx_export.export_onnx(SiamMask(width=0.125), folder, random_source(0),
                            onnx_export.ExportOptions(options={"correlation": correlation}))
    return folder


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("refit-gpu")
    dynamic, refit = export(root / "dynamic", "dynamic"), export(root / "refit", "refit")
    engines = root / "engines"
    build_engines(BuildRequest(refit, xcorr="refit", out=engines))
    return dynamic, engines


def rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / (np.abs(b).max() or 1.0))


def test_refit_engine_follows_the_target_it_is_given(setup) -> None:
    dynamic, engines = setup
    rng = np.random.default_rng(3)
    za, zb = (rng.uniform(0, 255, (1, 3, 127, 127)).astype(np.float32) for _ in range(2))
    x = rng.uniform(0, 255, (1, 3, 255, 255)).astype(np.float32)
    def template(runner, z):
        return runner.run("template", {"z": z}, keep_on_device=KERNELS)

    def search(runner, kernels):
        return runner.run("search", {"x": x, **kernels}, keep_on_device=FEATURES)

    with open_runner("onnxruntime", onnx_dir=dynamic, provider="cpu") as ort:
        want_a, want_b = search(ort, template(ort, za)), search(ort, template(ort, zb))
    with open_runner("tensorrt", engine_dir=engines) as trt:
        refitter = trt.graphs["search"].refit
        ka = template(trt, za)
        kb = template(trt, zb)
        got_b = search(trt, kb)  # refits B in
        assert refitter.holds == tuple(value_key(kb[n]) for n in refitter.names) != \
            tuple(value_key(ka[n]) for n in refitter.names)
        got_a = search(trt, ka)  # A's kernels: refitted back before searching
        assert refitter.holds == tuple(value_key(ka[n]) for n in refitter.names)
        for key in ("cls", "loc"):
            assert rel(got_a[key], want_a[key]) < NET, key
            assert rel(got_b[key], want_b[key]) < NET, key
        assert rel(want_a["cls"], want_b["cls"]) > 10 * NET  # the two targets are really different


def test_refit_engine_tracks_like_onnxruntime_dynamic(setup) -> None:
    """Frame by frame from the reference's state, so one network difference cannot compound."""
    dynamic, engines = setup
    frames, boxes = synthetic_sequence(6)
    ref = SiamMaskTracker(open_runner("onnxruntime", onnx_dir=dynamic, provider="cpu"), DAVIS, ops=HostOps())
    with open_runner("tensorrt", engine_dir=engines) as trt:
        test = SiamMaskTracker(trt, DAVIS, ops=HostOps())
        assert_steps_alike(ref, test, frames, boxes[0], NET_TIE, polygons=False)
