"""The TensorRT runner's memory and lifetime rules, on counting fakes of cuda-python and TensorRT.

No TensorRT runs on this workplace's GPUs, so these fakes model the documented contract: device
and pinned allocations freed on close() after the stream is synchronised, kept outputs of a
per-target graph in fresh buffers that survive later runs, kept outputs of a per-frame graph in
the runner's own buffers (overwritten by its next run), device feeds bound without an upload.
"""
from __future__ import annotations

import numpy as np
import pytest
from tests.helpers.tensorrt_fakes import (DEVICE_TO_HOST, HOST_TO_DEVICE, FakeCudart, refit_engines,
                            siammask_io_engines, toy_engines)

import masktrt.runtime.backends.tensorrt as trt_backend
from masktrt.errors import MasktrtError
from masktrt.runtime.backends.tensorrt_memory import DeviceTensor
from masktrt.runtime.gpu_ops import DeviceInput, device_io, io_problem


@pytest.fixture(autouse=True)
def cache_here(tmp_path, monkeypatch):
    """TensorRT-RTX runtime caches go to a test folder, not the user's ~/.cache/masktrt."""
    monkeypatch.setenv("MASKTRT_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "rtx-runtime"


def make_runner(monkeypatch, cudart: FakeCudart, engines=toy_engines, **engine_options
                ) -> trt_backend.TensorRTRunner:
    monkeypatch.setattr(trt_backend, "_cudart", lambda: cudart)
    monkeypatch.setattr(trt_backend, "load_folder", lambda folder: engines(**engine_options))
    return trt_backend.TensorRTRunner("engines")


def z_and_x(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return tuple(rng.standard_normal((1, 4)).astype(np.float32) for _ in range(2))


def test_close_frees_every_allocation_after_a_sync_and_destroys_the_stream(monkeypatch) -> None:
    cudart = FakeCudart()
    with make_runner(monkeypatch, cudart) as runner:
        for seed in range(3):  # three targets: three kept kernel sets
            z, x = z_and_x(seed)
            kernels = runner.run("template", {"z": z}, keep_on_device=("k",))
            runner.run("search", {"x": x, **kernels}, keep_on_device=("f",))
        pinned_views = [v for g in runner.graphs.values() for v in g.pinned.values()]
        assert cudart.device and cudart.pinned and pinned_views
    assert cudart.allocations == len(cudart.events) - sum(1 for e in cudart.events if e[0] in ("copy", "sync", "destroy"))
    assert cudart.device == {} and cudart.pinned == {}  # every device and pinned allocation freed
    assert cudart.destroyed == cudart.streams and len(cudart.streams) == 1
    first_free = next(i for i, e in enumerate(cudart.events) if e[0].startswith("free"))
    assert cudart.events[first_free - 1] == ("sync",)  # nothing in flight when memory goes
    assert cudart.events[-1] == ("destroy",)
    assert all(not g.pinned for g in runner.graphs.values())  # no view of freed pinned memory
    with pytest.raises(MasktrtError, match="was closed"):
        runner.run("template", {"z": z_and_x(0)[0]})
    runner.close()  # a second close is harmless
    assert cudart.destroyed == cudart.streams


def test_kept_per_target_outputs_survive_while_per_frame_ones_are_reused(monkeypatch) -> None:
    cudart = FakeCudart()
    (za, xa), (zb, xb) = z_and_x(1), z_and_x(2)
    with make_runner(monkeypatch, cudart) as runner:
        ka = runner.run("template", {"z": za}, keep_on_device=("k",))["k"]
        assert cudart.copies(DEVICE_TO_HOST) == 0 and ("sync",) not in cudart.events  # all kept
        kb = runner.run("template", {"z": zb}, keep_on_device=("k",))["k"]
        # one sync: z's pinned buffer is rewritten only once its previous upload is done
        assert cudart.events.count(("sync",)) == 1 and cudart.copies(DEVICE_TO_HOST) == 0
        assert isinstance(ka, DeviceTensor) and ka.ptr != kb.ptr  # fresh buffers per target
        np.testing.assert_array_equal(cudart.view(ka.ptr, ka.shape, ka.dtype), 2 * za)  # A survives B
        uploads = cudart.copies(HOST_TO_DEVICE)
        out_a = runner.run("search", {"x": xa, "k": ka}, keep_on_device=("f",))
        assert cudart.copies(HOST_TO_DEVICE) == uploads + 1  # x only: the kernels are bound by address
        np.testing.assert_allclose(out_a["y"], xa + 2 * za)  # host output, downloaded
        f_a = cudart.view(out_a["f"].ptr, (1, 4), np.float32).copy()
        np.testing.assert_allclose(f_a, xa * 2 * za)
        out_b = runner.run("search", {"x": xb, "k": kb}, keep_on_device=("f",))
        assert out_b["f"].ptr == out_a["f"].ptr  # per-frame: the runner's own buffer, reused
        assert out_b["f"].serial != out_a["f"].serial  # ...holding another value
        np.testing.assert_allclose(cudart.view(out_b["f"].ptr, (1, 4), np.float32), xb * 2 * zb)
        np.testing.assert_array_equal(cudart.view(ka.ptr, ka.shape, ka.dtype), 2 * za)  # still A's
        np.testing.assert_allclose(runner.run("search", {"x": xa, "k": ka})["y"], xa + 2 * za)


def test_feeds_are_checked(monkeypatch) -> None:
    cudart = FakeCudart()
    with make_runner(monkeypatch, cudart) as runner, make_runner(monkeypatch, FakeCudart()) as other:
        z, x = z_and_x(0)
        with pytest.raises(MasktrtError, match=r"without inputs \['k'\]"):
            runner.run("search", {"x": x})
        foreign = other.run("template", {"z": z}, keep_on_device=("k",))["k"]
        with pytest.raises(MasktrtError, match="another runner"):
            runner.run("search", {"x": x, "k": foreign})
        with pytest.raises(MasktrtError, match="no outputs"):
            runner.run("template", {"z": z}, keep_on_device=("nope",))
        with pytest.raises(MasktrtError, match="no graph 'refine'"):
            runner.run("refine", {})


def test_device_seams_expose_the_stream_handle_and_own_buffers(monkeypatch) -> None:
    """execute_async_v3 and the kernels need int(cudaStream_t); getPtr() is a host address."""
    cudart_mod = pytest.importorskip("cuda.bindings.runtime")
    cudart = FakeCudart(stream_factory=cudart_mod.cudaStream_t)
    with make_runner(monkeypatch, cudart, search_dtype=np.float16) as runner:
        assert runner.stream == 0x5000 and cudart.streams[0].getPtr() != 0x5000
        x = runner.device_buffer("search", "x")
        assert x.dtype == np.float16 and x.shape == (1, 4) and x.ptr in cudart.device
        assert runner.device_buffer("template", "k").ptr != x.ptr
        kernels = runner.run("template", {"z": z_and_x(0)[0]}, keep_on_device=("k",))
        with pytest.raises(MasktrtError, match="cropped into another buffer"):
            runner.run("search", {"x": DeviceInput("search", runner.device_buffer("template", "z").ptr),
                                  **kernels})
        uploads = cudart.copies(HOST_TO_DEVICE)
        runner.run("search", {"x": DeviceInput("search", x.ptr), **kernels})
        assert cudart.copies(HOST_TO_DEVICE) == uploads  # the crop's own write: nothing uploaded
        assert runner.graphs["search"].context.addresses["x"] == x.ptr


def test_device_io_for_the_kernels_is_the_runners_siammask_buffers(monkeypatch) -> None:
    cudart_mod = pytest.importorskip("cuda.bindings.runtime")
    cudart = FakeCudart(stream_factory=cudart_mod.cudaStream_t)
    with make_runner(monkeypatch, cudart, engines=siammask_io_engines) as runner:
        io = device_io(runner)
        assert io.stream == 0x5000 and cudart.streams[0].getPtr() != 0x5000
        assert (io.inputs["template"].ptr, io.inputs["search"].ptr, io.logits.ptr) == (
            runner.device_buffer("template", "z").ptr, runner.device_buffer("search", "x").ptr,
            runner.device_buffer("refine", "mask").ptr)
        assert io.inputs["search"].dtype == np.float16 and io_problem(io) is None


def test_refit_follows_the_fed_weights_and_keeps_host_copies_until_the_sync(monkeypatch) -> None:
    import gc

    cudart = FakeCudart()
    (za, xa), (zb, _) = z_and_x(1), z_and_x(2)
    with make_runner(monkeypatch, cudart, engines=lambda: refit_engines(cudart)) as runner:
        refitter = runner.graphs["search"].refit.refitter
        ka = runner.run("template", {"z": za}, keep_on_device=("k",))
        kb = runner.run("template", {"z": zb}, keep_on_device=("k",))
        with pytest.raises(MasktrtError, match=r"without inputs \['k'\]"):
            runner.run("search", {"x": xa})
        gc.collect()  # the FP16 host copy must survive this: the fake sync checks it is alive
        np.testing.assert_allclose(runner.run("search", {"x": xa, **ka})["y"], xa + 2 * za, atol=5e-3)  # FP16 weights
        runner.run("search", {"x": xa, **ka})
        assert refitter.refits == 1  # same kernels: no refit
        np.testing.assert_allclose(runner.run("search", {"x": xa, **kb})["y"], xa + 2 * zb, atol=5e-3)  # FP16 weights
        runner.run("search", {"x": xa, **ka})
        assert refitter.refits == 3  # another target's kernels, then back: a refit each
    assert cudart.device == {} and cudart.pinned == {}


# --- TensorRT-RTX's runtime cache (issue 21, defect 10) -------------------------------------------
def _compilations(runner) -> dict[str, int]:
    return {g: loaded.engine.compilations for g, loaded in runner.engines.items()}


def _track_once(runner) -> None:
    z, x = z_and_x(0)
    runner.run("search", {"x": x, **runner.run("template", {"z": z}, keep_on_device=("k",))})


def test_rtx_runtime_cache_is_loaded_on_start_and_saved_on_close(monkeypatch, cache_here) -> None:
    """A second process starts with the kernels the first compiled just in time."""
    with make_runner(monkeypatch, FakeCudart()) as first:
        _track_once(first)
        assert _compilations(first) == {"template": 1, "search": 1}  # JIT on first use
        assert not any(g.runtime_cache.loaded for g in first.graphs.values())
        assert not list(cache_here.glob("*.rtxcache"))  # saved on close, not before
    files = sorted(cache_here.glob("*.rtxcache"))
    assert len(files) == 2  # one per engine, named by its sha256 and the GPU
    for g in first.graphs.values():
        assert g.runtime_cache.cache.calls == ["serialize"]  # nothing to load the first time
        assert g.runtime_cache.path.name.startswith(g.loaded.meta["engine_sha256"][:32])
        assert g.context.runtime_config.cache is g.runtime_cache.cache  # the context uses it
    with make_runner(monkeypatch, FakeCudart()) as second:
        assert all(g.runtime_cache.loaded for g in second.graphs.values())
        assert [g.runtime_cache.cache.calls for g in second.graphs.values()] == [["deserialize"]] * 2
        _track_once(second)
        assert _compilations(second) == {"template": 0, "search": 0}  # nothing compiled again


def test_a_stale_runtime_cache_is_rejected_then_replaced(monkeypatch, cache_here) -> None:
    with make_runner(monkeypatch, FakeCudart()) as first:
        _track_once(first)
    for path in cache_here.glob("*.rtxcache"):
        path.write_bytes(b"another GPU or TensorRT-RTX version|kernels-z-k")
    with make_runner(monkeypatch, FakeCudart()) as second:
        assert not any(g.runtime_cache.loaded for g in second.graphs.values())
        _track_once(second)
        assert _compilations(second) == {"template": 1, "search": 1}
    with make_runner(monkeypatch, FakeCudart()) as third:
        assert all(g.runtime_cache.loaded for g in third.graphs.values())  # the stale file was replaced


def test_runtime_cache_is_keyed_by_gpu_and_skipped_for_full_tensorrt(monkeypatch, cache_here) -> None:
    from types import SimpleNamespace

    from masktrt.runtime.engine_loader import Gpu

    def on(gpu, module="tensorrt_rtx"):
        engines = toy_engines()
        for loaded in engines.values():
            loaded.gpu, loaded.trt = gpu, SimpleNamespace(**{**vars(loaded.trt), "__name__": module})
        return engines

    with make_runner(monkeypatch, FakeCudart(), engines=lambda: on(Gpu("NVIDIA GeForce RTX 4090", (8, 9)))):
        pass
    with make_runner(monkeypatch, FakeCudart(), engines=lambda: on(Gpu("NVIDIA GeForce RTX 3090", (8, 6)))):
        pass
    names = sorted(p.name for p in cache_here.glob("*.rtxcache"))
    assert len(names) == 4 and sum("RTX_4090_sm89" in n for n in names) == 2
    with make_runner(monkeypatch, FakeCudart(), engines=lambda: on(None, "tensorrt")) as full:
        assert all(g.runtime_cache is None and g.context.runtime_config is None for g in full.graphs.values())
