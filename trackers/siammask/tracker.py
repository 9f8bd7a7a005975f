"""The official SiamMask tracking procedure (spec §3.6-3.8) over any graph runner.

The tracker object holds only constants (anchors, window, config, runner); everything that
changes between frames lives in the TargetState that `init` returns and `track` takes and
returns. So one runner can serve many targets, and a run can be replayed from any frame. It
calls the contract's graphs by the names in masktrt.trackers.siammask.spec.

Number formats follow the official code where it matters for parity: scores and decoded boxes
in float32 (the network's outputs), penalties and the window-blended score in float64, target
position/size in float64, the crop's rounding half-to-even.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from masktrt.geometry import context_size
from masktrt.trackers.siammask.anchors import generate_anchors
from masktrt.runtime.crop import crop_subwindow
from masktrt.runtime.backends.base import GraphRunner
from masktrt.runtime.gpu_ops import FrameOps, choose_ops
from masktrt.runtime.trackers import batched
from masktrt.runtime.trackers.base import TrackerBase
from masktrt.runtime.trackers.checks import check_box, check_frame, check_same_size
# shared with the other trackers; re-exported here, where callers have always imported them
from masktrt.runtime.trackers.results import (StageTimer, initial_result, invalid_result,
                                              nonfinite, overflowed, untimed)
from masktrt.trackers.siammask.spec import (ANCHOR_NUM, EXEMPLAR_SIZE, FEATURES,
                                    INSTANCE_SIZE, KERNELS, MASK, MASK_OUT_SIZE, MIN_TARGET_SIZE,
                                    POS, REFINE, SCORE_SIZE, SEARCH, SEARCH_INPUT, TEMPLATE,
                                    TEMPLATE_INPUT, TrackerConfig)
from masktrt.runtime.window import cosine_window
from masktrt.types import FrameResult, TargetState


# ---------------------------------------------------------------- per-frame maths (§3.7)
def foreground_scores(cls: np.ndarray) -> np.ndarray:
    """(3125,) float32 foreground probability: softmax over (background, foreground) (§2.3, §3.7.7).

    cls is 1x10x25x25 with channels 0-4 background and 5-9 foreground of anchors 0-4, so
    reshaping to 2x3125 gives class x (anchor, row, column).
    """
    logits = np.asarray(cls, dtype=np.float32).reshape(2, -1)
    shifted = np.exp(logits - logits.max(axis=0, keepdims=True))
    return (shifted[1] / shifted.sum(axis=0)).astype(np.float32)


def decode_boxes(loc: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """4x3125 float32 (cx, cy, w, h) in 255-crop pixels relative to the crop centre (§3.7.8)."""
    delta = np.asarray(loc, dtype=np.float32).reshape(4, -1)
    boxes = np.empty_like(delta)
    boxes[0] = delta[0] * anchors[:, 2] + anchors[:, 0]
    boxes[1] = delta[1] * anchors[:, 3] + anchors[:, 1]
    with np.errstate(over="ignore"):
        boxes[2] = np.exp(delta[2]) * anchors[:, 2]
        boxes[3] = np.exp(delta[3]) * anchors[:, 3]
    return boxes


def foreground_scores_many(cls: np.ndarray) -> np.ndarray:
    """(N, 3125) float32: `foreground_scores` of N targets' Nx10x25x25 cls at once."""
    logits = np.asarray(cls, dtype=np.float32).reshape(len(cls), 2, -1)
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (shifted[:, 1] / shifted.sum(axis=1)).astype(np.float32)


def decode_boxes_many(loc: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """(N, 4, 3125) float32: `decode_boxes` of N targets' Nx20x25x25 loc at once."""
    delta = np.asarray(loc, dtype=np.float32).reshape(len(loc), 4, -1)
    boxes = np.empty_like(delta)
    boxes[:, 0] = delta[:, 0] * anchors[:, 2] + anchors[:, 0]
    boxes[:, 1] = delta[:, 1] * anchors[:, 3] + anchors[:, 1]
    with np.errstate(over="ignore"):
        boxes[:, 2] = np.exp(delta[:, 2]) * anchors[:, 2]
        boxes[:, 3] = np.exp(delta[:, 3]) * anchors[:, 3]
    return boxes


def _padded_size(w: np.ndarray | float, h: np.ndarray | float) -> np.ndarray:
    pad = (w + h) * 0.5
    return np.sqrt((w + pad) * (h + pad))


def _change(r: np.ndarray) -> np.ndarray:
    return np.maximum(r, 1.0 / r)


def size_penalty(boxes: np.ndarray, target_in_crop: np.ndarray, penalty_k: float) -> np.ndarray:
    """(3125,) float64 exp(-(r_c s_c - 1) k): discourages sudden scale and aspect changes (§3.7.9)."""
    w = boxes[2].astype(np.float64)
    h = boxes[3].astype(np.float64)
    tw, th = float(target_in_crop[0]), float(target_in_crop[1])
    # Untrained weights can decode boxes of size 0 or inf; the official NumPy code then yields
    # inf/nan penalties too. Keep those semantics (parity), without a warning per frame.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        s_c = _change(_padded_size(w, h) / float(_padded_size(tw, th)))
        r_c = _change((tw / th) / (w / h))
        return np.exp(-(r_c * s_c - 1.0) * penalty_k)


def size_penalty_many(boxes: np.ndarray, targets_in_crop: np.ndarray,
                      penalty_k: float) -> np.ndarray:
    """(N, 3125) float64: `size_penalty` of N targets (boxes Nx4x3125, targets Nx2) at once."""
    w = boxes[:, 2].astype(np.float64)
    h = boxes[:, 3].astype(np.float64)
    tw, th = targets_in_crop[:, 0:1].astype(np.float64), targets_in_crop[:, 1:2].astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        s_c = _change(_padded_size(w, h) / _padded_size(tw, th))
        r_c = _change((tw / th) / (w / h))
        return np.exp(-(r_c * s_c - 1.0) * penalty_k)


def blend_window(score: np.ndarray, penalty: np.ndarray, window: np.ndarray,
                 window_influence: float) -> np.ndarray:
    """(3125,) float64 pscore = penalty score (1 - wi) + window wi (§3.7.10)."""
    return penalty * score * (1.0 - window_influence) + window * window_influence


def cell_of(index: int) -> tuple[int, int, int]:
    """(anchor, row, column) of a flattened candidate index."""
    a, row, col = np.unravel_index(int(index), (ANCHOR_NUM, SCORE_SIZE, SCORE_SIZE))
    return int(a), int(row), int(col)


def clip_target(center: np.ndarray, size: np.ndarray,
                frame_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Keep the centre inside the frame and the size within [10, frame side] (§3.7.14)."""
    height, width = frame_hw
    cx = max(0.0, min(float(width), float(center[0])))
    cy = max(0.0, min(float(height), float(center[1])))
    w = max(MIN_TARGET_SIZE, min(float(width), float(size[0])))
    h = max(MIN_TARGET_SIZE, min(float(height), float(size[1])))
    return np.array([cx, cy]), np.array([w, h])


@dataclass(frozen=True, eq=False)
class Pick:
    """The selected candidate of one frame and the target it moves to (before clipping)."""

    cell: tuple[int, int, int]  # (anchor, row, column)
    score: float
    penalty: float
    pscore: float
    center: np.ndarray
    size: np.ndarray


@dataclass(frozen=True)
class SearchGeometry:
    """Where this frame's search crop comes from: the unrounded scale and the rounded crop box."""

    scale_x: float  # 127 / s (unrounded s): crop pixels per image pixel used for decoding
    crop_box: tuple[float, float, float, float]  # (x, y, side, side), side = round(s_x)

    @property
    def side(self) -> int:
        return int(self.crop_box[2])


def search_geometry(center: np.ndarray, size: np.ndarray) -> SearchGeometry:
    """Steps 1-4 of §3.7: scale from the unrounded context size, crop side rounded half-to-even."""
    s = context_size(size)
    scale_x = EXEMPLAR_SIZE / s
    s_x = s + 2 * ((INSTANCE_SIZE - EXEMPLAR_SIZE) / 2 / scale_x)
    side = round(s_x)
    cx, cy = float(center[0]), float(center[1])
    return SearchGeometry(scale_x, (cx - side / 2, cy - side / 2, float(side), float(side)))


# ---------------------------------------------------------------- the tracker
class SiamMaskTracker(TrackerBase):
    """SiamMask's tracking procedure; holds constants only, state is passed in and out.

    `timer(stage)` wraps each stage in a context manager, so a benchmark can time the stages
    inside the real loop instead of a re-implementation of it; by default it does nothing.
    `ops` does the pixel work (crop, refine call, paste-back, polygon): by default the CUDA
    kernels for a runner with device buffers, the official host functions otherwise
    (runtime.gpu_ops).
    """

    def __init__(self, runner: GraphRunner, config: TrackerConfig, timer: StageTimer | None = None,
                 ops: FrameOps | None = None) -> None:
        self.runner = runner
        self.config = config
        self.timer = timer or untimed
        self._owns_ops = ops is None  # ops it chose itself (GPU scratch memory) it closes
        self.ops = ops if ops is not None else choose_ops(runner)
        self.anchors = generate_anchors()
        self.window = cosine_window(SCORE_SIZE, ANCHOR_NUM)
        # a batched export's refine takes pos as Nx2 (a batch of one here), batch 1's as [2]
        self.batched = batched.runner_batched(runner)

    def close(self) -> None:
        """Free the pixel ops' device memory if this tracker created them; the runner belongs
        to whoever made it and is not closed here."""
        if self._owns_ops and callable(getattr(self.ops, "close", None)):
            self.ops.close()

    def init(self, frame: np.ndarray, box_xywh: tuple[float, float, float, float],
             mask: np.ndarray | None = None) -> TargetState:
        """Start tracking the target in box (x, y, w, h) of the first frame (§3.6).

        `mask` (a first-frame target mask) is accepted so every tracker has one init signature,
        and ignored: the official SiamMask initialises from the box alone. Stage names of the
        timer: crop, template, search, select, refine, post.
        """
        check_frame(frame)
        frame_hw = (int(frame.shape[0]), int(frame.shape[1]))
        check_box(box_xywh, frame_hw)
        x, y, w, h = (float(v) for v in box_xywh)
        center = np.array([x + w / 2, y + h / 2])
        size = np.array([w, h])
        avg_chans = frame.reshape(-1, 3).mean(axis=0, dtype=np.float64)
        s_z = round(context_size(size))
        with self.timer("crop"):
            z = self.ops.crop(frame, center, EXEMPLAR_SIZE, s_z, avg_chans, TEMPLATE)
        with self.timer("template"):
            kernels = self.runner.run(TEMPLATE, {TEMPLATE_INPUT: z}, keep_on_device=KERNELS)
        return TargetState(center=center, size=size, avg_chans=avg_chans, frame_hw=frame_hw,
                           kernels=kernels, score=1.0)

    def calibration_feeds(self, frame: np.ndarray, state: TargetState) -> dict[str, dict]:
        """INT8 calibration samples beyond the calls tracking makes: the exemplar crop `init`
        would cut at `state` (same rounding), so the template graph gets one per frame."""
        s_z = round(context_size(state.size))
        z = crop_subwindow(frame, state.center, EXEMPLAR_SIZE, s_z, state.avg_chans)
        return {TEMPLATE: {TEMPLATE_INPUT: z}}

    def initial_result(self, state: TargetState) -> FrameResult:
        """The init frame's output (the given box itself)."""
        return initial_result(state)

    def frame_state(self, reference: TargetState, own: TargetState) -> TargetState:
        """For frame-level parity: the reference's geometry with this tracker's own kernels, so
        one step compares networks, not accumulated drift."""
        return replace(reference, kernels=own.kernels)

    def track(self, frame: np.ndarray, state: TargetState) -> tuple[TargetState, FrameResult]:
        """One frame of §3.7: search, select, update, mask, polygon, then clip."""
        check_frame(frame)
        check_same_size(frame, state)
        geo = search_geometry(state.center, state.size)
        with self.timer("crop"):
            x = self.ops.crop(frame, state.center, INSTANCE_SIZE, geo.side, state.avg_chans, SEARCH)
        with self.timer("search"):
            out = self.runner.run(SEARCH, {SEARCH_INPUT: x, **state.kernels}, keep_on_device=FEATURES)
        bad = nonfinite(out, HOST_OUTPUTS)
        if bad:
            return state, invalid_result(state, bad)
        with self.timer("select"):
            score = foreground_scores(out["cls"])
            boxes = decode_boxes(out["loc"], self.anchors)
            penalty = size_penalty(boxes, state.size * geo.scale_x, self.config.penalty_k)
            pscore = blend_window(score, penalty, self.window, self.config.window_influence)
            best = int(np.argmax(pscore))
            pick = self._pick(state, geo, boxes[:, best], best, score[best], penalty[best],
                              pscore[best])
        with self.timer("refine"):
            pos = np.array([pick.cell[1:]], np.int64) if self.batched else pick.cell[1:]
            logits = self.ops.refine(self.runner, {n: out[n] for n in FEATURES}, pos)
        return self._finish(state, geo, pick, logits)

    # -- several targets in one call (runtime/trackers/batched.py) --------------------------------
    def track_many(self, frames: np.ndarray | Sequence[np.ndarray], states: Sequence[TargetState]
                   ) -> tuple[list[TargetState], list[FrameResult]]:
        """Track several targets, of one frame or each of its own (`frames` one frame, or one
        per state): exactly `[self.track(f, s) for f, s in zip(frames, states)]` (states and
        results in the order given), with one search and one refine call per BATCH_MAX targets
        on an export with batch=dynamic (sequential calls otherwise)."""
        return batched.track_many(self, frames, states)

    @staticmethod
    def batch_key(state: TargetState) -> str:
        """Every SiamMask target runs the one search graph."""
        return SEARCH

    def track_batch(self, frames: list[np.ndarray], states: list[TargetState]
                    ) -> list[tuple[TargetState, FrameResult]]:
        """One batched step: crops (each from its target's frame) cut in one pass, one search
        call, selection over all targets as arrays, one refine call, then each target's
        paste-back and polygon."""
        geos = [search_geometry(s.center, s.size) for s in states]
        with self.timer("crop"):
            x = batched.crop_batch(lambda k: self.ops.crop(
                frames[k], states[k].center, INSTANCE_SIZE, geos[k].side, states[k].avg_chans,
                SEARCH), len(states))
        kernels = {n: batched.stack([s.kernels[n] for s in states]) for n in KERNELS}
        with self.timer("search"):
            out = self.runner.run(SEARCH, {SEARCH_INPUT: x, **kernels}, keep_on_device=FEATURES)
        scores = {n: out[n] for n in HOST_OUTPUTS}  # host arrays; the features may be device values
        bad = [nonfinite(batched.row(scores, k), HOST_OUTPUTS) for k in range(len(states))]
        with self.timer("select"):
            picks = self._pick_many(states, geos, out["cls"], out["loc"])
        with self.timer("refine"):
            cells = [p.cell[1:] if not b else (0, 0) for p, b in zip(picks, bad)]
            feeds = {**{n: out[n] for n in FEATURES}, POS: np.array(cells, np.int64)}
            logits = batched.host(self.runner.run(REFINE, feeds)[MASK])
        return [(s, invalid_result(s, b)) if b else
                self._finish(s, g, p, logits[k].reshape(MASK_OUT_SIZE, MASK_OUT_SIZE))
                for k, (s, g, p, b) in enumerate(zip(states, geos, picks, bad))]

    def _pick_many(self, states: list[TargetState], geos: list[SearchGeometry], cls: np.ndarray,
                   loc: np.ndarray) -> list[Pick]:
        """§3.7.7-11 for N targets as arrays: the same numbers as `track`'s selection."""
        targets = np.array([s.size * g.scale_x for s, g in zip(states, geos)])
        score = foreground_scores_many(cls)
        boxes = decode_boxes_many(loc, self.anchors)
        penalty = size_penalty_many(boxes, targets, self.config.penalty_k)
        pscore = blend_window(score, penalty, self.window, self.config.window_influence)
        best = np.argmax(pscore, axis=1)
        return [self._pick(s, g, boxes[k, :, b], int(b), score[k, b], penalty[k, b], pscore[k, b])
                for k, (s, g, b) in enumerate(zip(states, geos, best))]

    # -- the steps `track` and `track_batch` share ------------------------------------------------
    def _pick(self, state: TargetState, geo: SearchGeometry, box: np.ndarray, best: int,
              score: float, penalty: float, pscore: float) -> Pick:
        """The chosen candidate and the target it moves to (§3.7.11)."""
        center, size = self._update(state, box, geo.scale_x, float(penalty) * float(score))
        return Pick(cell_of(best), float(score), float(penalty), float(pscore), center, size)

    def _finish(self, state: TargetState, geo: SearchGeometry, pick: Pick,
                logits: Any) -> tuple[TargetState, FrameResult]:
        """Mask, polygon, checks and clipping of one target's frame (§3.8, §3.7.14)."""
        anchor, row, col = pick.cell
        center, size = pick.center, pick.size
        with self.timer("post"):
            post = self.ops.postprocess(logits, geo.crop_box, (row, col), state.frame_hw,
                                        self.config.seg_thr, (center[0], center[1], size[0], size[1]))
        mask, prob, polygon, from_mask = post.mask, post.prob, post.polygon, post.from_mask
        decoded = {"box": np.concatenate([center, size]), "polygon": polygon}
        bad = nonfinite({"mask": logits}, ("mask",)) or overflowed(decoded, ("box", "polygon"))
        if bad:
            return state, invalid_result(state, bad)
        center, size = clip_target(center, size, state.frame_hw)

        best_score = pick.score
        new_state = TargetState(center=center, size=size, avg_chans=state.avg_chans,
                                frame_hw=state.frame_hw, kernels=state.kernels, score=best_score)
        result = FrameResult(center=center.copy(), size=size.copy(), polygon=polygon,
                             score=best_score, lost=best_score < self.config.lost_score,
                             mask=mask, prob=prob, best=(anchor, row, col),
                             extra={"pscore": pick.pscore, "penalty": pick.penalty,
                                    "crop_box": geo.crop_box, "polygon_from_mask": from_mask})
        return new_state, result

    def _update(self, state: TargetState, box: np.ndarray, scale_x: float,
                confidence: float) -> tuple[np.ndarray, np.ndarray]:
        """§3.7.11: move by the decoded offset; blend the size with lr' = penalty score lr."""
        pred = box.astype(np.float64) / scale_x
        lr = confidence * self.config.lr
        center = state.center + pred[:2]
        with np.errstate(invalid="ignore"):  # 0 * Inf: flagged as "overflow box" in _finish
            size = state.size * (1.0 - lr) + pred[2:] * lr
        return center, size


HOST_OUTPUTS = ("cls", "loc")  # search outputs read on the host (the features may stay on device)


TRACKER = SiamMaskTracker  # what the registry runs for this folder (masktrt.registry.entry_of)
