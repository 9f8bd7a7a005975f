"""A toy second tracker, defined entirely outside masktrt's shared code.

It exists to prove the registry: a spec (two graphs), a NumPy runtime tracker and a torch export
side, registered by name, then exported, run in ONNX Runtime, tracked through the sequence loop
and checked by closed-loop parity with no change to shared code. The "network" is a few torch
layers with fixed brightness filters: `embed` (once per target) averages the template patch into
a 4-vector code; `locate` (every frame) correlates that code with pooled window features into a
16x16 heat map whose peak is the bright target.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Mapping

import numpy as np

from masktrt.budgets import Budget
from masktrt.runtime.crop import crop_subwindow
from masktrt.runtime.mask import box_polygon
from masktrt.runtime.trackers.base import TrackerBase
from masktrt.runtime.trackers.checks import check_box, check_frame
from masktrt.specs.base import PER_FRAME, PER_TARGET, GraphDecl, Preprocessing, TrackerSpec
from masktrt.types import FrameResult

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


@dataclass
class ToyState:
    center: np.ndarray
    size: np.ndarray
    avg_chans: np.ndarray
    code: Any


class ToyTracker(TrackerBase):
    """init/track over any GraphRunner, state passed in and out."""

    def __init__(self, runner: Any, config: ToyPreset, **_: Any) -> None:
        self.runner, self.config = runner, config

    def init(self, frame: np.ndarray, box_xywh: tuple[float, float, float, float]) -> ToyState:
        check_frame(frame)
        check_box(box_xywh, frame.shape[:2])
        x, y, w, h = (float(v) for v in box_xywh)
        center, size = np.array([x + w / 2, y + h / 2]), np.array([w, h])
        avg = frame.reshape(-1, 3).mean(axis=0, dtype=np.float64)
        patch = crop_subwindow(frame, center, PATCH, round(max(w, h)), avg)
        code = self.runner.run("embed", {"patch": patch}, keep_on_device=("code",))["code"]
        return ToyState(center, size, avg, code)

    def initial_result(self, state: ToyState) -> FrameResult:
        box = (state.center[0], state.center[1], state.size[0], state.size[1])
        return FrameResult(center=state.center.copy(), size=state.size.copy(),
                           polygon=box_polygon(box), score=1.0, lost=False)

    def track(self, frame: np.ndarray, state: ToyState) -> tuple[ToyState, FrameResult]:
        check_frame(frame)
        side = round(self.config.context * float(state.size.max()))
        window = crop_subwindow(frame, state.center, WINDOW, side, state.avg_chans)
        heat = self.runner.run("locate", {"window": window, "code": state.code})["heat"]
        offset = _bright_centroid(heat.reshape(HEAT_SIDE, HEAT_SIDE)) / HEAT_SIDE - 0.5
        center = state.center + offset * side
        score = float(np.max(heat))
        new = ToyState(center, state.size, state.avg_chans, state.code)
        cxcywh = (center[0], center[1], state.size[0], state.size[1])
        return new, FrameResult(center=center.copy(), size=state.size.copy(),
                                polygon=box_polygon(cxcywh), score=score,
                                lost=score < self.config.lost_score)


def _bright_centroid(heat: np.ndarray) -> np.ndarray:
    """(x, y) in cells of the centre of the cells above half the map's range."""
    hot = heat >= (heat.max() + heat.min()) / 2
    rows, cols = np.nonzero(hot)
    return np.array([cols.mean(), rows.mean()]) + 0.5


class ToyExport:
    """The torch side: a few layers, graph modules, their reference run."""

    spec = SPEC

    def load_model(self, checkpoint: Any, seed: int = 0, width: float = 1.0, pairs: Any = None):
        import torch

        torch.manual_seed(seed)
        return _model().eval(), {"kind": "random", "seed": int(seed), "sha256": f"random:{seed}"}

    def model_record(self, model: Any) -> dict:
        return {"name": "toyblob", "width": 1.0}

    def check_options(self, options: Mapping[str, Any]) -> None:
        pass

    def trace_setup(self, model: Any, options: Mapping[str, Any]):
        rng = np.random.default_rng(0)
        patch = rng.uniform(0, 255, (1, 3, PATCH, PATCH)).astype(np.float32)
        window = rng.uniform(0, 255, (1, 3, WINDOW, WINDOW)).astype(np.float32)
        import torch

        code = model.embed(torch.from_numpy(patch)).numpy()
        return ({"embed": _Entry(model, "embed"), "locate": _Entry(model, "locate")},
                {"embed": {"patch": patch}, "locate": {"window": window, "code": code}})

    def run_graph(self, model: Any, graph: str, feeds: Mapping[str, Any],
                  options: Mapping[str, Any] | None = None) -> dict:
        inputs, outputs = SPEC.io_names(graph)
        return {outputs[0]: getattr(model, graph)(*(feeds[n] for n in inputs))}


def _model():
    import torch
    from torch import nn

    class ToyBlob(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = nn.Conv2d(3, CODE, 3, padding=1)
            self.pool = nn.AvgPool2d(WINDOW // HEAT_SIDE)
            with torch.no_grad():  # brightness filters plus a little seeded noise
                self.features.weight.copy_(1 / 27 + 0.01 * torch.randn_like(self.features.weight))
                self.features.bias.zero_()

        def embed(self, patch):
            return self.features(patch / 255).mean(dim=(2, 3))

        def locate(self, window, code):
            heat = self.pool(self.features(window / 255)) * code[:, :, None, None]
            return heat.sum(dim=1, keepdim=True)

    return ToyBlob()


def _entry_class():
    from torch import nn

    class Entry(nn.Module):
        def __init__(self, model, graph: str) -> None:
            super().__init__()
            self.model, self.graph = model, graph

        def forward(self, *args):
            return getattr(self.model, self.graph)(*args)

    return Entry


def _Entry(model, graph):
    return _entry_class()(model, graph)


EXPORT = ToyExport()


# The same tracker with `locate` declared as one of a group of alternative graphs (runners then
# open it on first use): for the runner tests of GraphDecl.group.
GROUPED_SPEC = replace(SPEC, graphs=(SPEC.graphs[0], replace(SPEC.graphs[1], group="locate")))
