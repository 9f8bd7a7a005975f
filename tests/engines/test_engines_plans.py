"""TensorRT vs TensorRT-RTX decisions and the load-time compatibility check, without either GPU.

Full TensorRT is not installable here, so its side is tested through `Flavour` (module name +
version), the only input the decisions take; the TensorRT-RTX side is also built for real in
test_engines.py.
"""
from __future__ import annotations

import importlib.util

import pytest

from masktrt.errors import MasktrtError
from masktrt.engines.correlation import choose_xcorr
from masktrt.engines.precision import precision_plan
from masktrt.runtime.engine_loader import Gpu, check_compatible
from masktrt.runtime.trt_module import RTX_SUPPORT_MATRIX, Flavour, check_supported, import_trt, parse_version

RTX = Flavour("tensorrt_rtx", "1.7.1.116")
TRT10 = Flavour("tensorrt", "10.3.0.26")
TRT82 = Flavour("tensorrt", "8.2.1.8")  # JetPack 4.6 (Jetson Nano / TX2)
TRT11 = Flavour("tensorrt", "11.4.0.11")  # what `pip install tensorrt` gives now


def one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text
    return text


def test_parse_version() -> None:
    assert parse_version("10.3.0.26") == (10, 3, 0, 26)
    assert parse_version("8.6.1.post1") == (8, 6, 1)
    assert parse_version("1.7.1.116") == (1, 7, 1, 116)


def test_flavour_capabilities() -> None:
    assert RTX.always_strongly_typed and not RTX.uses_timing_cache and RTX.builds_without_gpu
    assert not TRT10.always_strongly_typed and TRT10.uses_timing_cache and not TRT10.builds_without_gpu
    assert TRT11.always_strongly_typed and TRT11.uses_timing_cache and not TRT11.builds_without_gpu
    assert RTX.dynamic_weights and TRT10.dynamic_weights and Flavour("tensorrt", "8.5.1").dynamic_weights
    assert not TRT82.dynamic_weights
    assert TRT82.needs_explicit_batch_flag and not TRT10.needs_explicit_batch_flag
    assert not RTX.needs_explicit_batch_flag


# --- precision: where the two modules differ -------------------------------------------------
def test_fp16_on_full_tensorrt_takes_fp32_graph_plus_flag() -> None:
    plan = precision_plan(TRT10, "fp16", "fp32")
    assert plan.flags == ("FP16",) and not plan.strongly_typed


def test_fp16_on_rtx_needs_fp16_graph() -> None:
    with pytest.raises(MasktrtError) as exc:
        precision_plan(RTX, "fp16", "fp32", "/x/onnx")
    assert "strongly typed" in one_line(exc)
    assert "masktrt export --precision fp16 --out /x/onnx" in str(exc.value)
    plan = precision_plan(RTX, "fp16", "fp16")
    assert plan.flags == () and plan.strongly_typed


def test_tensorrt_11_plans_like_rtx_no_precision_flags() -> None:
    """TensorRT 11 removed BuilderFlag.FP16/INT8: no plan may name them (issue 21, defect 3)."""
    assert precision_plan(TRT11, "fp16", "fp16") == precision_plan(TRT11, "fp16", "fp16", "d", True)
    assert precision_plan(TRT11, "fp16", "fp16").flags == () and precision_plan(TRT11, "fp16", "fp16").strongly_typed
    assert precision_plan(TRT11, "int8", "int8").flags == ()
    assert precision_plan(TRT11, "int8", "fp32", others_quantized=True).flags == ()
    with pytest.raises(MasktrtError) as exc:
        precision_plan(TRT11, "fp16", "fp32", "/x/onnx")
    assert "tensorrt 11.4.0.11 is strongly typed" in one_line(exc)
    assert "masktrt export --precision fp16 --out /x/onnx" in str(exc.value)


def test_fp16_graph_on_full_tensorrt_is_strongly_typed() -> None:
    plan = precision_plan(TRT10, "fp16", "fp16")
    assert plan.strongly_typed and plan.flags == ()


def test_fp32_engine_from_fp16_graph_refused_on_both() -> None:
    for flavour in (RTX, TRT10):
        with pytest.raises(MasktrtError, match="--precision fp32"):
            precision_plan(flavour, "fp32", "fp16")


def test_fp32_on_full_tensorrt_disables_tf32() -> None:
    assert precision_plan(TRT10, "fp32", "fp32").clear_flags == ("TF32",)
    assert precision_plan(RTX, "fp32", "fp32").clear_flags == ()


def test_int8_needs_qdq_graph() -> None:
    for flavour in (RTX, TRT10):
        with pytest.raises(MasktrtError) as exc:
            precision_plan(flavour, "int8", "fp32")
        assert "needs a QDQ graph" in one_line(exc) and "masktrt calibrate" in str(exc.value)


def test_int8_with_qdq() -> None:
    assert precision_plan(RTX, "int8", "int8").flags == ()
    assert precision_plan(TRT10, "int8", "int8").flags == ("INT8", "FP16")
    # a graph the calibration left in float, inside an INT8 build: FP16 where the flavour allows
    assert precision_plan(TRT10, "int8", "fp32", others_quantized=True).flags == ("FP16",)
    assert precision_plan(RTX, "int8", "fp32", others_quantized=True).flags == ()
    with pytest.raises(MasktrtError, match="quantized"):
        precision_plan(RTX, "fp16", "int8")


# --- correlation strategy ------------------------------------------------------------------
def test_auto_picks_dynamic_on_new_tensorrt_and_rtx() -> None:
    for flavour in (RTX, TRT10):
        strategy, why = choose_xcorr(flavour, "auto", "dynamic")
        assert strategy == "dynamic" and "auto picked 'dynamic'" in why and flavour.module in why


def test_auto_picks_unrolled_below_8_5() -> None:
    strategy, why = choose_xcorr(TRT82, "auto", "unrolled")
    assert strategy == "unrolled" and "auto picked 'unrolled'" in why


def test_auto_on_old_tensorrt_with_dynamic_graphs_names_export_command() -> None:
    with pytest.raises(MasktrtError) as exc:
        choose_xcorr(TRT82, "auto", "dynamic", "/m/onnx")
    assert "8.5" in one_line(exc) and "masktrt export --xcorr unrolled --out /m/onnx" in str(exc.value)


def test_auto_accepts_unrolled_everywhere_and_says_dynamic_exists() -> None:
    strategy, why = choose_xcorr(RTX, "auto", "unrolled", "/m/onnx")
    assert strategy == "unrolled" and "masktrt export --xcorr dynamic --out /m/onnx" in why


def test_explicit_strategy_must_match_export() -> None:
    with pytest.raises(MasktrtError) as exc:
        choose_xcorr(RTX, "dynamic", "unrolled", "/m/onnx")
    assert "masktrt export --xcorr dynamic --out /m/onnx" in one_line(exc)
    assert choose_xcorr(TRT82, "unrolled", "unrolled")[0] == "unrolled"


def test_refit_on_a_dynamic_export_names_the_export_command() -> None:
    with pytest.raises(MasktrtError) as exc:
        choose_xcorr(RTX, "refit", "dynamic", "/m/onnx")
    assert "masktrt export --xcorr refit --out /m/onnx" in one_line(exc)


def test_missing_full_tensorrt_is_one_line() -> None:
    if importlib.util.find_spec("tensorrt") is not None:
        pytest.skip("full TensorRT is installed here")
    with pytest.raises(MasktrtError) as exc:
        import_trt("tensorrt")
    assert "'tensorrt'" in one_line(exc) and "tensorrt-rtx" in str(exc.value)


# --- load-time compatibility (metadata as a built engine writes it) --------------------------
def _meta(module="tensorrt_rtx", version="1.7.1.116", targets=None) -> dict:
    return {"name": "search", "tensorrt": {"module": module, "version": version},
            "targets": targets or {"compute_capabilities": ["8.6", "8.9", "12.0"],
                                   "kind": "ahead-of-time default"},
            "rebuild": "masktrt build --onnx /e/onnx --backend tensorrt-rtx --precision fp16 "
                       "--xcorr auto --out /e/eng"}


ADA = Gpu("NVIDIA GeForce RTX 4090", (8, 9))


def test_compatible_engine_passes() -> None:
    check_compatible(_meta(), RTX, ADA)
    check_compatible(_meta("tensorrt", "10.3.0.26", {"compute_capabilities": ["8.9"], "kind": "build GPU"}),
                     TRT10, ADA)


def test_version_mismatch_says_how_to_rebuild() -> None:
    with pytest.raises(MasktrtError) as exc:
        check_compatible(_meta(version="1.6.0.1"), RTX, ADA)
    text = one_line(exc)
    assert "1.6.0.1" in text and "1.7.1.116" in text
    assert "rebuild with: masktrt build --onnx /e/onnx --backend tensorrt-rtx --precision fp16" in text


def test_module_mismatch_rebuilds_for_the_installed_module() -> None:
    with pytest.raises(MasktrtError) as exc:
        check_compatible(_meta("tensorrt", "10.3.0.26"), RTX, ADA)
    assert "--backend tensorrt-rtx" in one_line(exc) and "this machine runs tensorrt_rtx" in str(exc.value)


def test_gpu_mismatch_full_tensorrt() -> None:
    meta = _meta("tensorrt", "10.3.0.26", {"compute_capabilities": ["8.7"], "kind": "build GPU"})
    with pytest.raises(MasktrtError) as exc:
        check_compatible(meta, TRT10, ADA)
    assert "8.7" in one_line(exc) and "8.9" in str(exc.value) and "masktrt build" in str(exc.value)


def test_rtx_default_targets_refuse_turing() -> None:
    with pytest.raises(MasktrtError) as exc:
        check_compatible(_meta(), RTX, Gpu("Quadro RTX 6000", (7, 5)))
    assert "built for compute capability 8.6, 8.9, 12.0" in one_line(exc)
    assert "--compute-capability 7.5" in str(exc.value)


def test_engines_recorded_with_a_minimum_are_still_checked() -> None:
    old = _meta(targets={"compute_capabilities": None, "kind": "ahead-of-time default",
                         "min_compute_capability": "8.0"})
    check_compatible(old, RTX, ADA)
    with pytest.raises(MasktrtError, match="8.0\\+, but this GPU"):
        check_compatible(old, RTX, Gpu("Quadro RTX 6000", (7, 5)))


# --- TensorRT-RTX's support matrix (issue 21, defect 2) ----------------------------------------
def test_support_matrix_per_version() -> None:
    assert Flavour("tensorrt_rtx", "1.0.0.21").supported_compute_capabilities == ("7.5", "8.6", "8.9", "12.0")
    assert Flavour("tensorrt_rtx", "1.4.0.1").supported_compute_capabilities == ("7.5", "8.6", "8.9", "12.0")
    assert RTX.supported_compute_capabilities == ("7.5", "8.6", "8.9", "12.0", "12.1")
    assert TRT10.supported_compute_capabilities is None and TRT11.supported_compute_capabilities is None
    for _, ccs in RTX_SUPPORT_MATRIX:
        assert not {"8.0", "8.7", "9.0"} & set(ccs)  # A100, Orin, H100/H200: never listed


@pytest.mark.parametrize("gpu", [Gpu("NVIDIA H200", (9, 0)), Gpu("NVIDIA A100-SXM4-80GB", (8, 0)),
                                 Gpu("Orin", (8, 7))])
def test_rtx_refuses_gpus_outside_its_support_matrix_at_load(gpu) -> None:
    """These passed the old 'compute capability >= 8.0' check and then failed inside TensorRT-RTX."""
    meta = _meta(targets={"compute_capabilities": ["9.0", "8.0", "8.7"], "kind": "explicit"})
    meta["rebuild"] += " --compute-capability 8.6"
    with pytest.raises(MasktrtError) as exc:
        check_compatible(meta, RTX, gpu)
    text = one_line(exc)
    assert "supports compute capability 7.5, 8.6, 8.9, 12.0, 12.1 only" in text
    assert f"this GPU ({gpu.name}) is {gpu.compute_capability[0]}.{gpu.compute_capability[1]}" in text
    assert "--backend tensorrt " in text and "--compute-capability" not in text  # full TensorRT: no targets


def test_12_1_is_supported_from_rtx_1_5_only() -> None:
    gb10 = Gpu("NVIDIA GB10", (12, 1))
    meta = _meta(targets={"compute_capabilities": ["12.1"], "kind": "explicit"})
    check_compatible(meta, RTX, gb10)
    old = Flavour("tensorrt_rtx", "1.4.0.76")
    with pytest.raises(MasktrtError, match="supports compute capability 7.5, 8.6, 8.9, 12.0 only"):
        check_compatible(_meta(version="1.4.0.76", targets=meta["targets"]), old, gb10)


def test_full_tensorrt_is_not_held_to_rtx_list() -> None:
    h200 = Gpu("NVIDIA H200", (9, 0))
    check_supported(TRT11, "9.0", "this GPU", "")
    check_compatible(_meta("tensorrt", "10.3.0.26", {"compute_capabilities": ["9.0"], "kind": "build GPU"}),
                     TRT10, h200)


def test_no_gpu_and_no_tensorrt() -> None:
    with pytest.raises(MasktrtError) as exc:
        check_compatible(_meta(), RTX, None)
    assert "no NVIDIA GPU" in one_line(exc) and "onnxruntime" in str(exc.value)
    with pytest.raises(MasktrtError) as exc:
        check_compatible(_meta(), None, ADA)
    assert "not installed" in one_line(exc)
