"""Sizes of the toy sequences conftest.py writes (importable by the tests, unlike conftest)."""

FRAMES = 5
SIZE = (48, 64)  # height, width
