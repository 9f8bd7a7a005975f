"""The runtime must work on a machine without torch or onnx (a Jetson with only TensorRT).

A subprocess installs an import hook that makes torch and onnx unimportable, imports every module
of masktrt.runtime and masktrt.kernels and every tracker's runtime side (its folder but export/
and training/), and tracks a synthetic sequence with the NumPy oracle backend.
"""
import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent("""
    import importlib, pkgutil, sys

    BLOCKED = {"torch", "onnx", "torchvision"}

    class Block:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"{name} is blocked in this test")
            return None

    sys.meta_path.insert(0, Block())
    try:
        import torch  # noqa: F401
        raise SystemExit("the import hook does not work")
    except ImportError:
        pass

    import masktrt.kernels
    import masktrt.runtime
    import masktrt.trackers

    TORCH_SIDES = {"export", "training"}  # a tracker's sub-packages that need torch

    def torch_side(name):
        return bool(TORCH_SIDES & set(name.split(".")[3:]))

    def failed(name):
        if not torch_side(name):
            raise SystemExit(f"importing {name} failed")

    names = [m.name for package in (masktrt.runtime, masktrt.kernels, masktrt.trackers)
             for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".",
                                            onerror=failed) if not torch_side(m.name)]
    for name in names:
        importlib.import_module(name)
    leaked = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
    assert not leaked, leaked

    sys.path.insert(0, sys.argv[1])
    import numpy as np
    from tests.helpers.fake_numpy_runners import OracleRunner, synthetic_sequence
    from masktrt.trackers.siammask.spec import preset
    from masktrt.trackers.siammask.tracker import SiamMaskTracker

    frames, boxes = synthetic_sequence(6)
    tracker = SiamMaskTracker(OracleRunner(), preset("davis"))
    state = tracker.init(frames[0], boxes[0])
    for frame, box in zip(frames[1:], boxes[1:]):
        state, result = tracker.track(frame, state)
        assert np.abs(result.xywh - np.array(box)).max() < 1.5, (result.xywh, box)
    assert "torch" not in sys.modules and "onnx" not in sys.modules
    print("modules", len(names), "ok", ",".join(names))
""")


def test_runtime_imports_and_tracks_without_torch_or_onnx():
    root = Path(__file__).parents[2]  # the repository root: tests.helpers imports from there
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(root)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-1000:]
    line = proc.stdout.strip().splitlines()[-1]
    assert line.startswith("modules") and " ok " in line
    names = line.split(" ok ")[1].split(",")
    for expected in ("masktrt.trackers.siammask.tracker", "masktrt.trackers.oceanplus.tracker",
                     "masktrt.trackers.rts.tracker", "masktrt.trackers.rts.spec", "masktrt.runtime.contract", "masktrt.runtime.mask", "masktrt.runtime.video",
                     "masktrt.trackers.siammask.anchors", "masktrt.runtime.window", "masktrt.runtime.crop",
                     "masktrt.runtime.backends.onnxruntime", "masktrt.kernels.loader",
                     "masktrt.kernels.launch"):
        assert expected in names
