"""The ONNX Runtime runner: provider choice, graphs by name, and one-line errors for folders
it cannot run."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from masktrt.errors import MasktrtError

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("torch")
from masktrt.runtime.backends import open_runner  # noqa: E402
from masktrt.runtime.backends.onnxruntime import choose_providers  # noqa: E402
from tests.helpers.export_helpers import export_small, small_model  # noqa: E402


@pytest.fixture(scope="module")
def model():
    return small_model()


def test_auto_provider_is_cpu_without_a_gpu():
    assert choose_providers(ort, "auto")[-1] == "CPUExecutionProvider"
    with pytest.raises(MasktrtError, match="not available"):
        choose_providers(ort, "TensorrtExecutionProvider-that-does-not-exist")


FEATURES = ("p0", "p1", "p2", "corr")


def test_runs_template_search_refine_with_features_kept_between(model, tmp_path):
    export_small(model, tmp_path)
    backend = open_runner("onnxruntime", onnx_dir=tmp_path)
    rng = np.random.default_rng(0)
    kernels = backend.run("template", {"z": rng.uniform(0, 255, (1, 3, 127, 127)).astype(np.float32)},
                          keep_on_device=("k_cls", "k_loc", "k_mask"))
    assert all(isinstance(k, ort.OrtValue) for k in kernels.values())
    out = backend.run("search", {"x": rng.uniform(0, 255, (1, 3, 255, 255)).astype(np.float32),
                                 **kernels}, keep_on_device=FEATURES)
    assert out["cls"].shape == (1, 10, 25, 25) and out["loc"].shape == (1, 20, 25, 25)
    assert all(isinstance(out[n], ort.OrtValue) for n in FEATURES)

    def refine(pos):
        return backend.run("refine", {**{n: out[n] for n in FEATURES},
                                      "pos": np.asarray(pos, np.int64)})["mask"]

    a, b = refine((0, 0)), refine((24, 24))
    assert a.shape == (1, 1, 127, 127) and not np.allclose(a, b)  # pos really moves the window
    with pytest.raises(MasktrtError, match="without inputs"):
        backend.run("refine", {"pos": np.asarray((0, 0), np.int64)})
    backend.close()
    assert backend.closed and backend.sessions == {}


def test_a_graph_changed_after_export_is_refused(model, tmp_path):
    export_small(model, tmp_path)
    with open(tmp_path / "search.onnx", "ab") as graph:
        graph.write(b"\0")
    with pytest.raises(MasktrtError, match="sha256 differs") as info:
        open_runner("onnxruntime", onnx_dir=tmp_path)
    assert "\n" not in str(info.value)


def test_missing_graph_and_refit_graphs_are_one_line_errors(model, tmp_path):
    export_small(model, tmp_path / "ok")
    shutil.copytree(tmp_path / "ok", tmp_path / "broken")
    (tmp_path / "broken" / "refine.onnx").unlink()
    with pytest.raises(MasktrtError) as info:
        open_runner("onnxruntime", onnx_dir=tmp_path / "broken")
    assert "refine.onnx" in str(info.value) and "\n" not in str(info.value)
    export_small(model, tmp_path / "refit", correlation="refit")
    with pytest.raises(MasktrtError, match="without refit"):
        open_runner("onnxruntime", onnx_dir=tmp_path / "refit")
