"""masktrt: pixel-wise Siamese trackers (SiamMask first) on ONNX Runtime and TensorRT.

Subpackages live in top-level folders of the repository and are installed as
`masktrt.export`, `masktrt.runtime`, `masktrt.kernels`, `masktrt.calibration`,
`masktrt.benchmarks` and `masktrt.training`.
"""
__version__ = "0.1.0"
