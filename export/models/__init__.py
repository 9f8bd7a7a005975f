"""PyTorch reference models with export-friendly entry points, one package per tracker."""
from masktrt.export.models.siammask.channels import SiamMaskSpec
from masktrt.export.models.siammask.depthcorr import xcorr_depthwise, xcorr_unrolled
from masktrt.export.models.siammask.network import SiamMask

__all__ = ["SiamMask", "SiamMaskSpec", "xcorr_depthwise", "xcorr_unrolled"]
