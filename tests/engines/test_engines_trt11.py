"""TensorRT 11 (what `pip install tensorrt` gives now) builds strongly typed, like TensorRT-RTX.

TensorRT 11 removed BuilderFlag.FP16/INT8 with weak typing (issue 21, defect 3). Full TensorRT is
not installable here, so these builds run the real masktrt.engines code against a fake `tensorrt`
11 module (tensorrt11_fake) whose BuilderFlag lacks those members and whose parser reads the real
toy ONNX graphs; the last test shows that the TensorRT 10 code path dies on it.
"""
from __future__ import annotations

import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")  # the FP16 and QDQ toy graphs are made with its tools

from tests.helpers import tensorrt11_fake as trt11  # noqa: E402  (tests/runtime, beside this file)
from tests.helpers.engine_graphs import write_export  # noqa: E402

import masktrt.engines.build as build_module  # noqa: E402
from masktrt.engines import BuildRequest, build_engines  # noqa: E402
from masktrt.engines.precision import precision_plan  # noqa: E402
from masktrt.errors import MasktrtError  # noqa: E402
from masktrt.runtime.engine_loader import Gpu  # noqa: E402
from masktrt.runtime.trt_module import Flavour, flavour_of  # noqa: E402

H200 = Gpu("NVIDIA H200", (9, 0))  # full TensorRT supports Hopper; it builds on its GPU


@pytest.fixture(autouse=True)
def gpu_here(monkeypatch):
    """Full TensorRT builds for the GPU it runs on: pretend one is there."""
    monkeypatch.setattr(build_module, "probe_gpu", lambda: H200)
    trt11.Builder.configs.clear()


def test_the_fake_is_tensorrt_11_without_precision_flags() -> None:
    flavour = flavour_of(trt11)
    assert flavour == Flavour("tensorrt", trt11.__version__)
    assert flavour.always_strongly_typed and flavour.uses_timing_cache and not flavour.rtx
    for removed in ("FP16", "INT8"):
        assert not hasattr(trt11.BuilderFlag, removed)


def test_fp16_engines_from_fp16_graphs_set_no_precision_flag(tmp_path) -> None:
    folder = write_export(tmp_path / "fp16", "dynamic", "fp16")
    records, _ = build_engines(BuildRequest(folder, backend="tensorrt", precision="fp16",
                                            out=tmp_path / "e"), trt=trt11)
    assert [r.name for r in records] == ["template", "search", "refine"]
    for r in records:
        assert r.meta["strongly_typed"] and r.meta["builder_flags"] == []
        assert r.meta["graph_precision"] == "fp16"  # read from the graph by the parser
        assert r.meta["tensorrt"] == {"module": "tensorrt", "version": trt11.__version__}
        assert r.meta["targets"] == {"compute_capabilities": ["9.0"], "kind": "build GPU"}
    assert all(not c.flags for c in trt11.Builder.configs)


def test_fp16_from_fp32_graphs_is_refused_with_the_export_command(tmp_path) -> None:
    folder = write_export(tmp_path / "fp32")
    with pytest.raises(MasktrtError) as exc:
        build_engines(BuildRequest(folder, backend="tensorrt", precision="fp16", out=tmp_path / "e"),
                      trt=trt11)
    text = str(exc.value)
    assert "\n" not in text and "tensorrt 11.4.0.11 is strongly typed" in text
    assert f"masktrt export --precision fp16 --out {folder}" in text


def test_int8_from_qdq_graphs_sets_no_precision_flag(tmp_path) -> None:
    folder = write_export(tmp_path / "qdq", "dynamic", "int8")
    records, _ = build_engines(BuildRequest(folder, backend="tensorrt", precision="int8",
                                            out=tmp_path / "e"), graphs=("template", "refine"), trt=trt11)
    meta = {r.name: r.meta for r in records}
    assert meta["template"]["graph_precision"] == "int8" and meta["refine"]["graph_precision"] == "fp32"
    assert all(m["builder_flags"] == [] and m["strongly_typed"] for m in meta.values())


def test_fp32_engines_keep_tf32_off(tmp_path) -> None:
    folder = write_export(tmp_path / "fp32")
    build_engines(BuildRequest(folder, backend="tensorrt", out=tmp_path / "e"), graphs=("template",),
                  trt=trt11)
    assert trt11.Builder.configs and all(trt11.BuilderFlag.TF32 not in c.flags for c in trt11.Builder.configs)


def test_the_tensorrt_10_path_fails_on_tensorrt_11(tmp_path, monkeypatch) -> None:
    """Before the fix, only TensorRT-RTX counted as strongly typed: a TensorRT 11 FP16 build from
    FP32 graphs planned BuilderFlag.FP16, which TensorRT 11 no longer has."""
    assert precision_plan(Flavour("tensorrt", "10.3.0.26"), "fp16", "fp32").flags == ("FP16",)
    monkeypatch.setattr(Flavour, "always_strongly_typed", property(lambda self: self.rtx))  # the old rule
    folder = write_export(tmp_path / "fp32")
    with pytest.raises(AttributeError, match="FP16"):
        build_engines(BuildRequest(folder, backend="tensorrt", precision="fp16", out=tmp_path / "e"),
                      graphs=("template",), trt=trt11)
