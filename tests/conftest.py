"""Shared test fixtures: real-sequence lookup that skips with a message, GPU detection."""
from __future__ import annotations

import sys

import pytest

from masktrt.paths import shared_sequence


def has_gpu() -> bool:
    from masktrt.kernels import gpu_available

    return gpu_available()


def pytest_collection_modifyitems(config, items):
    if has_gpu():
        return
    skip = pytest.mark.skip(reason="needs an NVIDIA GPU (none found); run on a GPU machine")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _torch_threads_restored():
    """Each test starts with the thread count the one before it found: a test that pins torch's
    threads must not change the float summation order of every test after it (a closed loop
    that learns online turns that into another trajectory)."""
    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch else None
    yield
    torch = sys.modules.get("torch")
    if torch and before is not None:
        torch.set_num_threads(before)


def real_sequence(name: str):
    """Path of a sequence in ../shared/data, or skip the test saying where it looked."""
    path = shared_sequence(name)
    if path is None:
        pytest.skip(f"real sequence '{name}' not found: needs ../shared/data/{name} or $MASKTRT_DATA")
    return path


@pytest.fixture(scope="session")
def rts_small_export(tmp_path_factory):
    """(seeded RTS model with STA, folder, contract) of one ONNX export at 128x224/4/8, shared by
    the RTS export and tracker tests: tracing and exporting it takes about 100 s on a 2-core CPU,
    and both modules need exactly this export (tests must not change the model or the folder)."""
    pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    from tests.helpers.rts_helpers import export_rts, rts_model

    model = rts_model()
    folder = tmp_path_factory.mktemp("rts_small")
    return model, folder, export_rts(model, folder)
