"""Helpers the tests share across folders: fake backends and cores, small exports, kernel cases.

Imported as `tests.helpers.<module>` (pytest runs from the repository root with `python -m
pytest`, which puts the root on sys.path), never through `sys.path.insert`.
"""
