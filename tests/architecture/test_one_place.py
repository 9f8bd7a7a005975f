"""Runners and trackers are made in one place (runtime/session.py over runtime/backends), and
the words settle: a backend is a name, a runner is what it opens.

Checked on the source: outside the session and the backends' own modules nothing calls
`make_tracker` or a runner class's constructor, and the retired names are gone.
"""
from __future__ import annotations

import ast
from pathlib import Path

from tests.architecture.test_layering import FOLDERS, ROOT

SESSION = ROOT / "runtime" / "session.py"
RUNNER_CLASSES = {"TorchRunner", "OnnxRuntimeRunner", "TensorRTRunner"}
# the modules that define a runner class (and their factory) may construct it
DEFINERS = {ROOT / "export" / "torch_backend.py", ROOT / "runtime" / "backends" / "onnxruntime.py",
            ROOT / "runtime" / "backends" / "tensorrt.py"}
RETIRED = ("get_backend", "create_backend", "TensorRTBackend", "OnnxRuntimeBackend")


def sources() -> list[Path]:
    return [p for folder in FOLDERS for p in (ROOT / folder).rglob("*.py")] + \
        list((ROOT / "scripts").rglob("*.py"))


def calls(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            func = node.func
            names.add(func.id if isinstance(func, ast.Name) else getattr(func, "attr", ""))
    return names


def offenders() -> list[str]:
    found = []
    for path in sources():
        made = calls(path)
        if "make_tracker" in made and path != SESSION:
            found.append(f"{path.relative_to(ROOT)} calls make_tracker (use runtime.session.bind)")
        if made & RUNNER_CLASSES and path not in DEFINERS:
            found.append(f"{path.relative_to(ROOT)} constructs {sorted(made & RUNNER_CLASSES)} "
                         "(use runtime.backends.open_runner)")
    return found


def test_trackers_and_runners_are_made_in_one_place() -> None:
    assert offenders() == []


def test_the_check_sees_a_tracker_made_elsewhere(tmp_path) -> None:
    sample = tmp_path / "x.py"
    sample.write_text("from masktrt.runtime.trackers import make_tracker\nmake_tracker('siammask', r)\n"
                      "TorchRunner(model)\n")
    assert calls(sample) >= {"make_tracker", "TorchRunner"}


def test_the_retired_names_are_gone() -> None:
    texts = {p: p.read_text() for p in sources() + list((ROOT / "docs").rglob("*.md"))
             + [ROOT / "README.md"]}
    assert [f"{p.relative_to(ROOT)}: {n}" for p, t in texts.items() for n in RETIRED if n in t] == []
