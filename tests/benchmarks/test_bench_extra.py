"""`masktrt bench --extra-onnx`: extra graph folders must come from the baseline's weights."""
from __future__ import annotations

import pytest

from masktrt.errors import MasktrtError

pytest.importorskip("torch")
from masktrt.benchmarks.bench_variants import same_weights  # noqa: E402
from masktrt.export.deploy import random_source  # noqa: E402
from masktrt.export.onnx_export import ExportOptions, export_onnx  # noqa: E402
from tests.export.export_helpers import PAIRS, SEED, export_small, small_model  # noqa: E402


def test_extra_graphs_of_other_weights_are_refused(tmp_path):
    model = small_model()
    deploy = export_small(model, tmp_path / "same")
    assert same_weights(tmp_path / "same", deploy.source) == tmp_path / "same"
    export_onnx(model, tmp_path / "other", random_source(SEED + 1, PAIRS), ExportOptions())
    with pytest.raises(MasktrtError, match="same weights") as info:
        same_weights(tmp_path / "other", deploy.source)
    assert "\n" not in str(info.value)
