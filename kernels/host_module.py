"""The CUDA kernel sources built for the host with g++ and run on the CPU (no GPU, no CUDA).

Why: the kernels' own source must execute on every CI run, not only their NumPy twins. Each
`.cu` file is compiled UNCHANGED together with kernels/cpu/cuda_host.h (CUDA's qualifiers,
built-in variables, __shared__, __syncthreads, atomics and intrinsics for the host, and a grid
launcher whose block threads are real OS threads) into one shared library per source, cached like
the NVRTC images (masktrt.paths.cache_dir("kernels-host"), keyed by the sources, the compiler and
its flags). `HostKernelModule` has KernelModule's launch/memset interface, so the launchers of
masktrt.kernels.launch (their argument packing) drive it unchanged; pointers are host addresses
(`HostBuffer`, NumPy arrays). Launches are synchronous.
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from masktrt.errors import MasktrtError
from masktrt.kernels.loader import SOURCE_DIR, SOURCES, store_atomically
from masktrt.paths import cache_dir

HEADER = SOURCE_DIR / "cpu" / "cuda_host.h"
TSAN_SUPPRESSIONS = SOURCE_DIR / "cpu" / "tsan.supp"
# -ffp-contract=off: NVRTC's --fmad=false (no silent fma); -O1 keeps builds quick and the code honest.
CXXFLAGS = ("-std=c++20", "-pthread", "-fPIC", "-shared", "-fvisibility=hidden",
            "-ffp-contract=off", "-fno-fast-math")
SANITIZERS = {None: ("-O1",), "thread": ("-O1", "-g", "-fsanitize=thread")}
ENTRY = re.compile(r'extern\s+"C"\s+__global__\s+void\s+(\w+)\s*\(')


def compiler() -> str:
    """The C++ compiler (CXX or g++), or a one-line error."""
    cxx = os.environ.get("CXX", "g++")
    if shutil.which(cxx) is None:
        raise MasktrtError(f"C++ compiler '{cxx}' not found (the CPU kernel layer builds with it)",
                           "install g++ 11 or newer (apt-get install g++) or set CXX")
    return cxx


def compiler_version(cxx: str) -> str:
    return subprocess.run([cxx, "--version"], capture_output=True, text=True).stdout.splitlines()[0]


def _strip_comments(source: str) -> str:
    return re.sub(r"//[^\n]*|/\*.*?\*/", " ", source, flags=re.S)


def function_bodies(source: str) -> dict[str, str]:
    """Top-level function name -> body text (brace matching on comment-free source)."""
    text, bodies, depth, start, head = _strip_comments(source), {}, 0, 0, 0
    for i, ch in enumerate(text):
        if ch == "{":
            if depth == 0:
                start = i
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                names = re.findall(r"(\w+)\s*\(", text[head:start])
                if names:
                    bodies[names[0] if "__global__" in text[head:start] else names[-1]] = text[start:i]
                head = i + 1
        elif ch == ";" and depth == 0:
            head = i + 1
    return bodies


def lockstep_kernels(source: str) -> set[str]:
    """Functions that use __shared__ or __syncthreads, directly or through the functions they call:
    their blocks must run one after another with a block-wide barrier."""
    bodies = function_bodies(source)
    needs = {n for n, b in bodies.items() if "__syncthreads" in b or "__shared__" in b}
    changed = True
    while changed:
        grown = {n for n, b in bodies.items() if any(re.search(rf"\b{m}\s*\(", b) for m in needs)}
        changed = not grown <= needs
        needs |= grown
    return needs


def wrapper_source(source_path: Path, source: str) -> str:
    """The translation unit: the header, the .cu file as is, and one name->launch dispatcher."""
    entries = ENTRY.findall(source)
    lockstep = lockstep_kernels(source)
    lines = [f'#include "{HEADER}"', f'#include "{source_path}"', "",
             'extern "C" __attribute__((visibility("default")))',
             "int masktrt_host_launch(const char* name, const unsigned* grid, const unsigned* block, void** args, int flags) {"]
    for e in entries:
        flag = "true" if e in lockstep else "false"
        lines.append(f'    if (std::strcmp(name, "{e}") == 0) return cuda_host::launch({e}, grid, block, args, {flag}, flags);')
    lines += ["    return -1;", "}", ""]
    return "\n".join(lines)


def build_library(source_path: Path, cache_root: Path | None = None, sanitize: str | None = None) -> Path:
    """The shared library of one .cu file (compiled once per source, header, compiler and flags)."""
    source_path = Path(source_path).resolve()
    source = source_path.read_text()
    cxx = compiler()
    flags = (*CXXFLAGS, *SANITIZERS[sanitize])
    wrapper = wrapper_source(source_path, source)
    blob = "\0".join([source, HEADER.read_text(), wrapper, cxx, compiler_version(cxx), *flags])
    key = hashlib.sha256(blob.encode()).hexdigest()[:20]
    root = cache_root if cache_root is not None else cache_dir("kernels-host")
    lib = root / f"{source_path.stem}-{sanitize or 'plain'}-{key}.so"
    if not lib.is_file():
        _compile(cxx, flags, wrapper, lib)
    return lib


def _compile(cxx: str, flags: Sequence[str], wrapper: str, lib: Path) -> None:
    """g++ into a private temporary folder, then an atomic rename (parallel builders never clash)."""
    import tempfile

    with tempfile.TemporaryDirectory(dir=lib.parent, prefix=".build-") as tmp:
        cpp, out = Path(tmp) / "unit.cpp", Path(tmp) / "lib.so"
        cpp.write_text(wrapper)
        proc = subprocess.run([cxx, *flags, str(cpp), "-o", str(out)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise MasktrtError(f"{cxx} could not build {lib.stem} for the host: "
                               f"{[l for l in proc.stderr.splitlines() if 'error' in l][:3] or proc.stderr[-300:]}",
                               "this is a bug in masktrt's kernels or kernels/cpu/cuda_host.h; report it")
        store_atomically(lib, out.read_bytes())


def source_path(name: str) -> Path:
    if name not in SOURCES:
        raise MasktrtError(f"unknown kernel '{name}'", f"choose one of: {', '.join(SOURCES)}")
    return SOURCE_DIR / SOURCES[name]


class HostKernelModule:
    """KernelModule's interface on the CPU: launch(name, grid, block, args), memset_d8/d32.

    `name` is a kernel source (crop_resize, paste_mask, mbr) or a path to a .cu file (a test's
    deliberately broken copy). thread0_last: the adversarial schedule of cuda_host.h (flag 1).
    """

    def __init__(self, name: str | Path, cache_root: Path | None = None, sanitize: str | None = None,
                 thread0_last: bool = False) -> None:
        path = Path(name) if str(name).endswith(".cu") else source_path(str(name))
        self.entries = ENTRY.findall(path.read_text())
        self.path = build_library(path, cache_root, sanitize)
        self._lib = ctypes.CDLL(str(self.path))
        self._lib.masktrt_host_launch.restype = ctypes.c_int
        self._lib.masktrt_host_launch.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_void_p,
                                                  ctypes.c_void_p, ctypes.c_int]
        self.flags = 1 if thread0_last else 0  # cuda_host.h's schedules
        self.launches_by_kernel: Counter = Counter()  # name -> launches, for the tests' summary

    def launch(self, name: str, grid: tuple[int, int, int], block: tuple[int, int, int],
               args: Sequence[tuple[Any, Any]], stream: int = 0, shared_bytes: int = 0) -> None:
        """Synchronous launch; args are launch.py's (value, ctypes type) pairs, passed as
        cuLaunchKernel's kernelParams (an array of pointers to each parameter's value)."""
        values = [ctype(value) for value, ctype in args]
        params = (ctypes.c_void_p * max(len(values), 1))(*[ctypes.addressof(v) for v in values])
        dims = (ctypes.c_uint * 3)(*grid), (ctypes.c_uint * 3)(*block)
        rc = self._lib.masktrt_host_launch(name.encode(), ctypes.addressof(dims[0]),
                                           ctypes.addressof(dims[1]), ctypes.addressof(params), self.flags)
        if rc != 0:
            why = "no such __global__ function" if rc < 0 else f"invalid configuration {grid} x {block}"
            raise MasktrtError(f"host launch of {name} failed: {why}", "check the launcher's arguments")
        self.launches_by_kernel[name] += 1

    def memset_d8(self, ptr: int, value: int, count: int, stream: int = 0) -> None:
        ctypes.memset(ptr, value & 0xFF, count)

    def memset_d32(self, ptr: int, value: int, count: int, stream: int = 0) -> None:
        np.ctypeslib.as_array((ctypes.c_uint32 * count).from_address(ptr))[:] = value & 0xFFFFFFFF


class HostBuffer:
    """DeviceBuffer's interface over host memory (a NumPy byte array kept alive by the buffer)."""

    def __init__(self, nbytes: int) -> None:
        self.nbytes = int(nbytes)
        self._data = np.zeros(max(self.nbytes, 1), np.uint8)
        self.ptr = int(self._data.ctypes.data)

    def upload(self, array: np.ndarray, stream: int = 0) -> None:
        data = np.ascontiguousarray(array).view(np.uint8).ravel()
        self._data[:data.size] = data

    def download(self, shape: tuple[int, ...], dtype: type, stream: int = 0) -> np.ndarray:
        count = int(np.prod(shape)) * np.dtype(dtype).itemsize
        return self._data[:count].view(dtype).reshape(shape).copy()

    def close(self) -> None:
        self.ptr = 0
