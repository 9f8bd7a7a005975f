"""One package per tracker (`masktrt.trackers.<name>`): its spec, NumPy tracker, torch export
side, training parts, demo weights, model card and notes. Shared layers never import these
packages; they reach a tracker through `masktrt.registry` by name."""
