"""Tracker registry: a name -> its spec, its NumPy tracker and its torch export side.

Entries name their parts as "module:attribute" strings, imported on first use, so listing the
registry or loading a spec never imports torch, and a Jetson without the export extras can still
open any tracker's contract. Adding a tracker is adding its folder `trackers/<name>/` (found by
`discover`, by the convention of `entry_of`); a plug-in elsewhere can `register(...)` its own
without touching shared code.
"""
from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from masktrt.errors import MasktrtError


def _resolve(ref: str) -> Any:
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


@dataclass(frozen=True)
class TrackerEntry:
    """Where a tracker's three parts live.

    spec:    a `masktrt.specs.base.TrackerSpec` (pure data)
    runtime: a callable (spec, runner, preset, **options) -> object with init/track (NumPy only)
    export:  an object with the torch side: models, checkpoints, graph modules (needs torch)
    train:   `run_command(args) -> int`, what `masktrt train --tracker NAME` runs (needs torch);
             empty for a tracker that is not trained here
    """

    name: str
    spec: str
    runtime: str
    export: str
    train: str = ""

    def load_spec(self) -> Any:
        return _resolve(self.spec)

    def load_runtime(self) -> Any:
        return _resolve(self.runtime)

    def folder(self) -> Path:
        """The folder of the spec's module: where the tracker keeps its demo weights and card."""
        spec = importlib.util.find_spec(self.spec.partition(":")[0])
        return Path(spec.origin).parent

    def load_train(self) -> Any:
        if not self.train:
            raise MasktrtError(f"tracker '{self.name}' has no training recipe here",
                               f"train one of: {', '.join(n for n in names() if get(n).train)}")
        return _resolve(self.train)

    def load_export(self) -> Any:
        try:
            return _resolve(self.export)
        except ImportError as exc:
            raise MasktrtError(f"the export side of tracker '{self.name}' is unavailable ({exc})",
                               "install it with: pip install 'masktrt[export]'") from exc


_REGISTRY: dict[str, TrackerEntry] = {}


def register(entry: TrackerEntry, replace: bool = False) -> TrackerEntry:
    """Add a tracker; re-registering a name is an error unless `replace`."""
    if entry.name in _REGISTRY and not replace:
        raise MasktrtError(f"tracker '{entry.name}' is already registered",
                           "pick another name, or pass replace=True")
    _REGISTRY[entry.name] = entry
    return entry


def unregister(name: str) -> None:
    _REGISTRY.pop(name, None)


def names() -> tuple[str, ...]:
    return tuple(_REGISTRY)


def get(name: str) -> TrackerEntry:
    if name not in _REGISTRY:
        raise MasktrtError(f"unknown tracker '{name}'", f"registered trackers: {', '.join(_REGISTRY)}")
    return _REGISTRY[name]


def spec(name: str) -> Any:
    return get(name).load_spec()


DEFAULT_TRACKER = "siammask"  # what a command or API call without --tracker/tracker= means
TRACKERS_PACKAGE = "masktrt.trackers"  # one subfolder per tracker (trackers/<name>/)


def entry_of(package: str, name: str, folder: Path) -> TrackerEntry:
    """The entry a tracker folder gets by convention: `spec.py` SPEC, `tracker.py` TRACKER (its
    runtime class), `export/export_side.py` EXPORT and, where the folder has one,
    `training/train.py` run_command."""
    base = f"{package}.{name}"
    train = f"{base}.training.train:run_command" if (folder / "training" / "train.py").is_file() else ""
    return TrackerEntry(name, spec=f"{base}.spec:SPEC", runtime=f"{base}.tracker:TRACKER",
                        export=f"{base}.export.export_side:EXPORT", train=train)


def discover(package: str = TRACKERS_PACKAGE) -> tuple[str, ...]:
    """Register every tracker folder of `package` not registered yet (the default tracker first,
    then by name): adding a tracker is adding its folder. Imports only the package's
    `__init__`; returns the names registered."""
    import pkgutil

    found = {info.name: Path(info.module_finder.path) / info.name
             for info in pkgutil.iter_modules(importlib.import_module(package).__path__)
             if info.ispkg and info.name not in _REGISTRY}
    order = sorted(found, key=lambda name: (name != DEFAULT_TRACKER, name))
    for name in order:
        register(entry_of(package, name, found[name]))
    return tuple(order)


discover()
