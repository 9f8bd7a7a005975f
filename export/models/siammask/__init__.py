"""SiamMask (sharp): the network from named parts (backbone, adjust neck, heads, refine), its
three graphs, and the export side the registry names."""
from masktrt.export.models.siammask.channels import SiamMaskSpec
from masktrt.export.models.siammask.network import SiamMask

__all__ = ["SiamMask", "SiamMaskSpec"]
