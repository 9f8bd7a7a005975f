"""The ONNX Runtime backend: provider choice, and one-line errors for folders it cannot run."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from masktrt.errors import MasktrtError

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("torch")
from masktrt.runtime.backends import get_backend  # noqa: E402
from masktrt.runtime.backends.onnxruntime import choose_providers  # noqa: E402
from tests.export.export_helpers import export_small, small_model  # noqa: E402


@pytest.fixture(scope="module")
def model():
    return small_model()


def test_auto_provider_is_cpu_without_a_gpu():
    assert choose_providers(ort, "auto")[-1] == "CPUExecutionProvider"
    with pytest.raises(MasktrtError, match="not available"):
        choose_providers(ort, "TensorrtExecutionProvider-that-does-not-exist")


def test_runs_template_search_refine_with_features_kept_between(model, tmp_path):
    export_small(model, tmp_path)
    backend = get_backend("onnxruntime", onnx_dir=tmp_path)
    rng = np.random.default_rng(0)
    kernels = backend.template(rng.uniform(0, 255, (1, 3, 127, 127)).astype(np.float32))
    out = backend.search(rng.uniform(0, 255, (1, 3, 255, 255)).astype(np.float32), kernels)
    assert out.cls.shape == (1, 10, 25, 25) and out.loc.shape == (1, 20, 25, 25)
    a, b = backend.refine(out.features, (0, 0)), backend.refine(out.features, (24, 24))
    assert a.shape == (127, 127) and not np.allclose(a, b)  # pos really moves the window


def test_missing_graph_and_refit_graphs_are_one_line_errors(model, tmp_path):
    export_small(model, tmp_path / "ok")
    shutil.copytree(tmp_path / "ok", tmp_path / "broken")
    (tmp_path / "broken" / "refine.onnx").unlink()
    with pytest.raises(MasktrtError) as info:
        get_backend("onnxruntime", onnx_dir=tmp_path / "broken")
    assert "refine.onnx" in str(info.value) and "\n" not in str(info.value)
    export_small(model, tmp_path / "refit", correlation="refit")
    with pytest.raises(MasktrtError, match="--xcorr dynamic"):
        get_backend("onnxruntime", onnx_dir=tmp_path / "refit")
