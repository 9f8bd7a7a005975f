"""Tracker specs: pure data every layer reads names, geometry, presets and budgets from."""
from masktrt.specs.base import PER_FRAME, PER_TARGET, GraphDecl, Preprocessing, TrackerSpec

__all__ = ["GraphDecl", "Preprocessing", "TrackerSpec", "PER_FRAME", "PER_TARGET"]
