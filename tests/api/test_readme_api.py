"""The Python API example of docs/api.md runs as written, with torch and onnx unimportable.

The example's code block is cut from docs/api.md (between the markers below), not copied here, so
the page cannot drift from what works. The graphs it opens are exported beforehand (that part
needs torch) into `out/onnx` of a scratch folder, with frames of a moving bright box.
"""
from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("torch")
from tests.helpers.fake_numpy_runners import synthetic_sequence  # noqa: E402
from tests.helpers.export_helpers import export_small, small_model  # noqa: E402

API_DOC = Path(__file__).parents[2] / "docs" / "api.md"
BLOCK = re.compile(r"<!-- api-example -->\s*```python\n(.*?)```", re.S)
BLOCKER = textwrap.dedent("""
    import sys
    class Block:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {"torch", "onnx", "torchvision"}:
                raise ImportError(f"{name} is blocked in this test")
            return None
    sys.meta_path.insert(0, Block())
""")


def readme_example() -> str:
    found = BLOCK.findall(API_DOC.read_text())
    assert len(found) == 1, "docs/api.md must hold one <!-- api-example --> python block"
    return found[0]


def test_readme_api_example_runs_without_torch(tmp_path) -> None:
    export_small(small_model(), tmp_path / "out" / "onnx")
    (tmp_path / "frames").mkdir()
    frames, _ = synthetic_sequence(8, start=(60.0, 80.0), size=(40, 30))
    for i, frame in enumerate(frames):
        cv2.imwrite(str(tmp_path / "frames" / f"{i:05d}.jpg"), frame)
    check = "\nassert 'torch' not in sys.modules and 'onnx' not in sys.modules\nprint('api ok')\n"
    proc = subprocess.run([sys.executable, "-c", BLOCKER + readme_example() + check],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    assert lines[-1] == "api ok" and len(lines) >= len(frames)  # one line per tracked frame


class Counting:
    """A runner or ops stand-in that counts close() calls."""

    def __init__(self) -> None:
        self.closed = 0

    def close(self) -> None:
        self.closed += 1


def test_the_handle_closes_ops_and_runner_exactly_once() -> None:
    from masktrt.api import Tracker
    from masktrt.runtime.gpu_ops import HostOps
    from masktrt.trackers.siammask.tracker import SiamMaskTracker
    from masktrt.trackers.siammask.spec import preset

    runner, ops = Counting(), Counting()
    core = SiamMaskTracker(runner, preset("davis"))
    core.ops = ops  # as if choose_ops had picked GPU ops with scratch memory
    with Tracker(runner, core, "siammask"):
        pass
    assert (runner.closed, ops.closed) == (1, 1)
    given = Counting()
    SiamMaskTracker(runner, preset("davis"), ops=given).close()
    assert given.closed == 0  # ops passed in belong to the caller
    assert isinstance(SiamMaskTracker(runner, preset("davis")).ops, HostOps)
