"""Writing files so that an interrupted run or a full disk never leaves a half-written one.

Every text and JSON file masktrt writes whole (deploy.json, eval.json/.md, bench reports,
calibration records) goes through `write_text`: the bytes go to a temporary file in the same
folder, are flushed to disk, and only then renamed over the target. A rename within one
filesystem is atomic, so a reader sees the old file or the new one, never half of either, even
after a power cut. Per-frame files that grow line by line are handled by runtime.outputs.

`os_error` turns the OS errors a user can fix (disk full, read-only or forbidden folder, quota)
into one MasktrtError line naming the path; anything else stays a traceback, since it is a bug.
NumPy-free and import-light: the runtime, exporter and commands all use it.
"""
from __future__ import annotations

import errno
import json
import os
import tempfile
from pathlib import Path
from typing import Any

# errno -> (what happened, what to do): the OS failures that are the user's to fix
USER_ERRNOS = {
    errno.ENOSPC: ("the disk is full", "free space on that disk or choose another folder"),
    errno.EDQUOT: ("the disk quota is exceeded", "free space or choose another folder"),
    errno.EROFS: ("the filesystem is read-only", "choose a writable folder"),
    errno.EACCES: ("permission denied", "choose a folder you can write to, or fix its permissions"),
    errno.EPERM: ("operation not permitted", "choose a folder you can write to"),
    errno.ENOTDIR: ("part of the path is a file, not a folder", "choose a folder path"),
    errno.EISDIR: ("it is a folder", "give a file path"),
}


def is_user_os_error(exc: BaseException) -> bool:
    """True for the OS errors `os_error` explains (disk full, read-only, permissions)."""
    return isinstance(exc, OSError) and exc.errno in USER_ERRNOS


def os_error(exc: OSError, path: str | Path | None = None, action: str = "write"):
    """A MasktrtError for a user-fixable OSError (else `exc` itself, to be re-raised)."""
    from masktrt.errors import MasktrtError

    if exc.errno not in USER_ERRNOS:
        return exc
    what, fix = USER_ERRNOS[exc.errno]
    where = path if path is not None else exc.filename
    target = f" '{where}'" if where is not None else ""
    return MasktrtError(f"cannot {action}{target}: {what}", fix)


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write `data` to `path` atomically (temporary file, fsync, rename)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _replace(path, data)
    except OSError as exc:
        raise os_error(exc, path) from exc
    return path


def _replace(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def write_text(path: str | Path, text: str) -> Path:
    """Atomic UTF-8 text write (see `write_bytes`)."""
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: str | Path, data: Any, indent: int = 2, **dumps: Any) -> Path:
    """Atomic JSON write, newline-terminated; `dumps` go to json.dumps (e.g. allow_nan)."""
    return write_text(path, json.dumps(data, indent=indent, **dumps) + "\n")
