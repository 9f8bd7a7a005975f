"""Provenance helpers shared by export, engines, calibration and reports.

Every artefact masktrt writes (graphs, engines, calibration caches, reports) records what it was
made from: file hashes and library versions. One implementation, so all of them agree.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import os
import platform
import tempfile
from pathlib import Path

from masktrt.errors import MasktrtError


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks (graphs and engines are tens of MB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def source_digest(folder: str | Path) -> str:
    """sha256 over the names and bytes of every .py file under `folder`: a cache key that
    changes whenever the code that produced a cached file changes (a version number does not
    change between commits)."""
    import hashlib

    root = Path(folder)
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def package_versions(packages: tuple[str, ...]) -> dict[str, str]:
    """Installed distribution versions (by distribution name), plus Python's; 'absent' if missing."""
    found = {"python": platform.python_version()}
    for package in packages:
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = "absent"
    return found


def writable_folder(out: str | Path) -> Path:
    """Create `out` if needed and prove it accepts files, before minutes of work go into it."""
    path = Path(out)
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path, prefix=".masktrt-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise MasktrtError(f"output folder '{path}' is not writable ({exc.strerror or exc})",
                           "pass --out a folder you can write to") from exc
    return path
