"""The toy tracker's torch side."""
