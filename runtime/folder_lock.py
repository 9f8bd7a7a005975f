"""One run per output folder: two runs given the same --out would interleave their per-frame
lines, and the second one's --overwrite would delete the first one's files mid-run.

A run holds an exclusive, non-blocking `flock` on `<out>/.masktrt.lock` for as long as its
outputs are open; a second run on the folder ends at once with one line. The kernel drops the
lock when the process dies, so a crashed run never leaves the folder locked. The lock file is
opened without following a link, so a link planted under that name redirects nothing.
"""
from __future__ import annotations

import errno
import os
from pathlib import Path

from masktrt.errors import MasktrtError

LOCK_FILE = ".masktrt.lock"


def lock_folder(folder: Path) -> int | None:
    """Take the folder's lock; the descriptor to hand to `unlock` (None where the platform has
    no flock: the folder is then not locked)."""
    try:
        import fcntl
    except ImportError:  # not POSIX
        return None
    path = Path(folder) / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise MasktrtError(f"'{path}' is a symbolic link", f"remove it from {folder}") from exc
        raise
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise MasktrtError(f"another masktrt run is writing to '{folder}'",
                           "wait for it to end, or choose another --out folder") from None
    return fd


def unlock(folder: Path, fd: int | None) -> None:
    """Remove the lock file, then release the lock (closing drops it)."""
    if fd is None:
        return
    try:
        os.unlink(Path(folder) / LOCK_FILE)
    except OSError:
        pass  # already gone: nothing to tidy
    os.close(fd)
