"""SiamMask (sharp): the network from named parts (backbone, adjust neck, heads, refine), its
three graphs, and the export side the registry names."""
from masktrt.trackers.siammask.export.channels import SiamMaskSpec
from masktrt.trackers.siammask.export.network import SiamMask

__all__ = ["SiamMask", "SiamMaskSpec"]
