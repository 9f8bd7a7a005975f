"""Where runners and trackers are made and closed: the one place that the CLI (track, demo,
vot), the Python API, the service, the benchmarks, parity, calibration and the held-out
evaluation all go through, so ownership is decided once.

Two words, one meaning each, everywhere in masktrt:
- a **backend** is an inference library, by name: "torch", "onnxruntime" or "tensorrt"
  (`runtime.backends.BACKENDS`);
- a **runner** is what a backend opens over one folder of graphs or engines (or one torch
  model): an object that runs the contract's graphs by name (`GraphRunner`); `open_runner`.
A *tracker* is the NumPy tracking logic over a runner (`init`/`track`, explicit state). A
`Tracker` handle holds one tracker, and closes it and, when the handle opened it, its runner.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from masktrt.errors import MasktrtError
from masktrt.runtime.backends import open_runner
from masktrt.runtime.backends.base import GraphRunner
from masktrt.types import FrameResult


class Tracker:
    """One tracker over one runner, with the state of one target for convenience (`init`,
    `track`); `core` is the explicit-state tracker for replay and many targets on one runner.
    Closing closes the tracker's pixel ops, then the runner if this handle owns it."""

    def __init__(self, runner: GraphRunner, core: Any, name: str, owns_runner: bool = True) -> None:
        self.runner, self.core, self.name = runner, core, name
        self.owns_runner = owns_runner
        self.state: Any = None

    @property
    def preset(self) -> Any:
        """The preset the tracker runs with (an object with a `name`)."""
        return self.core.config

    def init(self, frame: np.ndarray, box_xywh: tuple[float, float, float, float],
             mask: np.ndarray | None = None) -> FrameResult:
        """Start on `box_xywh` (top-left x, y, width, height in pixels) of `frame` (HxWx3 BGR);
        `mask` (HxW, nonzero = target) for trackers that start from one (OceanPlus)."""
        from masktrt.runtime.loop import init_call, initial_result

        self.state = init_call(self.core, frame, box_xywh, mask)()
        return initial_result(self.core, self.state, mask)

    def track(self, frame: np.ndarray) -> FrameResult:
        """The target in the next frame."""
        if self.state is None:
            raise MasktrtError("track() was called before init()",
                               "call tracker.init(first_frame, (x, y, w, h)) first")
        self.state, result = self.core.track(frame, self.state)
        return result

    def close(self) -> None:
        try:
            self.core.close()
        finally:
            if self.owns_runner:
                self.runner.close()

    def __enter__(self) -> "Tracker":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def agreed_tracker(given: str | None, explicit: bool, recorded: str | None, where: str) -> str:
    """The tracker to run: the one the graphs/engines record (`recorded`), which an explicit
    --tracker must name too; without a record, `given` (the registry's default when None)."""
    from masktrt import registry

    if recorded and explicit and given != recorded:
        raise MasktrtError(f"--tracker {given} but {where} holds {recorded} graphs",
                           f"drop --tracker, or pass --tracker {recorded}")
    return recorded or given or registry.DEFAULT_TRACKER


def bind(runner: GraphRunner, tracker: str | None = None, preset: Any = None, *,
         explicit: bool = False, owns_runner: bool = True, **tracker_options: Any) -> Tracker:
    """The tracker over `runner`: the tracker and preset the runner's contract records win
    unless asked for (`explicit` tracker must agree; `preset` an object, dict or name).
    `tracker_options` go to the tracker class (timer, ops). If making the tracker fails, an
    owned runner is closed before the error leaves."""
    from masktrt.runtime.trackers import make_tracker

    try:
        name = agreed_tracker(tracker, explicit, getattr(runner, "tracker", None), "the backend")
        chosen = preset if preset is not None else getattr(runner, "preset", None)
        return Tracker(runner, make_tracker(name, runner, chosen, **tracker_options), name,
                       owns_runner)
    except BaseException:
        if owns_runner:
            runner.close()
        raise


# backends whose runner is built for a named tracker from a model, not read from a contract
BUILT_FOR_A_TRACKER = ("torch",)


def open_tracker(backend: str, *, tracker: str | None = None, preset: Any = None,
                 explicit: bool = False, **runner_options: Any) -> Tracker:
    """Open `backend`'s runner with `runner_options` and bind its tracker; the handle owns both.
    A torch runner is built for `tracker` (the registry's default when None)."""
    if backend in BUILT_FOR_A_TRACKER and tracker is not None:
        runner_options = {**runner_options, "tracker": tracker}
    return bind(open_runner(backend, **runner_options), tracker, preset, explicit=explicit)
