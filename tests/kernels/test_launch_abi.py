"""Without a GPU: every launcher passes exactly the parameters (count, size, kind) its PTX entry declares."""
from __future__ import annotations

import ctypes
import re

import numpy as np
import pytest

from masktrt.kernels import launch, loader
from masktrt.kernels.crop_reference import crop_params
from masktrt.kernels.paste_reference import paste_params

PTX_KIND = {"u64": (8, "i"), "b64": (8, "i"), "s64": (8, "i"), "u32": (4, "i"), "s32": (4, "i"),
            "b32": (4, "i"), "f32": (4, "f"), "f64": (8, "f")}
CTYPE_KIND = {ctypes.c_void_p: (8, "i"), ctypes.c_longlong: (8, "i"), ctypes.c_int: (4, "i"),
              ctypes.c_float: (4, "f"), ctypes.c_double: (8, "f")}


def _entries(name: str) -> dict[str, list[tuple[int, str]]]:
    ptx = loader.compile_kernel(name, 87).image.decode()
    out = {}
    for m in re.finditer(r"\.entry (\w+)\((.*?)\)", ptx, re.S):
        out[m.group(1)] = [PTX_KIND[t] for t in re.findall(r"\.param \.(\w+)", m.group(2))]
    return out


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, list]] = []

    def launch(self, name, grid, block, args, stream=0, shared_bytes=0):
        assert all(g >= 1 for g in grid) and 0 < np.prod(block) <= 1024
        self.calls.append((name, list(args)))

    def memset_d8(self, ptr, value, count, stream=0):
        assert ptr and count > 0

    memset_d32 = memset_d8


class FakeWorkspace:
    max_h, max_w = 480, 640

    def ptr(self, name):
        return 0x1000


def _assert_abi(source: str, calls) -> None:
    entries = _entries(source)
    assert calls
    for name, args in calls:
        assert name in entries, name
        assert [CTYPE_KIND[t] for _, t in args] == entries[name], name


def test_crop_and_paste_launchers_match_ptx_signatures():
    rec = Recorder()
    launch.CropResizeKernel(rec).launch(0x1000, (480, 640), 1920,
                                        crop_params((300.0, 200.0), 255, 400, np.zeros(3)), 0x2000)
    _assert_abi("crop_resize", rec.calls)
    rec = Recorder()
    region = launch.PasteMaskKernel(rec).launch(0x1000, 0x2000, paste_params((100.0, 100.0, 255.0, 255.0), (12, 12),
                                                (480, 640)), 0.35, 0x3000, 640, previous=(0, 0, 10, 10))
    assert [c[0] for c in rec.calls] == ["sigmoid_map", "paste_mask"]
    assert region[2] > region[0]
    _assert_abi("paste_mask", rec.calls)


def test_mbr_launcher_matches_ptx_signatures():
    rec = Recorder()
    launch.MbrKernel(rec).launch(0x1000, 640, (10, 20, 300, 400), FakeWorkspace())
    assert [c[0] for c in rec.calls] == ["ccl_init", "ccl_merge", "ccl_compress", "contour_area",
                                         "select_largest", "row_extremes", "hull_mbr"]
    _assert_abi("mbr", rec.calls)


def test_region_union_and_workspace_guard(monkeypatch):
    assert launch.union_region(None, (1, 2, 3, 4)) == (1, 2, 3, 4)
    assert launch.union_region((0, 0, 5, 5), (3, 3, 9, 9)) == (0, 0, 9, 9)
    assert launch.union_region((0, 0, 5, 5), (3, 3, 3, 9)) == (0, 0, 5, 5)
    from masktrt.errors import MasktrtError
    with pytest.raises(MasktrtError, match="exceeds the workspace"):
        launch.MbrKernel(Recorder()).launch(0, 640, (0, 0, 641, 10), FakeWorkspace())
