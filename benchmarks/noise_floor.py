"""The closed loop's noise floor: how far the FP32 reference moves from itself.

A tracker's closed loop feeds each frame's output into the next crop, so a difference the size
of float rounding can send it down another trajectory (the RTS work found a 3e-6 relative
perturbation of one filter enough). A backend's accuracy drop over whole trajectories means
something only next to that spread: K runs of the reference whose every float output is
multiplied by (1 + eps N(0, 1)), eps the rounding size of the precision judged (FP32: 3e-6, how
far ONNX Runtime's FP32 outputs are from PyTorch's; FP16: 2^-11, its unit roundoff; INT8: 2^-8,
one quantisation step of a full-range tensor), each scored against the ground truth like the
backend. The floor of a metric is the largest |mean drop| of those runs; `masktrt parity
--level closed-loop` prints it beside every row. The verdict itself is the teacher-forced accuracy level (benchmarks/accuracy.py).
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from masktrt.benchmarks.parity import GT_METRICS, accuracy_drops, run_trajectory
from masktrt.runtime.sequences import Sequence

EPS = {"fp32": 3e-6, "fp16": 2.0 ** -11, "int8": 2.0 ** -8}  # relative perturbation, by precision
RUNS = 2  # perturbed reference runs per sequence (`--noise-runs`)


class PerturbedRunner:
    """A runner whose float host outputs are scaled by (1 + eps N(0, 1)), from its own seeded
    generator; everything else (attributes, device outputs) is the wrapped runner's."""

    def __init__(self, runner: Any, eps: float, seed: int) -> None:
        self.runner, self.eps = runner, eps
        self.rng = np.random.default_rng(seed)

    def run(self, graph: str, feeds: Mapping[str, Any], keep_on_device: Any = ()) -> dict[str, Any]:
        out = self.runner.run(graph, feeds, keep_on_device)
        return {name: self.perturbed(value) for name, value in out.items()}

    def perturbed(self, value: Any) -> Any:
        if not isinstance(value, np.ndarray) or value.dtype.kind != "f":
            return value
        noise = self.rng.standard_normal(value.shape)
        return (value * (1.0 + self.eps * noise)).astype(value.dtype)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.runner, name)


def noise_floor(reference: Any, seq: Sequence, config: Any, tracker: str, results: list[Any],
                runs: int = RUNS, eps: float = EPS["fp32"]) -> dict[str, float]:
    """Per ground-truth drop metric, the largest |mean drop| of `runs` perturbed reference runs
    against the reference's own `results` (empty without ground truth or with runs = 0)."""
    floor: dict[str, float] = {}
    for seed in range(runs):
        perturbed = run_trajectory(PerturbedRunner(reference, eps, seed), seq, config,
                                   frames=len(results), tracker=tracker)
        drops = accuracy_drops(seq, list(zip(results[1:], perturbed[1:])))
        for metric in GT_METRICS:
            if metric in drops and drops[metric].size:
                floor[metric] = max(floor.get(metric, 0.0), abs(float(drops[metric].mean())))
    return floor
