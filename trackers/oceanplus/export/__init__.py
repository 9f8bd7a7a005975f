"""OceanPlus (ARN): the network from named parts (shared ResNet-50 trunk, neck, Ocean head,
attention retrieval, MSS/MMS decoders), checkpoint loading, seeded random weights, the exported
graphs and the registry's export side (`export_side.EXPORT`; see NOTES.md)."""
from masktrt.trackers.oceanplus.export.channels import OceanPlusChannels
from masktrt.trackers.oceanplus.export.network import OceanPlus

__all__ = ["OceanPlus", "OceanPlusChannels"]
