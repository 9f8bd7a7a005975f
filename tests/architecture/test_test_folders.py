"""No test folder may share its name with a module a dependency installs (issue 29.10).

pytest puts the test folders' parent on sys.path, so `tests/vot/` made `import vot` succeed as an
empty namespace package where the VOT toolkit was not installed: `pytest.importorskip("vot")`
stopped skipping and a fresh machine's `make test` failed while CI, with the toolkit installed,
was green. The names checked: every top-level module of every installed distribution, and the
first part of every distribution masktrt depends on, optional extras included (whether installed
or not: `vot-toolkit` installs `vot`).
"""
from __future__ import annotations

import importlib.metadata as metadata
import re
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def declared_names() -> set[str]:
    """The first part of each requirement of masktrt (`vot-toolkit==0.9.0` -> `vot`)."""
    requirements = metadata.requires("masktrt") or []
    names = {re.split(r"[\s;<>=!~\[(]", r, maxsplit=1)[0] for r in requirements}
    return {re.split(r"[-_.]", n)[0].lower() for n in names if n}


def installed_modules() -> set[str]:
    return {name.lower() for name in metadata.packages_distributions()}


def folders() -> list[str]:
    folders = [p.name for p in TESTS.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))]
    assert "vot_toolkit" in folders  # the walk sees the folders
    return folders


def test_no_test_folder_is_named_like_a_dependency() -> None:
    taken = declared_names() | installed_modules()
    assert "vot" in taken and "numpy" in taken  # the names are really collected
    clashes = sorted(f for f in folders() if f.lower() in taken)
    assert not clashes, f"rename these test folders: {clashes}"
