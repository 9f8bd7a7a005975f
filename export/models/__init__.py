"""PyTorch reference models (SiamMask sharp) with export-friendly entry points."""
from masktrt.export.models.depthcorr import xcorr_depthwise, xcorr_unrolled
from masktrt.export.models.siammask import SiamMask
from masktrt.export.models.spec import SiamMaskSpec

__all__ = ["SiamMask", "SiamMaskSpec", "xcorr_depthwise", "xcorr_unrolled"]
