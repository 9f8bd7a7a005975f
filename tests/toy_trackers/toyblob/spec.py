"""The toy tracker's declarations: two graphs, one preset, closed-loop budgets."""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from masktrt.budgets import Budget
from masktrt.specs.base import PER_FRAME, PER_TARGET, GraphDecl, Preprocessing, TrackerSpec

NAME = "toyblob"
PATCH, WINDOW, HEAT_SIDE, CODE = 32, 64, 16, 4


@dataclass(frozen=True)
class ToyPreset:
    name: str
    lost_score: float = 0.5
    context: float = 2.0  # window side / target side

    def to_dict(self) -> dict:
        return asdict(self)


_WHY = "FP32 graphs of fixed filters: ONNX Runtime and PyTorch differ by rounding only"
SPEC = TrackerSpec(
    name=NAME,
    summary="toy bright-blob tracker (test only): embed once, locate every frame",
    graphs=(GraphDecl("embed", ("patch",), ("code",), runs=PER_TARGET),
            GraphDecl("locate", ("window", "code"), ("heat",), runs=PER_FRAME)),
    presets={"default": ToyPreset("default")},
    default_preset="default",
    preprocessing=Preprocessing(sizes={"patch": PATCH, "window": WINDOW}),
    budgets=(Budget("toy-loop-box-mean", "closed-loop", "fp32", "box_iou_mean", 0.99, "min", _WHY),
             Budget("toy-loop-box-min", "closed-loop", "fp32", "box_iou_min", 0.95, "min", _WHY)),
)


# The same tracker with `locate` declared as one of a group of alternative graphs (runners then
# open it on first use): for the runner tests of GraphDecl.group.
GROUPED_SPEC = replace(SPEC, graphs=(SPEC.graphs[0], replace(SPEC.graphs[1], group="locate")))
