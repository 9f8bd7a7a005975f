"""masktrt: pixel-wise Siamese trackers (SiamMask first) on ONNX Runtime and TensorRT.

Subpackages live in top-level folders of the repository and are installed as
`masktrt.export`, `masktrt.runtime`, `masktrt.kernels`, `masktrt.calibration`,
`masktrt.benchmarks` and `masktrt.training`.
"""
__version__ = "0.1.0"


def __getattr__(name: str):
    """`masktrt.open_tracker` without importing the runtime until it is used."""
    if name == "open_tracker":
        from masktrt.api import open_tracker

        return open_tracker
    raise AttributeError(f"module 'masktrt' has no attribute {name!r}")
