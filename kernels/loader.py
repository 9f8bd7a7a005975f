"""Compile the CUDA sources with NVRTC (through cuda-python), cache the images, launch them.

NVRTC needs no GPU: `compile_kernel(name, arch)` produces PTX (compute_XX) or a CUBIN (sm_XX)
on any machine, which is how CI checks every kernel for every target (Orin 8.7, RTX 8.6/8.9/12.0,
H100 9.0) through the very path the runtime uses. Images are cached on disk under
masktrt.paths.cache_dir("kernels"), keyed by a hash of the source, the options, the target and
the NVRTC version, so a changed kernel or toolkit never loads a stale image. libnvrtc comes from
the nvidia-cuda-nvrtc wheel, which cuda.bindings finds through cuda.pathfinder.

Launching uses the driver API (cuModuleLoadData, cuLaunchKernel) on the caller's stream and
device pointers: the kernels read the frame and write the engine's input buffer in place.
"""
from __future__ import annotations

import ctypes
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from masktrt.errors import MasktrtError, require
from masktrt.paths import cache_dir

SOURCES = {"crop_resize": "crop_resize.cu", "paste_mask": "paste_mask.cu", "mbr": "mbr.cu"}
# --fmad=false: the kernels reproduce CPU rounding exactly and spell every fused op explicitly.
OPTIONS = ("--fmad=false", "--std=c++17")
TARGET_ARCHS = (87, 86, 89, 90, 120)  # Orin, RTX 30, RTX 40, H100, RTX 50
SOURCE_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class CompiledKernel:
    """A compiled image of one source: PTX text or CUBIN bytes, and where it is cached."""

    name: str
    arch: int
    kind: str  # "ptx" or "cubin"
    image: bytes
    path: Path
    from_cache: bool


def _nvrtc():
    return require("cuda.bindings.nvrtc", "cuda")


def _check(result: tuple, what: str, log: str = "") -> Any:
    """cuda-python returns (err, *values); raise a one-line MasktrtError on failure."""
    err, *values = result
    if int(err) != 0:
        detail = f": {log.strip()}" if log else ""
        raise MasktrtError(f"{what} failed ({err!r}){detail}",
                           "check the CUDA driver/toolkit installation (pip install 'masktrt[cuda13]', or 'masktrt[cuda12]' for CUDA 12 and JetPack 6)")
    return values[0] if len(values) == 1 else tuple(values)


def nvrtc_version() -> tuple[int, int]:
    return tuple(_check(_nvrtc().nvrtcVersion(), "nvrtcVersion"))  # type: ignore[return-value]


def supported_archs() -> list[int]:
    """Compute capabilities (major*10+minor) this NVRTC can target."""
    return [int(a) for a in _check(_nvrtc().nvrtcGetSupportedArchs(), "nvrtcGetSupportedArchs")]


def read_source(name: str) -> str:
    if name not in SOURCES:
        raise MasktrtError(f"unknown kernel '{name}'", f"choose one of: {', '.join(SOURCES)}")
    return (SOURCE_DIR / SOURCES[name]).read_text()


def cache_key(source: str, arch: int, kind: str, options: Sequence[str],
              version: tuple[int, int]) -> str:
    blob = "\0".join([source, str(arch), kind, *options, f"nvrtc{version[0]}.{version[1]}"])
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def _compile(source: str, name: str, arch: int, kind: str, options: Sequence[str]) -> bytes:
    nvrtc = _nvrtc()
    prog = _check(nvrtc.nvrtcCreateProgram(source.encode(), f"{name}.cu".encode(), 0, [], []),
                  "nvrtcCreateProgram")
    target = f"--gpu-architecture={'sm' if kind == 'cubin' else 'compute'}_{arch}"
    opts = [o.encode() for o in (*options, target)]
    try:
        err, = nvrtc.nvrtcCompileProgram(prog, len(opts), opts)
        if int(err) != 0:
            size = _check(nvrtc.nvrtcGetProgramLogSize(prog), "nvrtcGetProgramLogSize")
            log = b" " * size
            nvrtc.nvrtcGetProgramLog(prog, log)
            raise MasktrtError(f"NVRTC could not compile {name}.cu for {target}: "
                               f"{log.decode(errors='replace').strip().splitlines()[0:3]}",
                               "this is a bug in masktrt's kernels; report it with the log")
        get_size, get = ((nvrtc.nvrtcGetCUBINSize, nvrtc.nvrtcGetCUBIN) if kind == "cubin"
                         else (nvrtc.nvrtcGetPTXSize, nvrtc.nvrtcGetPTX))
        buf = b" " * _check(get_size(prog), f"{get_size.__name__}")
        _check((get(prog, buf)[0], None), get.__name__)
        return buf.rstrip(b"\0") if kind == "ptx" else buf
    finally:
        nvrtc.nvrtcDestroyProgram(prog)


def compile_kernel(name: str, arch: int, kind: str = "ptx", cache_root: Path | None = None) -> CompiledKernel:
    """The image of kernel source `name` for compute capability `arch`, from the cache if there."""
    if kind not in ("ptx", "cubin"):
        raise MasktrtError(f"unknown image kind '{kind}'", "use 'ptx' or 'cubin'")
    source = read_source(name)
    key = cache_key(source, arch, kind, OPTIONS, nvrtc_version())
    root = cache_root if cache_root is not None else cache_dir("kernels")
    path = root / f"{name}-{kind}{arch}-{key}.{kind}"
    if path.is_file():
        return CompiledKernel(name, arch, kind, path.read_bytes(), path, True)
    image = _compile(source, name, arch, kind, OPTIONS)
    store_atomically(path, image)
    return CompiledKernel(name, arch, kind, image, path, False)


def store_atomically(path: Path, data: bytes) -> None:
    """Write under a name unique to this process and thread, then rename over `path`.

    Two processes compiling the same kernel at once each write their own temporary file, and
    os.replace is atomic: a reader sees no file or a whole one, never half of one or a file
    another writer is still truncating (a fixed temporary name allowed both).
    """
    from masktrt.files import write_bytes

    write_bytes(path, data)


# --- device side ---------------------------------------------------------------------------------

def _driver():
    return require("cuda.bindings.driver", "cuda")


def gpu_available() -> bool:
    """True when a CUDA driver and at least one device are present (never raises)."""
    try:
        drv = _driver()
        if int(drv.cuInit(0)[0]) != 0:
            return False
        err, count = drv.cuDeviceGetCount()
        return int(err) == 0 and count > 0
    except Exception:
        return False


def device_arch(device: int = 0) -> int:
    """Compute capability of `device` as major*10+minor (e.g. 87 for Orin)."""
    drv = _driver()
    _check(drv.cuInit(0), "cuInit")
    dev = _check(drv.cuDeviceGet(device), "cuDeviceGet")
    attr = drv.CUdevice_attribute
    major = _check(drv.cuDeviceGetAttribute(attr.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev), "attr")
    minor = _check(drv.cuDeviceGetAttribute(attr.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev), "attr")
    return int(major) * 10 + int(minor)


def ensure_context(device: int = 0) -> None:
    """Make the device's primary context current (the one cudart, TensorRT and ORT use)."""
    drv = _driver()
    _check(drv.cuInit(0), "cuInit")
    current = _check(drv.cuCtxGetCurrent(), "cuCtxGetCurrent")
    if int(current) != 0:
        return
    dev = _check(drv.cuDeviceGet(device), "cuDeviceGet")
    ctx = _check(drv.cuDevicePrimaryCtxRetain(dev), "cuDevicePrimaryCtxRetain")
    _check(drv.cuCtxSetCurrent(ctx), "cuCtxSetCurrent")


def image_target(arch: int, supported: Sequence[int], version: tuple[int, int]) -> tuple[str, int]:
    """("cubin", arch) when NVRTC targets the device exactly, else ("ptx", the newest older target).

    A device older than NVRTC's oldest target (Volta or Xavier with NVRTC 13, whose oldest is 7.5)
    has no image at all: say so in one line instead of max() of an empty list.
    """
    if arch in supported:
        return "cubin", arch
    older = [a for a in supported if a <= arch]
    if not older:
        have = f"{min(supported) // 10}.{min(supported) % 10}" if supported else "none"
        raise MasktrtError(
            f"NVRTC {version[0]}.{version[1]} cannot compile the CUDA kernels for compute capability "
            f"{arch // 10}.{arch % 10} (its oldest target is {have})",
            "install an older NVRTC that still targets this GPU (pip install 'nvidia-cuda-nvrtc-cu12') "
            "or use the host pre/post-processing (ops=HostOps())")
    return "ptx", max(older)


class KernelModule:
    """One source loaded into the current context: functions by name, launches on a stream.

    CUBIN for the device's exact architecture when NVRTC supports it, PTX (JIT by the driver)
    otherwise. Holds only the driver handles it loaded; no tracking state.
    """

    def __init__(self, name: str, device: int = 0, cache_root: Path | None = None) -> None:
        ensure_context(device)
        kind, target = image_target(device_arch(device), supported_archs(), nvrtc_version())
        self.compiled = compile_kernel(name, target, kind, cache_root)
        drv = _driver()
        self._module = _check(drv.cuModuleLoadData(self.compiled.image + (b"\0" if kind == "ptx" else b"")),
                              "cuModuleLoadData")
        self._functions: dict[str, Any] = {}

    def function(self, name: str) -> Any:
        if name not in self._functions:
            self._functions[name] = _check(_driver().cuModuleGetFunction(self._module, name.encode()),
                                           f"cuModuleGetFunction({name})")
        return self._functions[name]

    def launch(self, name: str, grid: tuple[int, int, int], block: tuple[int, int, int],
               args: Sequence[tuple[Any, Any]], stream: int = 0, shared_bytes: int = 0) -> None:
        """Asynchronous launch; args are (value, ctypes type) pairs, pointers as ctypes.c_void_p."""
        values = tuple(v for v, _ in args)
        types = tuple(t for _, t in args)
        drv = _driver()
        _check(drv.cuLaunchKernel(self.function(name), *grid, *block, shared_bytes,
                                  drv.CUstream(stream), (values, types), 0), f"launch {name}")

    def memset_d8(self, ptr: int, value: int, count: int, stream: int = 0) -> None:
        """Asynchronous fill of `count` bytes (the launchers' workspace resets go through the module,
        so the host execution layer can run the same launchers on host memory)."""
        drv = _driver()
        _check(drv.cuMemsetD8Async(ptr, value, count, drv.CUstream(stream)), "cuMemsetD8Async")

    def memset_d32(self, ptr: int, value: int, count: int, stream: int = 0) -> None:
        """Asynchronous fill of `count` 32-bit words."""
        drv = _driver()
        _check(drv.cuMemsetD32Async(ptr, value, count, drv.CUstream(stream)), "cuMemsetD32Async")


c_ptr, c_int, c_longlong, c_float, c_double = (ctypes.c_void_p, ctypes.c_int, ctypes.c_longlong,
                                              ctypes.c_float, ctypes.c_double)
