"""Files masktrt reads back from its own output folders (engine metadata beside an engine, the
calibration cache's provenance and sensitivity) may have been edited or damaged since: anything
that is not what this code writes means "rebuild / recompute", never a traceback (issue 29.3)."""
from __future__ import annotations

from pathlib import Path

import pytest

from masktrt.calibration import cache
from masktrt.calibration.sensitivity import from_json

DEEP = b"[" * 100_000 + b"]" * 100_000
CRAFTED = {
    "not-utf8": b"\xff\xfe\x00garbage",
    "not-json": b"{",
    "a-list": b"[1, 2]",
    "a-key-twice": b'{"schema": 1, "schema": 2}',
    "nested-too-deeply": DEEP,
    "onnx-a-string": b'{"schema": 1, "onnx": "sha"}',
}


@pytest.mark.parametrize("case", sorted(CRAFTED))
def test_crafted_engine_metadata_means_rebuild(tmp_path: Path, case: str) -> None:
    from masktrt.engines.metadata import reusable
    from masktrt.engines.request import BuildRequest
    from masktrt.runtime.trt_module import Flavour

    meta, engine = tmp_path / "search.json", tmp_path / "search.engine"
    meta.write_bytes(CRAFTED[case])
    engine.write_bytes(b"\0" * 16)
    flavour = Flavour("tensorrt_rtx", "1.7.1")
    assert reusable(meta, engine, flavour, BuildRequest(tmp_path), None, "sha", {}) is None


@pytest.mark.parametrize("case", sorted(CRAFTED))
def test_crafted_calibration_cache_files_mean_recompute(tmp_path: Path, case: str) -> None:
    (tmp_path / cache.PROVENANCE).write_bytes(CRAFTED[case])
    assert cache.matches(tmp_path, {"schema": 1}) is False
    cache.sensitivity_path(tmp_path).write_bytes(CRAFTED[case])
    assert cache.cached_sensitivity(tmp_path) is None


ROW = {"block": "stem", "errors": {"cls": 0.01}, "worst_output": "cls", "worst": 0.01, "nodes": 3}


@pytest.mark.parametrize("row", [
    {**ROW, "worst": "0.01"}, {**ROW, "nodes": 2.5}, {**ROW, "errors": [0.01]},
    {**ROW, "errors": {"cls": "x"}}, {**ROW, "extra": 1}, {k: v for k, v in ROW.items() if k != "worst"},
    {**ROW, "nodes": True},
], ids=["worst-a-string", "nodes-a-float", "errors-a-list", "error-a-string", "unknown-field",
        "missing-field", "nodes-a-bool"])
def test_sensitivity_rows_of_the_wrong_shape_are_not_trusted(row: dict) -> None:
    assert from_json([row]) is None
    assert from_json([ROW])[0].worst == 0.01  # the shape this code writes is read back
