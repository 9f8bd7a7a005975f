"""What every runtime tracker is: `init` and `track` with the state passed in and out, plus the
optional parts with their defaults, so shared code calls them instead of probing for them.

A tracker keeps constants only (its runner, preset, ops, timer); its per-target state is a value
returned by `init` and by every `track`, never kept on the tracker. That is what lets one tracker
serve many targets, the frame-level parity step from the reference's state, and the service
hold thousands of streams.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from masktrt.errors import MasktrtError

Box = tuple[float, float, float, float]


class TrackerBase:
    """Subclass it and implement `init` and `track`; override the rest where the tracker can."""

    config: Any  # the preset the tracker runs with (its spec's TrackerConfig)

    def init(self, frame: np.ndarray, box_xywh: Box | None, mask: np.ndarray | None = None) -> Any:
        raise NotImplementedError

    def track(self, frame: np.ndarray, state: Any) -> tuple[Any, Any]:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the tracker itself allocated (its pixel ops' device memory); the
        runner belongs to whoever opened it (runtime.session)."""

    def initial_result(self, state: Any) -> Any:
        """The init frame's result (None: the tracker has no output for its init frame)."""
        return None

    def calibration_feeds(self, frame: np.ndarray, state: Any) -> dict[str, dict]:
        """Graph inputs beyond the ones tracking runs, for INT8 calibration (default: none)."""
        return {}

    def frame_state(self, reference: Any, own: Any) -> Any:
        """For frame-level parity: the reference's state carrying this tracker's own per-target
        values (its kernels, templates, learned filters)."""
        raise MasktrtError(f"{type(self).__name__} cannot run frame-level parity",
                           "give the tracker a frame_state(reference_state, own_state) method, "
                           "or check the closed loop (--level closed-loop)")
