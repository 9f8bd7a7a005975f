"""RTS: the reference network from named parts (Mask R-CNN ResNet-50, segmentation learner,
DiMP-style classifier, score and label encoders, LWL decoder), closed-form learner steps and
checkpoint loading. Graphs, the export side and STA come next (see NOTES.md)."""
from masktrt.trackers.rts.export.network import RTS

__all__ = ["RTS"]
