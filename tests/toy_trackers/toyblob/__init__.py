"""A toy tracker folder (test only), laid out exactly as trackers/<name>/ is: `spec.py`,
`tracker.py`, `export/export_side.py`. tests/registry/test_second_tracker.py puts
tests/toy_trackers/ on `masktrt.trackers`' path and lets the registry discover it, proving that
adding a tracker is adding its folder: no shared file changes.

The "network" is a few torch layers with fixed brightness filters: `embed` (once per target)
averages the template patch into a 4-vector code; `locate` (every frame) correlates that code
with pooled window features into a 16x16 heat map whose peak is the bright target.
"""
