"""The official OceanPlus (ARN) tracking procedure (arn-rts.md §A2-§A4, §A8) over any runner.

As SiamMask's tracker: the tracker object holds constants only (config, runner, the per-size
windows and grids); everything that changes lives in the `OceanPlusState` that `init` returns
and `track` takes and returns, so one runner serves many targets and any frame can be replayed.
It calls the contract's graphs by the names in masktrt.trackers.oceanplus.spec: `template` at init and
the one track graph (`track_255` or `track_287`) that `init` chose and put in the state.

Number formats follow the official code where parity needs it: network outputs in float32
(sigmoid in float32), grid, penalties, fused score and target geometry in float64, the search
crop side rounded half away from zero (TracKit's `python2round`), the template crop side
half-to-even (Python 3 `round`), the template update's sampling in float64.

Host, not graph, for the template update (NOTES.md "mismatch 3"): it needs `xf` only on frames
whose fused peak is above UPDATE_SCORE, which is known after the selection. The tracker asks for
every output on the host to keep one simple path; a device runner could keep `xf` on the device
(`keep_on_device=(XF,)`) and download it only on update frames, saving a 1 MB copy per frame.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import cv2
import numpy as np

from masktrt.errors import MasktrtError
from masktrt.geometry import context_size, crop_window, sigmoid
from masktrt.runtime.backends.base import GraphRunner
from masktrt.runtime.gpu_ops import FrameOps, HostOps
from masktrt.runtime.crop import crop_subwindow
from masktrt.runtime.mask import binarize, box_polygon, largest_contour, mask_bounding_box
from masktrt.runtime.trackers import batched
from masktrt.runtime.trackers.base import TrackerBase
from masktrt.runtime.trackers.checks import check_box, check_frame, check_mask, check_same_size
from masktrt.runtime.trackers.results import (StageTimer, initial_result, invalid_result,
                                              nonfinite, overflowed, untimed)
from masktrt.runtime.window import cosine_window
from masktrt.trackers.oceanplus.spec import (BBOX, CLS, CYCLIC_INIT_STEPS, EXEMPLAR_SIZE,
                                     INSTANCE_SIZES, LAMBDA_S, LAMBDA_U, LUT_KEY, LUT_VALUE,
                                     MASK_PROB, MIN_MASK_PIXELS, MIN_TARGET_SIZE, SEARCH_INPUT,
                                     SMALL_MASK_BOX_PRESETS, TARGET_STATE, TEMPLATE, TEMPLATE_INPUT,
                                     TEMPLATE_MASK, TEMPLATE_MASK_THRESHOLD, TOTAL_STRIDE,
                                     TRACK_GRAPHS, TRACK_OUTPUTS, UPDATE_CONTEXT, UPDATE_GRID_KEEP,
                                     UPDATE_GRID_POINTS, UPDATE_SCORE, XF, ZF_CLS, ZF_REG,
                                     TrackerConfig, instance_size_for, score_size, track_graph)
from masktrt.types import FrameResult

Box = tuple[float, float, float, float]


@dataclass(frozen=True, eq=False)
class OceanPlusState:
    """Everything carried from one frame to the next, passed explicitly (never on the tracker).

    `graph` is the track graph chosen once at init (its search side by the first frame's
    target/image area). zf_reg, lut_key, lut_value are the template graph's outputs as the
    runner returned them and never change; zf_cls (float32, fed to the track graph) and the
    moving average `ma` (float64) change on template-update frames; `updates` counts those.
    """

    center: np.ndarray  # (cx, cy) float64
    size: np.ndarray  # (w, h) float64
    avg_chans: np.ndarray  # first-frame BGR mean, float64[3]
    frame_hw: tuple[int, int]
    graph: str
    zf_reg: Any
    lut_key: Any
    lut_value: Any
    zf_cls: Any
    ma: np.ndarray
    score: float = 1.0
    updates: int = 0

    @property
    def instance(self) -> int:
        """The search crop side of `graph` (255 or 287)."""
        return INSTANCE_SIZES[TRACK_GRAPHS.index(self.graph)]


# ---------------------------------------------------------------- crop geometry (§A3 1)
def python2round(value: float) -> int:
    """Round half away from zero, as Python 2 (TracKit's `python2round` for the search side)."""
    return int(math.copysign(math.floor(abs(value) + 0.5), value))


@dataclass(frozen=True)
class SearchGeometry:
    """Where a frame's search crop comes from: crop pixels per image pixel and the source side."""

    scale_z: float  # 127 / s_z (unrounded s_z)
    side: int  # python2round(s_x)
    instance: int  # the crop's side after resizing (255 or 287)


def search_geometry(center: np.ndarray, size: np.ndarray, instance: int) -> SearchGeometry:
    """§A3 per frame 1: s_x = s_z + 2 ((instance - 127) / 2) / scale_z, side rounded half up."""
    s_z = context_size(size)
    scale_z = EXEMPLAR_SIZE / s_z
    s_x = s_z + 2 * ((instance - EXEMPLAR_SIZE) / 2) / scale_z
    return SearchGeometry(scale_z, python2round(s_x), instance)


def crop_box(center: np.ndarray, side: int) -> Box:
    """(x, y, side, side): the image pixels a crop of `side` centred on `center` covers."""
    win = crop_window(center, side)
    return (float(win.xmin), float(win.ymin), float(side), float(side))


# ---------------------------------------------------------------- selection (§A3 2-8)
def score_grid(instance: int) -> np.ndarray:
    """(R,) float64 crop-pixel coordinate of each cls/bbox column (and row): (j - R//2) 8 + S//2."""
    r = score_size(instance)
    return (np.arange(r, dtype=np.float64) - r // 2) * TOTAL_STRIDE + instance // 2


def predicted_boxes(bbox: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """(4, R, R) float64 x1, y1, x2, y2 in crop pixels from the (l, t, r, b) distances."""
    ltrb = np.asarray(bbox, dtype=np.float32).reshape(4, grid.size, grid.size)
    gx, gy = grid[None, :], grid[:, None]
    return np.stack([gx - ltrb[0], gy - ltrb[1], gx + ltrb[2], gy + ltrb[3]])


def _padded(w: Any, h: Any) -> Any:
    pad = (w + h) * 0.5
    return np.sqrt((w + pad) * (h + pad))


def _change(r: np.ndarray) -> np.ndarray:
    return np.maximum(r, 1.0 / r)


def size_penalty(boxes: np.ndarray, target_in_crop: np.ndarray, penalty_k: float) -> np.ndarray:
    """(R, R) float64 exp(-(r_c s_c - 1) k): scale and aspect-ratio change penalties (§A3 4-6)."""
    w, h = boxes[2] - boxes[0], boxes[3] - boxes[1]
    tw, th = float(target_in_crop[0]), float(target_in_crop[1])
    # degenerate boxes of untrained weights give inf/nan as in the official NumPy code
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        s_c = _change(_padded(w, h) / float(_padded(tw, th)))
        r_c = _change((tw / th) / (w / h))
        return np.exp(-(r_c * s_c - 1.0) * penalty_k)


@dataclass(frozen=True, eq=False)
class Choice:
    """The selected cell: its scores and its box (centre, size) in crop pixels."""

    row: int
    col: int
    score: float  # sigmoid cls at the cell
    penalty: float
    pscore: float  # window-fused score (the update condition and rate read it)
    box: np.ndarray  # (cx, cy, w, h) float64 crop pixels


def select(cls: np.ndarray, bbox: np.ndarray, target_in_crop: np.ndarray, grid: np.ndarray,
           window: np.ndarray, config: TrackerConfig) -> Choice:
    """§A3 2-8: sigmoid, penalties, window fusion, argmax (row-major, first maximum)."""
    score = sigmoid(cls).reshape(grid.size, grid.size)
    boxes = predicted_boxes(bbox, grid)
    penalty = size_penalty(boxes, target_in_crop, config.penalty_k)
    pscore = penalty * score * (1.0 - config.window_influence) + window * config.window_influence
    row, col = np.unravel_index(int(np.argmax(pscore)), pscore.shape)
    x1, y1, x2, y2 = boxes[:, row, col]
    box = np.array([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1])
    return Choice(int(row), int(col), float(score[row, col]), float(penalty[row, col]),
                  float(pscore[row, col]), box)


def select_many(cls: np.ndarray, bbox: np.ndarray, targets_in_crop: np.ndarray, grid: np.ndarray,
                window: np.ndarray, config: TrackerConfig) -> list[Choice]:
    """`select` for N targets of one track graph (cls Nx1xRxR, bbox Nx4xRxR, targets Nx2) as
    arrays: the same numbers as N calls."""
    n = len(cls)
    score = sigmoid(cls).reshape(n, grid.size, grid.size)
    boxes = predicted_boxes_many(bbox, grid)
    penalty = size_penalty_many(boxes, targets_in_crop, config.penalty_k)
    pscore = penalty * score * (1.0 - config.window_influence) + window * config.window_influence
    best = np.argmax(pscore.reshape(n, -1), axis=1)
    return [_choice(score[k], boxes[k], penalty[k], pscore[k], int(b)) for k, b in enumerate(best)]


def predicted_boxes_many(bbox: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """(N, 4, R, R) float64: `predicted_boxes` of N targets."""
    ltrb = np.asarray(bbox, dtype=np.float32).reshape(len(bbox), 4, grid.size, grid.size)
    gx, gy = grid[None, :], grid[:, None]
    return np.stack([gx - ltrb[:, 0], gy - ltrb[:, 1], gx + ltrb[:, 2], gy + ltrb[:, 3]], axis=1)


def size_penalty_many(boxes: np.ndarray, targets_in_crop: np.ndarray,
                      penalty_k: float) -> np.ndarray:
    """(N, R, R) float64: `size_penalty` of N targets (boxes Nx4xRxR, targets Nx2)."""
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    tw = targets_in_crop[:, 0, None, None].astype(np.float64)
    th = targets_in_crop[:, 1, None, None].astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        s_c = _change(_padded(w, h) / _padded(tw, th))
        r_c = _change((tw / th) / (w / h))
        return np.exp(-(r_c * s_c - 1.0) * penalty_k)


def _choice(score: np.ndarray, boxes: np.ndarray, penalty: np.ndarray, pscore: np.ndarray,
            best: int) -> Choice:
    """The Choice at flat index `best` of one target's RxR maps, as `select` builds it."""
    row, col = np.unravel_index(best, pscore.shape)
    x1, y1, x2, y2 = boxes[:, row, col]
    box = np.array([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1])
    return Choice(int(row), int(col), float(score[row, col]), float(penalty[row, col]),
                  float(pscore[row, col]), box)


def move_target(center: np.ndarray, size: np.ndarray, choice: Choice, geo: SearchGeometry,
                lr: float) -> tuple[np.ndarray, np.ndarray]:
    """§A3 9-10, with the official double size smoothing: w' = lr pred + (1-lr) w, then
    size = (1-lr) size + lr w' (a quirk of TracKit kept for parity)."""
    rate = choice.penalty * choice.score * lr
    new_center = center + (choice.box[:2] - geo.instance // 2) / geo.scale_z
    once = choice.box[2:] / geo.scale_z * rate + (1.0 - rate) * size
    return new_center, size * (1.0 - rate) + rate * once


def clamp_target(center: np.ndarray, size: np.ndarray,
                 frame_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """§A3 12: centre within [0, W] x [0, H], size within [10, W] x [10, H]."""
    limits = np.array([frame_hw[1], frame_hw[0]], dtype=np.float64)
    return (np.clip(center, 0.0, limits),
            np.maximum(MIN_TARGET_SIZE, np.minimum(limits, size)))


# ---------------------------------------------------------------- template update (§A2)
def update_grid(offset: np.ndarray, extent: np.ndarray, feature_side: int) -> np.ndarray:
    """(K, K, 2) float64 grid_sample grid (x, y), normalised by F//2 as the official code.

    The middle K = 7 of 17 points spanning `extent` feature cells, centred `offset` cells from
    the search map's centre. Dividing by F//2 (15), not F/2, under align_corners=False is a
    quirk of TracKit, kept.
    """
    first = (UPDATE_GRID_POINTS - UPDATE_GRID_KEEP) // 2
    steps = np.linspace(-0.5, 0.5, UPDATE_GRID_POINTS)[first:first + UPDATE_GRID_KEEP]
    xs = (offset[0] + steps * extent[0]) / (feature_side // 2)
    ys = (offset[1] + steps * extent[1]) / (feature_side // 2)
    gx, gy = np.meshgrid(xs, ys)
    return np.stack([gx, gy], axis=-1)


def grid_sample(feature: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """(C, n, m) float64 bilinear samples of `feature` (C, H, W) at `grid` (n, m, 2), with
    torch grid_sample's semantics: align_corners=False, zero padding outside the map."""
    feature = np.asarray(feature, dtype=np.float64)
    _, height, width = feature.shape
    ix = ((grid[..., 0] + 1.0) * width - 1.0) / 2.0
    iy = ((grid[..., 1] + 1.0) * height - 1.0) / 2.0
    x0, y0 = np.floor(ix).astype(np.int64), np.floor(iy).astype(np.int64)
    fx, fy = ix - x0, iy - y0
    out = np.zeros(feature.shape[:1] + grid.shape[:2])
    for dy, wy in ((0, 1.0 - fy), (1, fy)):
        for dx, wx in ((0, 1.0 - fx), (1, fx)):
            out += _corner(feature, x0 + dx, y0 + dy) * (wx * wy)
    return out


def _corner(feature: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """feature[:, y, x] where (x, y) lies on the map, 0 elsewhere (zero padding)."""
    _, height, width = feature.shape
    inside = (x >= 0) & (x < width) & (y >= 0) & (y < height)
    values = feature[:, np.clip(y, 0, height - 1), np.clip(x, 0, width - 1)]
    return values * inside


def update_template(zf_reg: np.ndarray, ma: np.ndarray, xf: np.ndarray, grid: np.ndarray,
                    score: float) -> tuple[np.ndarray, np.ndarray]:
    """(ma, zf_cls): MA = (1 - 0.1 s) MA + 0.1 s sample, zf_cls = 0.2 zf_reg + 0.8 MA (float64
    MA; zf_cls float32, the track graph's input type)."""
    xf = np.asarray(xf)
    sample = grid_sample(xf.reshape(xf.shape[-3:]), grid)[None]
    rate = LAMBDA_U * score
    ma = (1.0 - rate) * ma + rate * sample
    zf_cls = LAMBDA_S * np.asarray(zf_reg, dtype=np.float64) + (1.0 - LAMBDA_S) * ma
    return ma, zf_cls.astype(np.float32)


# ---------------------------------------------------------------- masks (§A3 init 4, §A4)
def _overlap(center: np.ndarray, side: int,
             frame_hw: tuple[int, int]) -> tuple[tuple[slice, slice], tuple[slice, slice]] | None:
    """(frame region, window region) where the square window of `side` around `center` (the
    official crop's rounding) meets the frame; None where it misses the frame."""
    win = crop_window(center, side)
    x0, y0 = max(win.xmin, 0), max(win.ymin, 0)
    x1, y1 = min(win.xmax + 1, frame_hw[1]), min(win.ymax + 1, frame_hw[0])
    if x1 <= x0 or y1 <= y0:
        return None
    return ((slice(y0, y1), slice(x0, x1)),
            (slice(y0 - win.ymin, y1 - win.ymin), slice(x0 - win.xmin, x1 - win.xmin)))


def crop_mask(mask: np.ndarray, center: np.ndarray, source_side: int,
              model_size: int = EXEMPLAR_SIZE) -> np.ndarray:
    """The mask's square of `source_side` around `center`, zero outside the frame, resized to
    `model_size` with cv2's default bilinear (TracKit `get_subwindow_tracking_mask`)."""
    patch = np.zeros((source_side, source_side), dtype=mask.dtype)
    regions = _overlap(center, source_side, mask.shape)
    if regions is not None:
        patch[regions[1]] = mask[regions[0]]
    return cv2.resize(patch, (model_size, model_size)) if source_side != model_size else patch


def paste_prob(prob: np.ndarray, center: np.ndarray, side: int,
               frame_hw: tuple[int, int]) -> np.ndarray:
    """HxW float32: mask_prob resized to the crop's side with cv2.INTER_CUBIC and pasted where
    the crop lies in the frame, 0 elsewhere (the official zero canvas minus its padding)."""
    prob = np.asarray(prob, dtype=np.float32)
    resized = cv2.resize(prob.reshape(prob.shape[-2:]), (side, side), interpolation=cv2.INTER_CUBIC)
    canvas = np.zeros(frame_hw, np.float32)
    regions = _overlap(center, side, frame_hw)
    if regions is not None:
        canvas[regions[0]] = resized[regions[1]]
    return canvas


def box_mask(box_cxcywh: Box, frame_hw: tuple[int, int]) -> np.ndarray:
    """HxW uint8: 1 on the pixels whose centres lie inside the box (clipped to the frame)."""
    cx, cy, w, h = (float(v) for v in box_cxcywh)
    x0, x1 = (max(math.ceil(v - 0.5), 0) for v in (cx - w / 2, cx + w / 2))
    y0, y1 = (max(math.ceil(v - 0.5), 0) for v in (cy - h / 2, cy + h / 2))
    mask = np.zeros(frame_hw, np.uint8)
    mask[y0:y1, x0:x1] = 1
    return mask


def report_polygon(mask: np.ndarray, box: Box, from_box: bool) -> tuple[np.ndarray, bool]:
    """(4x2 float32, from_mask): minAreaRect of the largest external contour (TracKit
    `mask2box`), or the box's corners when the mask is the box or has no contour (§A4.6)."""
    contour, _ = (None, 0.0) if from_box else largest_contour(mask)
    if contour is None:
        return box_polygon(box), False
    return cv2.boxPoints(cv2.minAreaRect(contour)).astype(np.float32), True




# ---------------------------------------------------------------- the tracker
class OceanPlusTracker(TrackerBase):
    """OceanPlus's tracking procedure; holds constants only, state is passed in and out.

    `timer(stage)` wraps each stage in a context manager (stages: crop, template, search,
    select, update, post). `ops` does the crops (its `crop`, role = the graph's name); the
    default is the host's official crop. Paste-back and polygon run on the host.

    Box-only initialisation (spec §A8; the released code has none, "TODO: add cyclic
    initiation"): the rule implemented is the paper's cyclic initialisation with
    r = CYCLIC_INIT_STEPS = 3:
      0. z_mask = the box-filled frame mask, cropped like a given mask; run `template` once
         (zf_reg, zf_cls, lut_key, lut_value);
      1. run the chosen track graph on the first frame's search crop (the per-frame geometry
         around the box) with that state;
      2. paste mask_prob into the frame (as a per-frame mask), crop it into the exemplar window
         (zero padding, bilinear to 127) and binarise it at the preset's seg_thr;
      3. rerun `template` on the same z with that z_mask and keep only its lut_value (the key
         depends on z alone, so it is unchanged; the kernels too);
      repeat 1-3 r times: `template` runs 1 + r times, the track graph r times, and the
      target's box stays the given one.
    """

    def __init__(self, runner: GraphRunner, config: TrackerConfig, timer: StageTimer | None = None,
                 ops: FrameOps | None = None) -> None:
        self.runner = runner
        self.config = config
        self.timer = timer or untimed
        self.ops = ops if ops is not None else HostOps()
        self.grids = {s: score_grid(s) for s in INSTANCE_SIZES}
        self.windows = {s: cosine_window(score_size(s), 1).reshape(score_size(s), -1)
                        for s in INSTANCE_SIZES}
        self.box_fallback = config.name in SMALL_MASK_BOX_PRESETS

    def close(self) -> None:
        """Nothing of its own to free: the runner belongs to whoever made it."""

    # -- init ------------------------------------------------------------------------------------
    def init(self, frame: np.ndarray, box_xywh: Box | None,
             mask: np.ndarray | None = None) -> OceanPlusState:
        """Start tracking: from the first-frame `mask` (HxW, nonzero = target; the box may then
        be None: the mask's bounding box) as the official tracker, or from the box alone by
        cyclic initialisation (class docstring)."""
        check_frame(frame)
        start, center, size = self._target(frame, box_xywh, mask)
        state, z, s_z = self._template(frame, center, size, start)
        return state if mask is not None else self._cyclic_init(frame, z, s_z, state)

    @staticmethod
    def _target(frame: np.ndarray, box_xywh: Box | None,
                mask: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(first mask, centre, size) from the checked input; the box-filled mask when no mask
        is given, the mask's bounding box when no box is."""
        frame_hw = (int(frame.shape[0]), int(frame.shape[1]))
        binary = None if mask is None else check_mask(mask, frame_hw)
        if box_xywh is None and binary is None:
            raise MasktrtError("init got neither a box nor a mask",
                               "pass the target's box (x, y, w, h), its mask, or both")
        box_xywh = mask_bounding_box(binary) if box_xywh is None else box_xywh
        check_box(box_xywh, frame_hw)
        x, y, w, h = (float(v) for v in box_xywh)
        center, size = np.array([x + w / 2, y + h / 2]), np.array([w, h])
        start = binary if binary is not None else box_mask((*center, w, h), frame_hw)
        return start, center, size

    def _template(self, frame: np.ndarray, center: np.ndarray, size: np.ndarray,
                  start: np.ndarray) -> tuple[OceanPlusState, Any, int]:
        """§A3 init 1-5: the instance size, template crop, mask crop, template graph; the
        template crop and its source side come back for the cyclic initialisation."""
        frame_hw = (int(frame.shape[0]), int(frame.shape[1]))
        avg_chans = frame.reshape(-1, 3).mean(axis=0, dtype=np.float64)
        s_z = round(context_size(size))
        with self.timer("crop"):
            z = self.ops.crop(frame, center, EXEMPLAR_SIZE, s_z, avg_chans, TEMPLATE)
            z_mask = self._exemplar_mask(start, center, s_z, TEMPLATE_MASK_THRESHOLD)
        with self.timer("template"):
            out = self.runner.run(TEMPLATE, {TEMPLATE_INPUT: z, TEMPLATE_MASK: z_mask})
        graph = track_graph(instance_size_for(size[0] * size[1], frame_hw[0] * frame_hw[1]))
        state = OceanPlusState(center=center, size=size, avg_chans=avg_chans, frame_hw=frame_hw,
                               graph=graph, zf_reg=out[ZF_REG], lut_key=out[LUT_KEY],
                               lut_value=out[LUT_VALUE], zf_cls=out[ZF_CLS],
                               ma=np.asarray(out[ZF_REG], dtype=np.float64))
        return state, z, s_z

    @staticmethod
    def _exemplar_mask(mask: np.ndarray, center: np.ndarray, s_z: int,
                       threshold: float) -> np.ndarray:
        """1x1x127x127 float32 {0, 1}: the mask's exemplar crop above `threshold`."""
        crop = crop_mask(mask, center, s_z)
        return (crop > threshold).astype(np.float32)[None, None]

    def _cyclic_init(self, frame: np.ndarray, z: Any, s_z: int,
                     state: OceanPlusState) -> OceanPlusState:
        """Steps 1-3 of the class docstring's rule, CYCLIC_INIT_STEPS times, on the template
        crop `z` (exemplar side `s_z`) and one search crop (both the same every step)."""
        geo = search_geometry(state.center, state.size, state.instance)
        with self.timer("crop"):
            x = self._search_crop(frame, state, geo)
        for _ in range(CYCLIC_INIT_STEPS):
            with self.timer("search"):
                out = self.runner.run(state.graph, {SEARCH_INPUT: x, **self._feeds(state)})
            prob = paste_prob(out[MASK_PROB], state.center, geo.side, state.frame_hw)
            z_mask = self._exemplar_mask(prob, state.center, s_z, self.config.seg_thr)
            with self.timer("template"):
                lut = self.runner.run(TEMPLATE, {TEMPLATE_INPUT: z, TEMPLATE_MASK: z_mask})
            state = replace(state, lut_value=lut[LUT_VALUE])
        return state

    def calibration_feeds(self, frame: np.ndarray, state: OceanPlusState) -> dict[str, dict]:
        """INT8 calibration samples beyond the calls tracking makes, cut at `state` with the
        tracker's own crop logic: the template crop `init` would cut there (with the box-filled
        mask), and the search crop of every track graph the sequence did not choose, so the
        track_287 engine is calibrated even where every target is large (and vice versa)."""
        s_z = round(context_size(state.size))
        z = crop_subwindow(frame, state.center, EXEMPLAR_SIZE, s_z, state.avg_chans)
        start = box_mask((*state.center, *state.size), state.frame_hw)
        feeds = {TEMPLATE: {TEMPLATE_INPUT: z, TEMPLATE_MASK: self._exemplar_mask(
            start, state.center, s_z, TEMPLATE_MASK_THRESHOLD)}}
        for size in INSTANCE_SIZES:
            if track_graph(size) != state.graph:
                geo = search_geometry(state.center, state.size, size)
                x = crop_subwindow(frame, state.center, size, geo.side, state.avg_chans)
                feeds[track_graph(size)] = {SEARCH_INPUT: x, **self._feeds(state)}
        return feeds

    def initial_result(self, state: OceanPlusState) -> FrameResult:
        """The init frame's output (the given box itself)."""
        return initial_result(state)

    def frame_state(self, reference: OceanPlusState, own: OceanPlusState) -> OceanPlusState:
        """For frame-level parity: the reference's geometry and graph with this tracker's own
        template outputs, so one step compares networks, not accumulated drift. The template
        memory follows the reference's trajectory once it has updated: its MA, mixed with the
        own zf_reg (zf_cls = 0.2 zf_reg + 0.8 MA); before any update, the own zf_cls as is."""
        shared = replace(reference, zf_reg=own.zf_reg, lut_key=own.lut_key, lut_value=own.lut_value)
        if reference.updates == 0:
            return replace(shared, zf_cls=own.zf_cls, ma=own.ma)
        zf_cls = LAMBDA_S * np.asarray(own.zf_reg, np.float64) + (1.0 - LAMBDA_S) * reference.ma
        return replace(shared, zf_cls=zf_cls.astype(np.float32))

    # -- per frame -------------------------------------------------------------------------------
    def _search_crop(self, frame: np.ndarray, state: OceanPlusState, geo: SearchGeometry) -> Any:
        return self.ops.crop(frame, state.center, geo.instance, geo.side, state.avg_chans,
                             state.graph)

    @staticmethod
    def _feeds(state: OceanPlusState) -> dict[str, Any]:
        return {ZF_REG: state.zf_reg, ZF_CLS: state.zf_cls, LUT_KEY: state.lut_key,
                LUT_VALUE: state.lut_value}

    def track(self, frame: np.ndarray, state: OceanPlusState) -> tuple[OceanPlusState, FrameResult]:
        """One frame of §A3: search, select, move, template update, clamp, mask (§A4)."""
        check_frame(frame)
        check_same_size(frame, state)
        geo = search_geometry(state.center, state.size, state.instance)
        with self.timer("crop"):
            x = self._search_crop(frame, state, geo)
        with self.timer("search"):
            out = self.runner.run(state.graph, {SEARCH_INPUT: x, **self._feeds(state)})
        bad = nonfinite(out, TRACK_OUTPUTS)
        if bad:
            return state, invalid_result(state, bad)
        with self.timer("select"):
            choice = select(out[CLS], out[BBOX], state.size * geo.scale_z, self.grids[geo.instance],
                            self.windows[geo.instance], self.config)
        return self._finish(state, geo, choice, out)

    # -- several targets in one call (runtime/trackers/batched.py) --------------------------------
    def track_many(self, frames: np.ndarray | Sequence[np.ndarray],
                   states: Sequence[OceanPlusState]
                   ) -> tuple[list[OceanPlusState], list[FrameResult]]:
        """Track several targets, of one frame or each of its own (`frames` one frame, or one
        per state): exactly `[self.track(f, s) for f, s in zip(frames, states)]` (states and
        results in the order given), with one track-graph call per graph and BATCH_MAX targets
        on an export with batch=dynamic (sequential calls otherwise)."""
        return batched.track_many(self, frames, states)

    @staticmethod
    def batch_key(state: OceanPlusState) -> str:
        """Targets are batched per track graph (255 and 287 crops cannot share a call)."""
        return state.graph

    def track_batch(self, frames: list[np.ndarray], states: list[OceanPlusState]
                    ) -> list[tuple[OceanPlusState, FrameResult]]:
        """One batched step of targets sharing a track graph: crops (each from its target's
        frame) cut in one pass, the target states stacked, one graph call, selection over all
        targets as arrays, then each target's move, template update and mask."""
        geos = [search_geometry(s.center, s.size, s.instance) for s in states]
        with self.timer("crop"):
            x = batched.crop_batch(lambda k: self._search_crop(frames[k], states[k], geos[k]),
                                   len(states))
        feeds = {n: batched.stack([self._feeds(s)[n] for s in states]) for n in TARGET_STATE}
        with self.timer("search"):
            out = self.runner.run(states[0].graph, {SEARCH_INPUT: x, **feeds})
        rows = [batched.row(out, k) for k in range(len(states))]
        bad = [nonfinite(r, TRACK_OUTPUTS) for r in rows]
        with self.timer("select"):
            instance = geos[0].instance
            targets = np.array([s.size * g.scale_z for s, g in zip(states, geos)])
            choices = select_many(out[CLS], out[BBOX], targets, self.grids[instance],
                                  self.windows[instance], self.config)
        return [(s, invalid_result(s, b)) if b else self._finish(s, g, c, r)
                for s, g, c, r, b in zip(states, geos, choices, rows, bad)]

    def _finish(self, state: OceanPlusState, geo: SearchGeometry, choice: Choice,
                out: dict[str, Any]) -> tuple[OceanPlusState, FrameResult]:
        """One target's frame after the selection: move, template update, clamp, mask (§A3 9-12,
        §A2, §A4); `out` holds the target's own (batch 1) track outputs."""
        center, size = move_target(state.center, state.size, choice, geo, self.config.lr)
        bad = overflowed({"box": np.concatenate([center, size])}, ("box",))
        if bad:
            return state, invalid_result(state, bad)
        with self.timer("update"):
            state_after = self._update(state, out[XF], choice, geo)
        center, size = clamp_target(center, size, state.frame_hw)
        with self.timer("post"):
            result = self._result(out[MASK_PROB], state, geo, choice, center, size)
        result.extra["updated"] = state_after.updates > state.updates
        return replace(state_after, center=center, size=size, score=choice.score), result

    def _update(self, state: OceanPlusState, xf: np.ndarray, choice: Choice,
                geo: SearchGeometry) -> OceanPlusState:
        """§A2 on the host when the fused peak exceeds UPDATE_SCORE: the grid is centred on the
        chosen box's offset from the crop centre and spans the previous size (crop pixels, before
        smoothing) plus context, in stride-8 feature cells."""
        if not choice.pscore > UPDATE_SCORE:
            return state
        offset = (choice.box[:2] - geo.instance // 2) / TOTAL_STRIDE
        tw, th = state.size * geo.scale_z
        extent = np.array([tw, th]) + UPDATE_CONTEXT * (tw + th)
        grid = update_grid(offset, extent / TOTAL_STRIDE, np.asarray(xf).shape[-1])
        ma, zf_cls = update_template(state.zf_reg, state.ma, xf, grid, choice.pscore)
        return replace(state, ma=ma, zf_cls=zf_cls, updates=state.updates + 1)

    def _result(self, mask_prob: np.ndarray, state: OceanPlusState, geo: SearchGeometry,
                choice: Choice, center: np.ndarray, size: np.ndarray) -> FrameResult:
        """§A4: paste back, binarise (> seg_thr); VOT presets report the filled regression box
        for a mask under MIN_MASK_PIXELS; polygon from the largest contour or the box."""
        prob = paste_prob(mask_prob, state.center, geo.side, state.frame_hw)
        mask = binarize(prob, self.config.seg_thr)
        box = (center[0], center[1], size[0], size[1])
        from_box = self.box_fallback and int(mask.sum()) < MIN_MASK_PIXELS
        if from_box:
            mask = box_mask(box, state.frame_hw)
        polygon, from_mask = report_polygon(mask, box, from_box)
        extra = {"crop_box": crop_box(state.center, geo.side), "pscore": choice.pscore,
                 "penalty": choice.penalty, "polygon_from_mask": from_mask,
                 "mask_from_box": from_box}
        return FrameResult(center=center.copy(), size=size.copy(), polygon=polygon,
                           score=choice.score, lost=choice.score < self.config.lost_score,
                           mask=mask, prob=prob, best=(0, choice.row, choice.col), extra=extra)


TRACKER = OceanPlusTracker  # what the registry runs for this folder (masktrt.registry.entry_of)
