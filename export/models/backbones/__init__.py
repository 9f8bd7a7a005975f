"""Backbones the trackers' networks are composed from (ResNet-50 trunk of SiamMask)."""
