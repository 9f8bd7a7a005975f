"""ONNX Runtime's CUDA path: `--provider cuda` / `provider="cuda"` selects onnxruntime-gpu's CUDA
provider, and refuses in one line naming the fix where the package or the GPU is missing (ONNX
Runtime itself would fall back to the CPU with only a warning)."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

import masktrt.runtime.backends.onnxruntime as ort_backend
from masktrt.errors import MasktrtError
from masktrt.runtime.backends.onnxruntime import choose_providers

CPU_ONLY = SimpleNamespace(__version__="1.32.0", get_available_providers=lambda: [
    "AzureExecutionProvider", "CPUExecutionProvider"])  # what `pip install onnxruntime` gives
GPU_BUILD = SimpleNamespace(__version__="1.22.0", get_available_providers=lambda: [
    "TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"])  # onnxruntime-gpu


def one_line(exc: pytest.ExceptionInfo) -> str:
    assert "\n" not in str(exc.value)
    return str(exc.value)


@pytest.mark.parametrize("gpu", [True, False])
def test_cuda_without_onnxruntime_gpu_names_the_package(monkeypatch, gpu) -> None:
    monkeypatch.setattr(ort_backend, "_gpu_present", lambda: gpu)
    with pytest.raises(MasktrtError) as exc:
        choose_providers(CPU_ONLY, "cuda")
    text = one_line(exc)
    assert "needs onnxruntime-gpu" in text and "pip install onnxruntime-gpu" in text
    assert "--provider cpu" in text


def test_cuda_with_onnxruntime_gpu_but_no_gpu_is_refused(monkeypatch) -> None:
    monkeypatch.setattr(ort_backend, "_gpu_present", lambda: False)
    with pytest.raises(MasktrtError) as exc:
        choose_providers(GPU_BUILD, "cuda")
    assert "no NVIDIA GPU" in one_line(exc)
    assert choose_providers(GPU_BUILD, "auto") == ["CPUExecutionProvider"]  # auto falls back quietly


def test_cuda_is_chosen_where_both_are_present(monkeypatch) -> None:
    monkeypatch.setattr(ort_backend, "_gpu_present", lambda: True)
    assert choose_providers(GPU_BUILD, "cuda") == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert choose_providers(GPU_BUILD, "auto") == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert choose_providers(GPU_BUILD, "cpu") == ["CPUExecutionProvider"]


def test_unknown_provider_lists_the_choices() -> None:
    with pytest.raises(MasktrtError) as exc:
        choose_providers(CPU_ONLY, "rocm")
    assert "choose one of: auto, cpu, cuda" in one_line(exc)


def test_open_tracker_passes_provider_cuda_through(tmp_path, monkeypatch) -> None:
    """The embeddable API: open_tracker(folder, provider="cuda") reaches choose_providers; with
    the CPU-only onnxruntime installed here it is the one-line refusal naming onnxruntime-gpu."""
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("onnxruntime-gpu is installed here")
    from tests.helpers.engine_graphs import write_export

    import masktrt

    folder = write_export(tmp_path / "onnx")
    with pytest.raises(MasktrtError) as exc:
        masktrt.open_tracker(folder, "onnxruntime", provider="cuda")
    assert "pip install onnxruntime-gpu" in one_line(exc)
