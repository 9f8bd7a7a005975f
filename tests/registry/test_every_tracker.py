"""What every registered tracker provides, checked for each name in the registry (so a new
tracker is held to the same contract the day it is registered, with no test to copy)."""
from __future__ import annotations

import importlib.util

import pytest

from masktrt import registry
from masktrt.budgets import ACCURACY
from masktrt.runtime.trackers.base import TrackerBase

NAMES = registry.names()
FOLDER_FILES = ("spec.py", "tracker.py", "export", "training", "MODEL_CARD.md")
MAX_DEMO_MB = 20  # the only binaries the repository ships are demo checkpoints of at most 20 MB


def test_the_registry_holds_the_seed_trackers() -> None:
    assert {"siammask", "oceanplus", "rts"} <= set(NAMES)  # a parametrisation over nothing passes nothing


@pytest.mark.parametrize("name", NAMES)
def test_a_tracker_is_one_folder(name: str) -> None:
    folder = registry.get(name).folder()
    assert folder.name == name and folder.parent.name == "trackers"
    missing = [f for f in FOLDER_FILES if not (folder / f).exists()]
    assert not missing, f"trackers/{name} lacks {missing}"


@pytest.mark.parametrize("name", NAMES)
def test_the_spec_names_graphs_tensors_presets_and_budgets(name: str) -> None:
    spec = registry.spec(name)
    assert spec.name == name and spec.graphs and spec.default_preset in spec.presets
    assert len(set(spec.graph_names)) == len(spec.graph_names)
    for graph in spec.graphs:
        tensors = (*graph.inputs, *graph.outputs)
        assert graph.inputs and graph.outputs and len(set(tensors)) == len(tensors), graph.name
    precisions = {b.precision for b in spec.budgets if b.level == ACCURACY}
    assert {"fp16", "int8"} <= precisions, "every tracker states its precision verdict budgets"
    assert all(b.why for b in spec.budgets), "every budget says why"


@pytest.mark.parametrize("name", NAMES)
def test_the_runtime_tracker_has_the_base_and_init_track(name: str) -> None:
    runtime = registry.get(name).load_runtime()
    assert issubclass(runtime, TrackerBase)
    assert runtime.init is not TrackerBase.init and runtime.track is not TrackerBase.track


@pytest.mark.parametrize("name", NAMES)
def test_the_demo_weights_are_shipped_and_small(name: str) -> None:
    spec = registry.spec(name)
    assert spec.demo_weights, f"{name} names no demo checkpoint"
    path = registry.get(name).folder() / spec.demo_weights
    assert path.is_file() and path.stat().st_size <= MAX_DEMO_MB * 1024 * 1024


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="the export side needs torch")
@pytest.mark.parametrize("name", NAMES)
def test_the_export_and_training_sides_resolve(name: str) -> None:
    entry = registry.get(name)
    assert entry.load_export() is not None
    assert callable(entry.load_train())
