"""The TensorRT runner on batched engines (export option batch=dynamic), on the counting fakes.

The fake engine reports shapes as TensorRT does (-1 on dimension 0, profile shapes for inputs,
output shapes from the context once the inputs' are set, a profile switch that leaves the input
shapes unset), so these tests hold the runner to the API: buffers sized once for 16 targets,
the profile tuned nearest N from above, N rows in and only N rows out, device rows gathered on
the device, and every allocation freed on close.
"""
from __future__ import annotations

import masktrt.runtime.backends.tensorrt as trt_backend
import numpy as np
import pytest
from masktrt.runtime.backends.tensorrt_memory import DeviceTensor
from masktrt.runtime.trackers.batched import runner_batched
from tests.helpers.tensorrt_fakes import (
    DEVICE_TO_DEVICE,
    DEVICE_TO_HOST,
    HOST_TO_DEVICE,
    FakeCudart,
    batched_engines,
)

from masktrt.errors import MasktrtError

ROW = 4 * 4  # bytes of one target's Nx4 float32 row


@pytest.fixture(autouse=True)
def cache_here(tmp_path, monkeypatch):
    monkeypatch.setenv("MASKTRT_CACHE", str(tmp_path / "cache"))


def make_runner(monkeypatch, cudart: FakeCudart, engines=batched_engines) -> trt_backend.TensorRTRunner:
    monkeypatch.setattr(trt_backend, "_cudart", lambda: cudart)
    monkeypatch.setattr(trt_backend, "load_folder", lambda folder: engines())
    return trt_backend.TensorRTRunner("engines")


def rows(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return tuple(rng.standard_normal((n, 4)).astype(np.float32) for _ in range(2))


@pytest.mark.parametrize("n, profile", [(1, 0), (3, 1), (8, 2), (16, 2)])
def test_n_targets_run_under_the_profile_tuned_nearest_above(monkeypatch, n, profile) -> None:
    cudart = FakeCudart()
    with make_runner(monkeypatch, cudart) as runner:
        x, k = rows(n)
        before = len(cudart.moved)
        out = runner.run("search", {"x": x, "k": k})
        np.testing.assert_allclose(out["y"], x + k)
        np.testing.assert_allclose(out["f"], x * k)
        assert runner.graphs["search"].context.calls == [(profile, n)]
        copied = cudart.moved[before:]
        assert [b for kind, b in copied if kind == HOST_TO_DEVICE] == [n * ROW] * 2  # N rows in
        assert [b for kind, b in copied if kind == DEVICE_TO_HOST] == [n * ROW] * 2  # N rows out
        assert all(b.shape == (16, 4) for t, b in runner.graphs["search"].buffers.items())


def test_more_targets_than_the_profiles_allow_is_a_one_line_error(monkeypatch) -> None:
    with make_runner(monkeypatch, FakeCudart()) as runner:
        with pytest.raises(MasktrtError) as err:
            runner.run("search", dict(zip("xk", rows(17))))
        assert "17 targets in one 'search' call: its engine takes 1 to 16" in str(err.value)
        assert "at most 16" in str(err.value) and "\n" not in str(err.value)
        with pytest.raises(MasktrtError, match="different target counts"):
            runner.run("search", {"x": rows(3)[0], "k": rows(2)[1]})
        assert runner.graphs["search"].context.calls == []  # nothing ran


def test_switching_n_between_calls_switches_profiles_on_one_context(monkeypatch) -> None:
    cudart = FakeCudart()
    with make_runner(monkeypatch, cudart) as runner:
        allocated = cudart.allocations
        for seed, n in enumerate((3, 8, 3, 1, 16, 5)):
            x, k = rows(n, seed)
            out = runner.run("search", {"x": x, "k": k})
            assert out["y"].shape == (n, 4)
            np.testing.assert_allclose(out["y"], x + k)
        search = runner.graphs["search"]
        assert search.context.calls == [(1, 3), (2, 8), (1, 3), (0, 1), (2, 16), (2, 5)]
        assert len(search.loaded.engine.contexts) == 1  # one context, switched on the stream
        assert cudart.allocations == allocated + 4  # pinned x, k, y, f once each, then reused


def test_per_target_device_values_are_stacked_on_the_device(monkeypatch) -> None:
    """Kernels kept per target (batch 1) feed a batched input as a list: device copies only."""
    cudart = FakeCudart()
    with make_runner(monkeypatch, cudart) as runner:
        z, x = rows(3, 1)
        kernels = [runner.run("template", {"z": z[i:i + 1]}, keep_on_device=("k",))["k"] for i in range(3)]
        uploads = cudart.copies(HOST_TO_DEVICE)
        out = runner.run("search", {"x": x, "k": kernels}, keep_on_device=("f",))
        assert cudart.copies(HOST_TO_DEVICE) == uploads + 1  # x only
        assert [b for kind, b in cudart.moved if kind == DEVICE_TO_DEVICE] == [ROW] * 3
        np.testing.assert_allclose(out["y"], x + 2 * z)
        f = out["f"]
        assert isinstance(f, DeviceTensor) and f.shape == (3, 4)  # N rows of the own 16-row buffer
        np.testing.assert_allclose(cudart.view(f.ptr, f.shape, f.dtype), x * 2 * z)
        with pytest.raises(MasktrtError, match=r"different target counts \{'x': 2, 'k': 3\}"):
            runner.run("search", {"x": x[:2], "k": f})
        again = runner.run("search", {"x": x, "k": [f]})  # a batched device value, copied in
        np.testing.assert_allclose(again["y"], x + x * 2 * z)


def test_close_frees_every_batched_allocation(monkeypatch) -> None:
    cudart = FakeCudart()
    with make_runner(monkeypatch, cudart) as runner:
        for seed, n in enumerate((1, 3, 8, 16)):
            z, x = rows(n, seed)
            kernels = [runner.run("template", {"z": z[i:i + 1]}, keep_on_device=("k",))["k"] for i in range(n)]
            runner.run("search", {"x": x, "k": kernels}, keep_on_device=("f",))
        assert cudart.device and cudart.pinned
    assert cudart.device == {} and cudart.pinned == {}
    frees = sum(1 for e in cudart.events if e[0] in ("free", "free_host"))
    assert frees == cudart.allocations
    first_free = next(i for i, e in enumerate(cudart.events) if e[0].startswith("free"))
    assert cudart.events[first_free - 1] == ("sync",)


def test_a_batched_export_on_tensorrt_takes_the_batched_path(monkeypatch) -> None:
    def with_options():
        engines = batched_engines()
        for e in engines.values():
            e.meta["options"] = {"batch": "dynamic", "correlation": "unrolled"}
        return engines

    with make_runner(monkeypatch, FakeCudart(), engines=with_options) as runner:
        assert runner_batched(runner)
    with make_runner(monkeypatch, FakeCudart()) as runner:
        assert not runner_batched(runner)  # no batch option recorded: batch 1
