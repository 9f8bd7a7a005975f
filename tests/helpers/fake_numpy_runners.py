"""Pure-NumPy stand-ins for SiamMask's graphs, so tracker logic is tested without torch.

Each fake writes SiamMask's three steps (template, search, refine) as methods, and StepRunner
adapts them to the GraphRunner contract the tracker calls (`run(graph, feeds, keep_on_device)`).

FixedRunner returns crafted maps (hand-checkable selection and update maths).
OracleRunner "sees" the target as the bright pixels of the crop and answers as a perfect
network would: it exercises the crop -> decode -> update -> paste-back geometry end to end.
"""
from __future__ import annotations

import numpy as np

from dataclasses import dataclass
from typing import Any

from masktrt.trackers.siammask.anchors import generate_anchors
from masktrt.runtime.backends.base import RunnerBase
from masktrt.trackers.siammask.spec import (ANCHOR_NUM, BASE_SIZE, EXEMPLAR_SIZE, INSTANCE_SIZE,
                                    MASK_OUT_SIZE, SCORE_SIZE, TOTAL_STRIDE)

from masktrt.trackers.siammask.spec import FEATURES, KERNELS, MASK, POS

GRID = (SCORE_SIZE, SCORE_SIZE)


@dataclass
class SearchOutput:
    """What a fake's search step returns: host score maps and opaque features."""

    cls: np.ndarray
    loc: np.ndarray
    features: Any


class StepRunner(RunnerBase):
    """The GraphRunner contract over a fake's template/search/refine methods."""

    def run(self, graph: str, feeds: dict, keep_on_device=()) -> dict:
        return getattr(self, f"_run_{graph}")(feeds)

    def _run_template(self, feeds: dict) -> dict:
        kernels = self.template(feeds["z"])
        return {name: kernels for name in KERNELS}

    def _run_search(self, feeds: dict) -> dict:
        assert all(feeds[n] is feeds[KERNELS[0]] for n in KERNELS)
        out = self.search(feeds["x"], feeds[KERNELS[0]])
        return {"cls": out.cls, "loc": out.loc, **{name: out.features for name in FEATURES}}

    def _run_refine(self, feeds: dict) -> dict:
        assert feeds[POS].dtype == np.int64 and all(feeds[n] is feeds[FEATURES[0]] for n in FEATURES)
        logits = self.refine(feeds[FEATURES[0]], tuple(int(v) for v in feeds[POS]))
        return {MASK: logits.reshape(1, 1, MASK_OUT_SIZE, MASK_OUT_SIZE)}


class FixedRunner(StepRunner):
    """Returns the same cls/loc/logits every frame and records what the tracker passed in."""

    name = "fixed"

    def __init__(self, cls: np.ndarray, loc: np.ndarray, logits: np.ndarray) -> None:
        self.cls, self.loc, self.logits = cls, loc, logits
        self.templates: list[np.ndarray] = []
        self.searches: list[np.ndarray] = []
        self.refined: list[tuple[int, int]] = []

    def template(self, z: np.ndarray) -> str:
        self.templates.append(z)
        return "kernels"

    def search(self, x: np.ndarray, kernels: str) -> SearchOutput:
        assert kernels == "kernels"
        self.searches.append(x)
        return SearchOutput(self.cls.copy(), self.loc.copy(), features="features")

    def refine(self, features: str, pos: tuple[int, int]) -> np.ndarray:
        assert features == "features"
        self.refined.append(pos)
        return self.logits.copy()


def crafted_maps(fg: dict[tuple[int, int, int], float], loc_at: dict[tuple[int, int, int], tuple],
                 base_fg: float = -4.0) -> tuple[np.ndarray, np.ndarray]:
    """cls 1x10x25x25 (bg logit 0, fg logit base_fg except at given (a,row,col)) and loc 1x20x25x25."""
    cls = np.zeros((1, 2 * ANCHOR_NUM) + GRID, np.float32)
    cls[0, ANCHOR_NUM:] = base_fg
    for (a, r, c), v in fg.items():
        cls[0, ANCHOR_NUM + a, r, c] = v
    loc = np.zeros((1, 4 * ANCHOR_NUM) + GRID, np.float32)
    for (a, r, c), d in loc_at.items():
        for k in range(4):
            loc[0, k * ANCHOR_NUM + a, r, c] = d[k]
    return cls, loc


class OracleRunner(StepRunner):
    """A 'perfect network' for bright targets (grey > 128) on a dark background."""

    name = "oracle"

    def __init__(self) -> None:
        self.anchors = generate_anchors()

    def template(self, z: np.ndarray) -> tuple:
        assert z.shape == (1, 3, EXEMPLAR_SIZE, EXEMPLAR_SIZE) and z.dtype == np.float32
        return ("oracle-kernels",)

    def search(self, x: np.ndarray, kernels: tuple) -> SearchOutput:
        assert x.shape == (1, 3, INSTANCE_SIZE, INSTANCE_SIZE) and x.dtype == np.float32
        bright = x[0].mean(axis=0) > 128
        cls = np.zeros((1, 2 * ANCHOR_NUM) + GRID, np.float32)
        loc = np.zeros((1, 4 * ANCHOR_NUM) + GRID, np.float32)
        ys, xs = np.nonzero(bright)
        if len(xs) == 0:
            cls[0, ANCHOR_NUM:] = -6.0  # nothing there: every candidate is background
            return SearchOutput(cls, loc, bright)
        centre = (INSTANCE_SIZE - 1) / 2
        off = np.array([(xs.min() + xs.max()) / 2 - centre, (ys.min() + ys.max()) / 2 - centre])
        wh = np.array([xs.max() - xs.min() + 1, ys.max() - ys.min() + 1], np.float64)
        a = self.anchors
        d = np.stack([(off[0] - a[:, 0]) / a[:, 2], (off[1] - a[:, 1]) / a[:, 3],
                      np.log(wh[0] / a[:, 2]), np.log(wh[1] / a[:, 3])]).astype(np.float32)
        loc[0] = d.reshape(4, ANCHOR_NUM, *GRID).reshape(4 * ANCHOR_NUM, *GRID)
        near = np.hypot(a[:, 0] - off[0], a[:, 1] - off[1]) <= TOTAL_STRIDE
        cls[0, ANCHOR_NUM:] = np.where(near, 6.0, -6.0).reshape(ANCHOR_NUM, *GRID)
        return SearchOutput(cls, loc, bright)

    def refine(self, bright: np.ndarray, pos: tuple[int, int]) -> np.ndarray:
        """+10 on bright crop pixels of the cell's 127x127 window, -10 elsewhere (and outside)."""
        row, col = pos
        y0 = (row - BASE_SIZE // 2) * TOTAL_STRIDE
        x0 = (col - BASE_SIZE // 2) * TOTAL_STRIDE
        out = np.full((MASK_OUT_SIZE, MASK_OUT_SIZE), -10.0, np.float32)
        ys0, xs0 = max(y0, 0), max(x0, 0)
        ys1, xs1 = min(y0 + MASK_OUT_SIZE, INSTANCE_SIZE), min(x0 + MASK_OUT_SIZE, INSTANCE_SIZE)
        window = bright[ys0:ys1, xs0:xs1]
        out[ys0 - y0:ys1 - y0, xs0 - x0:xs1 - x0] = np.where(window, 10.0, -10.0)
        return out


def synthetic_sequence(n: int, hw: tuple[int, int] = (240, 320), start=(60.0, 80.0),
                       size=(40, 30), step=(4.0, 2.0), seed: int = 0):
    """Frames with a white rectangle moving over dark noise; returns (frames, boxes_xywh)."""
    rng = np.random.default_rng(seed)
    frames, boxes = [], []
    for i in range(n):
        frame = rng.integers(0, 60, size=hw + (3,), dtype=np.uint8)
        x, y = int(round(start[0] + step[0] * i)), int(round(start[1] + step[1] * i))
        frame[y:y + size[1], x:x + size[0]] = 230
        frames.append(frame)
        boxes.append((x, y, size[0], size[1]))
    return frames, boxes
