"""OceanPlus (ARN): the network from named parts (shared ResNet-50 trunk, neck, Ocean head,
attention retrieval, MSS/MMS decoders) and checkpoint loading. The graphs and the registry's
export side come next (see NOTES.md)."""
from masktrt.export.models.oceanplus.channels import OceanPlusChannels
from masktrt.export.models.oceanplus.network import OceanPlus

__all__ = ["OceanPlus", "OceanPlusChannels"]
