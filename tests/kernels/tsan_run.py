"""Run every kernel on small cases with the ThreadSanitizer build (test_cpu_layer.py runs this in a
subprocess with libtsan preloaded). argv[1]: a .cu path to use instead of mbr.cu (a broken copy)."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # test_cpu_kernels, beside this script
sys.path.insert(0, str(Path(__file__).parents[2]))  # the repository root: tests.helpers

import cv2  # noqa: E402
from masktrt.kernels import launch  # noqa: E402
from masktrt.kernels.host_module import HostKernelModule  # noqa: E402

from tests.helpers.kernel_cases import check_crop, check_mbr, check_paste, crop_cases, paste_sequence  # noqa: E402
from tests.helpers.mbr_cases import degenerate_masks, random_masks  # noqa: E402
from test_cpu_kernels import run_crop, run_mbr, run_paste_sequence  # noqa: E402


def main(mbr_source: str | None) -> None:
    cv2.setNumThreads(0)  # OpenCV's own (uninstrumented) thread pool would be reported
    mbr = launch.MbrKernel(HostKernelModule(mbr_source or "mbr", sanitize="thread"))
    masks = random_masks(3, 4, [(40, 60), (64, 64)]) + list(degenerate_masks(24, 31).values())[:6]
    for mask in masks:
        got = run_mbr(mbr, mask)
        if mbr_source is None:
            check_mbr(mask, got)
    if mbr_source is not None:
        return
    crop = launch.CropResizeKernel(HostKernelModule("crop_resize", sanitize="thread"))
    for case in list(crop_cases("fast", count=3))[2:]:
        check_crop(case, run_crop(crop, case, False), False)
    paste = launch.PasteMaskKernel(HostKernelModule("paste_mask", sanitize="thread"))
    run_paste_sequence(paste, paste_sequence((97, 131), 3, 1), check_paste)
    print("tsan run: all kernels ran", flush=True)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
