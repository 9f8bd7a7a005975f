"""One exception type for every user-facing failure.

The CLI prints `error: <problem>. <fix>` on one line and exits 2 instead of a traceback, so a
bad checkpoint, frame or box tells the user what to do without hiding the cause.
"""
from __future__ import annotations


class MasktrtError(Exception):
    """A problem the user can fix; `str()` is a single line naming the problem and the fix."""

    def __init__(self, problem: str, fix: str = "") -> None:
        self.problem = problem.rstrip(".")
        self.fix = fix
        super().__init__(f"{self.problem}. {fix}".strip())


# Extras whose right choice depends on the machine: the fix names the choice.
EXTRA_CHOICES = {"cuda": "pip install 'masktrt[cuda13]' (CUDA 13 drivers, 580+) or "
                         "'masktrt[cuda12]' (CUDA 12 drivers, JetPack 6)"}


class MissingDependency(MasktrtError):
    """An optional backend or tool is not installed."""

    def __init__(self, module: str, extra: str) -> None:
        install = EXTRA_CHOICES.get(extra, f"pip install 'masktrt[{extra}]'")
        super().__init__(f"optional dependency '{module}' is not installed",
                         f"install it with: {install}")


def require(module: str, extra: str):
    """Import an optional dependency lazily, turning ImportError into a one-line fix."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - exercised with the module hidden
        raise MissingDependency(module, extra) from exc
