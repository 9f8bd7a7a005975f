"""10 000 frames through the Python API and through `masktrt track` (ONNX Runtime, width-0.125
export): resident memory must stay flat after warm-up. Budget: growth < FLAT_BUDGET_MIB (20 MiB)
between frame 1000 and the end, i.e. under 2 KiB a frame: a leak of one mask (77 KiB at
320x240) or one crop (190 KiB) per frame would exceed it within a few hundred frames, while
allocator and ONNX Runtime arena jitter (a few MiB) stays well inside it."""
import pytest

from masktrt import soak

pytest.importorskip("onnxruntime")
FRAMES, EVERY = 10_000, 500


@pytest.fixture(scope="module")
def onnx_dir(tmp_path_factory):
    from tests.helpers.export_helpers import export_small, small_model

    folder = tmp_path_factory.mktemp("onnx")
    export_small(small_model(), folder)
    return folder


def assert_flat(report):
    assert report["frames"] == FRAMES and len(report["samples"]) >= FRAMES // EVERY - 2
    assert report["growth_after_warmup_mib"] < soak.FLAT_BUDGET_MIB, report["samples"]


@pytest.mark.slow
@pytest.mark.soak
def test_api_memory_is_flat_over_10000_frames(onnx_dir):
    assert_flat(soak.soak_api_isolated(onnx_dir, FRAMES, EVERY))


@pytest.mark.slow
@pytest.mark.soak
def test_cli_memory_is_flat_over_10000_frames(onnx_dir, tmp_path):
    report = soak.soak_cli(onnx_dir, FRAMES, EVERY, tmp_path)
    assert_flat(report)
    assert f"tracked {FRAMES} frames" in report["summary"]
