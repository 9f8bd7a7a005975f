"""CUDA kernels for the tracker's pre- and post-processing, with a NumPy/OpenCV reference each.

- crop+resize into the engine input: crop_resize.cu / crop_reference.py (defined by runtime.crop)
- mask paste-back + binarisation: paste_mask.cu / paste_reference.py (defined by runtime.mask)
- minimum-area rectangle of the largest component: mbr.cu / mbr_reference.py (findContours pipeline)

Importing this package loads nothing from CUDA: `gpu_available()` probes the driver lazily, the
launchers live in masktrt.kernels.launch and compile on first use (masktrt.kernels.loader).
"""
from __future__ import annotations

from masktrt.kernels.loader import gpu_available

__all__ = ["gpu_available"]
