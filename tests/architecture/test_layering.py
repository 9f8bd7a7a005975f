"""The dependency rules of ARCHITECTURE.md, checked on the source (lazy imports included).

Imports flow one way: commands/api/cli -> trackers -> (training, calibration, benchmarks) ->
(export, engines) -> runtime -> kernels -> masktrt core. No module imports another that (through
any chain) imports it back, and runtime/, engines/, kernels/ never name torch or onnx.

A tracker is one folder (trackers/<name>): no module outside it imports it (the registry reaches
it by name, lazily), no tracker imports another, and its runtime side (everything but export/
and training/) never names torch or onnx.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = {"masktrt": "masktrt", "kernels": "masktrt.kernels", "runtime": "masktrt.runtime",
           "export": "masktrt.export", "engines": "masktrt.engines",
           "benchmarks": "masktrt.benchmarks", "calibration": "masktrt.calibration",
           "training": "masktrt.training", "trackers": "masktrt.trackers"}
RANK = {"core": 0, "kernels": 1, "runtime": 2, "export": 3, "engines": 3, "benchmarks": 4,
        "calibration": 4, "training": 4, "trackers": 5, "top": 6}
TOP = ("masktrt.api", "masktrt.cli", "masktrt.commands", "masktrt.soak")  # soak drives the API;
# and the package itself: its
# `masktrt.open_tracker` attribute is the API
LEAN = ("kernels", "runtime", "engines")
HEAVY = ("torch", "onnx", "onnxslim", "torchvision")
TRACKERS = "masktrt.trackers."
TORCH_SIDES = ("export", "training")  # a tracker's sub-packages that may need torch


def modules() -> dict[str, Path]:
    found = {}
    for folder, package in FOLDERS.items():
        for path in (ROOT / folder).rglob("*.py"):
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            parts = parts[:-1] if parts[-1] == "__init__" else parts
            found[".".join((package,) + parts)] = path
    return found


def layer(module: str) -> str:
    if module == "masktrt" or module.startswith(TOP):
        return "top"
    for folder, package in FOLDERS.items():
        if folder != "masktrt" and (module == package or module.startswith(package + ".")):
            return folder
    return "core"


def imports(path: Path, known: dict[str, Path] | None = None) -> set[str]:
    """Every module a file imports; `from pkg import mod` counts mod, not pkg, when mod is one
    of the `known` modules (what Python runs first is pkg/__init__, which is never heavy here)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            subs = {f"{node.module}.{a.name}" for a in node.names}
            names |= subs if known and subs & set(known) else {node.module}
    return names


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {m: {n for n in imports(p, mods) if n in mods and n != m} for m, p in mods.items()}


def test_imports_flow_one_way() -> None:
    bad = sorted(f"{m} -> {n}" for m, deps in graph().items() for n in deps
                 if RANK[layer(n)] > RANK[layer(m)])
    assert not bad, bad


def test_same_layer_packages_do_not_depend_on_each_other_both_ways() -> None:
    edges = {(layer(m), layer(n)) for m, deps in graph().items() for n in deps}
    both = sorted((a, b) for a, b in edges if a < b and (b, a) in edges)
    assert not both, both


def test_no_module_import_cycles() -> None:
    deps, cycles = graph(), []

    def visit(node: str, path: list[str], on_path: set[str], done: set[str]) -> None:
        for nxt in sorted(deps[node]):
            if nxt in on_path:
                cycles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in done:
                visit(nxt, path + [nxt], on_path | {nxt}, done)
        done.add(node)

    done: set[str] = set()
    for start in sorted(deps):
        if start not in done:
            visit(start, [start], {start}, done)
    assert not cycles, cycles[:5]


@pytest.mark.parametrize("folder", LEAN)
def test_lean_packages_never_name_torch_or_onnx(folder: str) -> None:
    bad = sorted(f"{p.relative_to(ROOT)}: {n}" for p in (ROOT / folder).rglob("*.py")
                 for n in imports(p) if n.split(".")[0] in HEAVY)
    assert not bad, bad


def test_a_violation_is_seen() -> None:
    """The checks can fail: kernels importing runtime would be reported."""
    assert RANK[layer("masktrt.runtime.crop")] > RANK[layer("masktrt.kernels.launch")]
    assert layer("masktrt.commands.track") == "top" and layer("masktrt.registry") == "core"


def tracker_of(module: str) -> str | None:
    """The tracker package a module belongs to (`masktrt.trackers.<name>...` -> name), else None."""
    if not module.startswith(TRACKERS):
        return None
    name = module[len(TRACKERS):].split(".")[0]
    return name if (ROOT / "trackers" / name).is_dir() else None


def test_every_tracker_is_a_folder_and_is_seen() -> None:
    """A comparison of zero trackers would pass every check below: there must be some."""
    from masktrt import registry

    found = {tracker_of(m) for m in modules()} - {None}
    assert found and found >= set(registry.names()), (found, registry.names())


def test_no_shared_module_imports_a_tracker() -> None:
    bad = sorted(f"{m} -> {n}" for m, deps in graph().items() for n in deps
                 if tracker_of(m) is None and tracker_of(n) is not None)
    assert not bad, bad


def test_no_tracker_imports_another() -> None:
    bad = sorted(f"{m} -> {n}" for m, deps in graph().items() for n in deps
                 if None is not tracker_of(m) != tracker_of(n) is not None)
    assert not bad, bad


def test_a_trackers_runtime_side_never_names_torch_or_onnx() -> None:
    paths = [p for p in (ROOT / "trackers").rglob("*.py")
             if p.relative_to(ROOT / "trackers").parts[1:2] not in [(side,) for side in TORCH_SIDES]]
    assert any(p.name == "tracker.py" for p in paths)
    bad = sorted(f"{p.relative_to(ROOT)}: {n}" for p in paths
                 for n in imports(p) if n.split(".")[0] in HEAVY)
    assert not bad, bad


def test_a_tracker_violation_is_seen() -> None:
    """The tracker checks can fail: a shared module or another tracker naming one is caught."""
    assert tracker_of("masktrt.trackers.siammask.spec") == "siammask"
    assert tracker_of("masktrt.runtime.crop") is None
    assert RANK[layer("masktrt.trackers.rts.tracker")] > RANK[layer("masktrt.training.loop")]
