"""Every kernel compiles: with nvcc (CI's toolkit) and with NVRTC through the runtime's own path."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from masktrt.errors import MasktrtError
from masktrt.kernels import loader


@pytest.mark.parametrize("name", sorted(loader.SOURCES))
def test_nvcc_compiles_to_ptx(name, tmp_path):
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        pytest.skip("nvcc not on PATH: install the CUDA toolkit to check the sources with nvcc")
    src = loader.SOURCE_DIR / loader.SOURCES[name]
    out = tmp_path / f"{name}.ptx"
    proc = subprocess.run([nvcc, "-ptx", "-arch=compute_87", *loader.OPTIONS, str(src), "-o", str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert ".visible .entry" in out.read_text()


@pytest.mark.parametrize("arch", loader.TARGET_ARCHS)
def test_nvrtc_compiles_every_kernel_for_every_target(arch, tmp_path):
    assert arch in loader.supported_archs()
    entries = {"crop_resize": ["crop_resize_bgr"], "paste_mask": ["sigmoid_map", "paste_mask"],
               "mbr": ["ccl_init", "ccl_merge", "ccl_compress", "contour_area", "select_largest",
                       "row_extremes", "hull_mbr"]}
    for name, funcs in entries.items():
        compiled = loader.compile_kernel(name, arch, "ptx", cache_root=tmp_path)
        ptx = compiled.image.decode()
        assert f".target sm_{arch}" in ptx
        for func in funcs:
            assert f".entry {func}(" in ptx, (name, func)
        assert not compiled.from_cache


def test_cache_is_hit_the_second_time_and_keyed_by_target(tmp_path):
    first = loader.compile_kernel("paste_mask", 87, "ptx", cache_root=tmp_path)
    second = loader.compile_kernel("paste_mask", 87, "ptx", cache_root=tmp_path)
    other = loader.compile_kernel("paste_mask", 90, "ptx", cache_root=tmp_path)
    assert not first.from_cache and second.from_cache
    assert second.image == first.image and second.path == first.path
    assert other.path != first.path and not other.from_cache
    assert first.path.parent == tmp_path and first.path.suffix == ".ptx"


def test_cache_key_changes_with_source_options_and_version():
    base = loader.cache_key("src", 87, "ptx", loader.OPTIONS, (13, 0))
    assert base != loader.cache_key("src2", 87, "ptx", loader.OPTIONS, (13, 0))
    assert base != loader.cache_key("src", 87, "ptx", (), (13, 0))
    assert base != loader.cache_key("src", 87, "ptx", loader.OPTIONS, (13, 1))
    assert base != loader.cache_key("src", 87, "cubin", loader.OPTIONS, (13, 0))


def test_cubin_for_a_real_architecture(tmp_path):
    compiled = loader.compile_kernel("crop_resize", 87, "cubin", cache_root=tmp_path)
    assert compiled.image[:4] == b"\x7fELF"


def test_default_cache_lives_under_masktrt_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MASKTRT_CACHE", str(tmp_path))
    compiled = loader.compile_kernel("crop_resize", 86)
    assert compiled.path.parent == tmp_path / "kernels"


def test_unknown_kernel_and_kind_are_one_line_errors():
    with pytest.raises(MasktrtError, match="unknown kernel 'nope'"):
        loader.compile_kernel("nope", 87)
    with pytest.raises(MasktrtError, match="unknown image kind"):
        loader.compile_kernel("mbr", 87, "fatbin")


def test_gpu_available_is_a_bool_and_never_raises():
    assert isinstance(loader.gpu_available(), bool)
