"""The released RTS tracking procedure (spec arn-rts.md Part B: §B2-§B4, §B6) over any runner.

As the other trackers: the tracker object holds constants only (config, runner, graph sizes and
what follows from them); everything that changes lives in the `RTSState` that `init` returns
and `track` takes and returns (filters, both memories, target geometry, lost flags, the previous
frame's probability map and crop), so one runner serves many targets and any frame can be
replayed. Graphs are called by the names in masktrt.trackers.rts.spec: init runs `feat`, `label_enc`,
`seg_learn_20`, `clf_init_feat` (the 5 augmented crops), then PrRoIPool on the host and
`clf_learn_10` (a box-only start first runs `sta`, the box-initialisation network, for the
mask); each frame runs `label_enc` + `seg_learn_3` (the learner update from the
previous frame, on schedule), `feat`, `head`, and `clf_learn_2` (on schedule). Memories are fed
padded to the graph's fixed slot count with zero weights, which is exact (§B6).

Sizes: the crop size and slot counts are the traced graphs' (`GraphSizes`): the `sizes`
argument, else the export option `sizes` the runner's contract records (deploy.json for ONNX
Runtime, the engines' metadata for TensorRT; `model.sizes` in exports made before the option),
else the runner's own options (`TorchRunner(options=...)`), else the deployment's. A memory
holds min(config, graph) slots; the rest of the graph's slots stay zero-weight padding.

Order and formats follow pytracking (`tracker/rts/rts.py`, `clf_branch.py`): positions (y, x),
sizes (h, w), the crop's truncations and half-to-even roundings (rts_geometry.py), sample
weights in float32 (rts_host.py). Geometry is float64 where the release used float32 tensors
(differences of 1e-7 relative, which can only matter exactly on a rounding boundary).
Reproduced quirks: the classifier init crop ignores 'inside_major' (a plain replicate crop at
the rounded position); its 5 boxes and labels are all the unflipped target's (the release's
augmentation shifts are all zero, the flip is not mirrored); the blur pads with zeros; the
seg memory stores the previous frame's soft mask; the output is the tight mask box, or the
classifier's box when the mask is empty or its sigmoid sum <= 100.

Box-only init (`STAHelper.predict_mask`, §B3 init 1): a replicate crop at STA's search-area
scale 4 around the box, the `sta` graph with the box in crop pixels (truncated, as the release's
`int()`), its logits pasted into a -100 canvas, everything outside the box set to -100, > 0. The
box stays the given one; the mask then starts RTS as a given mask does. Quirk not reproduced:
the release's negative slice start for a box beginning left of / above the frame wipes the
mask; here it clips at the border.

Where device-resident memories would go (trackers/rts/NOTES.md "mismatch 1, 2, 5"):
the state holds host NumPy arrays, and a learner update feeds ~140 MB (full size) per call.
With runner-owned buffers, `Memory.slots` would become a handle to a device buffer of the
graph's slot count (`runner.alloc(name, shape)`), `Memory.insert` a `runner.write_slot(buffer,
slot, value)` of a `keep_on_device` output (`seg_x`, `clf_x`, `label`, `label_w`) with no host
round trip, `Memory.stacked` the buffer itself fed by binding, and only the weights (a few
floats) would stay on the host; replay would then need an explicit state snapshot (copy).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from masktrt.runtime.backends.base import GraphRunner
from masktrt.runtime.mask import box_polygon
from masktrt.runtime.mask import mask_bounding_box as bounding_box
from masktrt.runtime.trackers.base import TrackerBase
from masktrt.runtime.trackers.checks import check_box, check_frame, check_mask, check_same_size
from masktrt.runtime.trackers.results import (
    StageTimer,
    initial_result,
    invalid_result,
    nonfinite,
    untimed,
)
from masktrt.trackers.rts.geometry import (
    CropGeometry,
    crop_image,
    crop_mask,
    paste_logits,
    sample_geometry,
    shift_crop,
)
from masktrt.trackers.rts.host import (
    Memory,
    outside_box,
    augmented5,
    clf_label,
    clip_scale,
    crop_box,
    label_center,
    localize,
    mask_box,
    prroi_pool,
    rescaled,
    var_box,
)

from masktrt.errors import MasktrtError
from masktrt.geometry import sigmoid
from masktrt.trackers.rts.spec import (
    CLF_FILTER,
    CLF_FILTER_OUT,
    CLF_FILTER_SIZE,
    CLF_INIT_FEAT,
    CLF_INIT_SAMPLES,
    CLF_MEM,
    CLF_MIN_TARGET_PX,
    CLF_POOL_IN5,
    CLF_POOL_SCALE,
    CLF_SCORES,
    CLF_STRIDE,
    CLF_X,
    CLF_X5,
    FEAT,
    FEATURES,
    FULL_SIZES,
    HEAD,
    IM,
    IM5,
    INIT_MASK_LOGIT,
    LABEL,
    LABEL_ENC,
    LABEL_W,
    LOST_SEG_BOX,
    MASK,
    MASK_LOGITS,
    NOT_FOUND,
    SEG_FILTER,
    SEG_FILTER_OUT,
    SEG_FILTER_SIZE,
    SEG_INIT_EXPANSION,
    SEG_MEM,
    SEG_STRIDE,
    SEG_X,
    SIZES,
    STA,
    STA_LOGITS,
    BOX,
    GraphSizes,
    TrackerConfig,
    clf_learn_graph,
    feature_hw,
    parse_sizes,
    seg_learn_graph,
    tensor_shapes,
)
from masktrt.types import FrameResult

Box = tuple[float, float, float, float]
BORDER_MODES = ("replicate", "inside", "inside_major")


@dataclass(frozen=True)
class ClfConstants:
    """The classifier branch's per-target constants, fixed at init."""

    base_sz: np.ndarray  # (h, w) target size at scale 1 (crop pixels)
    sigma: float  # label sigma in feature cells
    min_scale: float
    max_scale: float


@dataclass(frozen=True, eq=False)
class RTSState:
    """Everything carried from one frame to the next (never on the tracker).

    pos/target_sz/target_scale: the search state ('var' box, clipped scale); clf_pos/clf_sz/
    clf_scale: the classifier's; prev_raw: the previous frame's image-size output (sigmoid
    probabilities; at init the mask as +-100 logits, the release's 'segmentation_raw'),
    prev_crop and prev_seg_x: that frame's crop and seg features (the next update's sample);
    box: the last reported (x, y, w, h)."""

    frame_hw: tuple[int, int]
    frame_num: int
    pos: np.ndarray
    target_sz: np.ndarray
    target_scale: float
    base_target_sz: np.ndarray
    scales: tuple[float, ...]
    not_found_count: int
    lost_seg: bool
    seg_too_small: bool
    lost_clf: bool
    clf_pos: np.ndarray
    clf_sz: np.ndarray
    clf_scale: float
    clf: ClfConstants
    seg_filter: np.ndarray
    clf_filter: np.ndarray
    seg_memory: Memory
    clf_memory: Memory
    prev_raw: np.ndarray
    prev_crop: CropGeometry | None
    prev_seg_x: np.ndarray | None
    box: Box

    @property
    def center(self) -> np.ndarray:
        x, y, w, h = self.box
        return np.array([x + w / 2, y + h / 2])

    @property
    def size(self) -> np.ndarray:
        return np.array([self.box[2], self.box[3]], dtype=np.float64)


def graph_sizes(runner: Any) -> GraphSizes:
    """The sizes the runner's graphs were traced at (module docstring, "Sizes")."""
    contract = getattr(runner, "contract", None)
    options = getattr(contract, "options", None) or getattr(runner, "options", None) or {}
    if options.get(SIZES) is not None:
        return parse_sizes(options[SIZES])
    recorded = (getattr(contract, "model", None) or {}).get("sizes")
    if recorded:
        return GraphSizes(tuple(recorded["crop_hw"]), int(recorded["seg_memory"]),
                          int(recorded["clf_memory"]))
    return FULL_SIZES


def target_from_box(box: Box, crop_hw: tuple[int, int],
                    area_scale: float) -> tuple[np.ndarray, np.ndarray, float]:
    """`target_state_update_from_bbox`: pos (y + (h-1)/2, x + (w-1)/2), size (h, w), and the
    scale sqrt(prod(size area_scale)) / sqrt(prod(crop))."""
    x, y, w, h = (float(v) for v in box)
    size = np.array([h, w])
    scale = math.sqrt(np.prod(size * area_scale)) / math.sqrt(np.prod(crop_hw))
    return np.array([y + (h - 1) / 2, x + (w - 1) / 2]), size, scale


def clf_box(pos: np.ndarray, size: np.ndarray) -> Box:
    """The classifier's output box (x, y, w, h): pos - (size - 1) / 2."""
    return (float(pos[1] - (size[1] - 1) / 2), float(pos[0] - (size[0] - 1) / 2),
            float(size[1]), float(size[0]))


class RTSTracker(TrackerBase):
    """RTS's tracking procedure; holds constants only, state is passed in and out.

    `timer(stage)` wraps each stage (init: crop, init; per frame: update, crop, features, head,
    post, classifier). `ops` is accepted for the shared tracker interface; RTS's crops (not
    square, pre-subsampled) and paste-back run on the host. `sizes`: module docstring."""

    def __init__(self, runner: GraphRunner, config: TrackerConfig, timer: StageTimer | None = None,
                 ops: Any = None, sizes: GraphSizes | None = None) -> None:
        self.runner, self.config, self.ops = runner, config, ops
        self.timer = timer or untimed
        self.sizes = sizes if sizes is not None else graph_sizes(runner)
        check_setup(config, self.sizes)
        self.crop_hw = tuple(int(v) for v in self.sizes.crop_hw)
        self.seg_hw, self.clf_hw = feature_hw(SEG_STRIDE, self.crop_hw), feature_hw(CLF_STRIDE, self.crop_hw)
        self.seg_slots = min(config.seg_memory, self.sizes.seg_memory)
        self.clf_slots = min(config.clf_memory, self.sizes.clf_memory)
        parity = (np.asarray(self.seg_hw) + SEG_FILTER_SIZE) % 2
        self.center_shift = parity * np.asarray(self.crop_hw, np.float64) / (2 * np.asarray(self.seg_hw))

    def close(self) -> None:
        """Nothing of its own to free: the runner belongs to whoever made it."""

    # -- init ------------------------------------------------------------------------------------
    def init(self, frame: np.ndarray, box_xywh: Box | None,
             mask: np.ndarray | None = None) -> RTSState:
        """Start from the first-frame `mask` (HxW, nonzero = target) and its box (None: the
        mask's bounding box), or from the box alone (STA predicts the mask, §B3 init 1).
        §B3 init 2-5: the seg sample and 20 seg steps, the 5 classifier samples, PrRoIPool
        and 10 classifier steps, memories."""
        check_frame(frame)
        frame_hw = (int(frame.shape[0]), int(frame.shape[1]))
        binary, box = self._start(frame, box_xywh, mask)
        pos, size, scale = target_from_box(box, self.crop_hw, self.config.search_area_scale)
        seg_filter, seg_memory = self._init_seg(frame, binary, pos, scale)
        clf, clf_filter, clf_memory = self._init_clf(frame, pos, size, scale)
        too_small = bool(np.count_nonzero(binary) <= self.config.min_mask_area)
        raw = ((binary.astype(np.float32) - 0.5) * (2 * INIT_MASK_LOGIT)).astype(np.float32)
        return RTSState(frame_hw=frame_hw, frame_num=1, pos=pos, target_sz=size,
                        target_scale=scale, base_target_sz=size / scale, scales=(scale,),
                        not_found_count=0, lost_seg=too_small, seg_too_small=too_small,
                        lost_clf=False, clf_pos=pos, clf_sz=size, clf_scale=scale, clf=clf,
                        seg_filter=seg_filter, clf_filter=clf_filter, seg_memory=seg_memory,
                        clf_memory=clf_memory, prev_raw=raw, prev_crop=None, prev_seg_x=None,
                        box=tuple(float(v) for v in box))

    def _start(self, frame: np.ndarray, box_xywh: Box | None,
               mask: Any) -> tuple[np.ndarray, Box]:
        """(binary mask, box) from the checked input: the mask given, or STA's from the box."""
        frame_hw = (int(frame.shape[0]), int(frame.shape[1]))
        if mask is None:
            if box_xywh is None:
                raise MasktrtError("RTS needs the target's first-frame box or mask, got neither",
                                   "pass init(frame, box) or init(frame, None, mask=...)")
            check_box(box_xywh, frame_hw)
            box = tuple(float(v) for v in box_xywh)
            return self._sta_mask(frame, box), box
        binary = check_mask(mask, frame_hw)
        box = bounding_box(binary) if box_xywh is None else tuple(box_xywh)
        check_box(box, frame_hw)
        return binary, box

    def _sta_mask(self, frame: np.ndarray, box: Box) -> np.ndarray:
        """§B3 init 1 (module docstring): HxW uint8 {0, 1} predicted by the `sta` graph."""
        frame_hw = (int(frame.shape[0]), int(frame.shape[1]))
        pos, size, scale = target_from_box(box, self.crop_hw, self.config.sta_search_area_scale)
        with self.timer("crop"):
            geo = sample_geometry(frame_hw, pos, scale * np.asarray(self.crop_hw), self.crop_hw)
            im = crop_image(frame, geo)
        in_crop = crop_box(pos, size, geo.sample_pos, geo.sample_scale, self.crop_hw)
        with self.timer("init"):
            out = self.runner.run(STA, {IM: im, BOX: np.trunc(in_crop)[None].astype(np.float32)})
        scores = paste_logits(np.asarray(out[STA_LOGITS]), geo, frame_hw,
                              self.config.paste_background_logit)
        return (outside_box(scores, box, self.config.sta_outside_logit) > 0).astype(np.uint8)

    def _init_seg(self, frame: np.ndarray, binary: np.ndarray, pos: np.ndarray,
                  scale: float) -> tuple[np.ndarray, Memory]:
        """§B3 init 2: features and label of the init sample, 20 steps from a zero filter."""
        with self.timer("crop"):
            im, mask = self._seg_init_sample(frame, binary, pos, scale)
        with self.timer("init"):
            seg_x = self.runner.run(FEAT, {IM: im})[SEG_X]
            enc = self.runner.run(LABEL_ENC, {MASK: mask})
            memory = Memory.start([(np.asarray(seg_x), enc[LABEL], enc[LABEL_W])], self.seg_slots,
                                  self.config.init_samples_minimum_weight)
            zero = np.zeros(tensor_shapes(HEAD, self.sizes)[SEG_FILTER], np.float32)
            return self._seg_learn(zero, memory, self.config.seg_init_iters), memory

    def _seg_init_sample(self, frame: np.ndarray, binary: np.ndarray, pos: np.ndarray,
                         scale: float) -> tuple[np.ndarray, np.ndarray]:
        """`generate_init_samples`: a 2x expanded replicate crop at the rounded position and the
        'inside_major' scale, then the Identity transform's shift-crop moving it inside."""
        init_scale, shift = self._init_shift(frame.shape[:2], pos, scale)
        expanded = tuple(int(v) for v in np.asarray(self.crop_hw) * int(SEG_INIT_EXPANSION))
        geo = sample_geometry(frame.shape[:2], np.round(pos), np.asarray(expanded) * init_scale,
                              expanded)
        im = shift_crop(crop_image(frame, geo), self.crop_hw, shift)
        mask = shift_crop(crop_mask(binary, geo), self.crop_hw, shift)
        return im, mask

    def _init_shift(self, image_hw: tuple[int, int], pos: np.ndarray,
                    scale: float) -> tuple[float, tuple[int, int]]:
        """(init sample scale, global shift in crop px, truncated): the border mode's shrink and
        the shift that moves the shrunk sample inside the image."""
        crop = np.asarray(self.crop_hw, np.float64)
        sample_sz = scale * crop
        if "inside" not in self.config.border_mode:
            return scale, (0, 0)
        ratios = sample_sz / np.asarray(image_hw, np.float64)
        shrink = max(float(ratios.max() if self.config.border_mode == "inside" else ratios.min()), 1.0)
        sample_sz = sample_sz / shrink
        init_scale = float(np.sqrt(np.prod(sample_sz / crop)))
        tl, br = pos - (sample_sz - 1) / 2, pos + sample_sz / 2 + 1
        shift = -(np.maximum(-tl, 0) - np.maximum(br - np.asarray(image_hw), 0)) / init_scale
        return init_scale, (int(np.trunc(shift[0])), int(np.trunc(shift[1])))

    def _init_clf(self, frame: np.ndarray, pos: np.ndarray, size: np.ndarray,
                  scale: float) -> tuple[ClfConstants, np.ndarray, Memory]:
        """§B3 init 3-5: the centred replicate crop, 5 augmentations, labels, PrRoIPool, 10 steps."""
        clf = self._clf_constants(frame.shape[:2], size, scale)
        sample_pos = np.round(pos)
        with self.timer("crop"):
            geo = sample_geometry(frame.shape[:2], sample_pos, scale * np.asarray(self.crop_hw),
                                  self.crop_hw)
            im5 = augmented5(crop_image(frame, geo))
        with self.timer("init"):
            out = self.runner.run(CLF_INIT_FEAT, {IM5: im5})
            box = crop_box(pos, size, sample_pos, scale, self.crop_hw)
            boxes = np.repeat(box[None], CLF_INIT_SAMPLES, axis=0)
            pooled = prroi_pool(np.asarray(out[CLF_POOL_IN5]), boxes, CLF_FILTER_SIZE, CLF_POOL_SCALE)
            center = label_center(pos, sample_pos, scale, self.clf_hw, self.crop_hw)
            label = clf_label(self.clf_hw, clf.sigma, center)
            x5 = np.asarray(out[CLF_X5], np.float32)
            memory = Memory.start([(x5[i:i + 1], label) for i in range(CLF_INIT_SAMPLES)],
                                  self.clf_slots, None)
            start = pooled.mean(axis=0, keepdims=True).astype(np.float32)
            return clf, self._clf_learn(start, memory, self.config.clf_init_iters), memory

    def _clf_constants(self, image_hw: tuple[int, int], size: np.ndarray,
                       scale: float) -> ClfConstants:
        """Base size, label sigma 0.25 sqrt(prod(feature / crop x base)), scale bounds."""
        base = size / scale
        cells = np.asarray(self.clf_hw, np.float64) / np.asarray(self.crop_hw, np.float64) * base
        sigma = float(np.sqrt(np.prod(cells)) * self.config.output_sigma_factor)
        return ClfConstants(base, sigma, float(np.max(CLF_MIN_TARGET_PX / base)),
                            float(np.min(np.asarray(image_hw, np.float64) / base)))

    # -- learners --------------------------------------------------------------------------------
    def _seg_learn(self, start: np.ndarray, memory: Memory, iters: int) -> np.ndarray:
        """seg_learn_<iters> on the memory padded to the graph's slots; w = label_w x weight."""
        n = self.sizes.seg_memory
        w = memory.stacked(2, n) * memory.padded_weights(n)[:, None, None, None]
        feeds = {SEG_FILTER: start, SEG_MEM[0]: memory.stacked(0, n),
                 SEG_MEM[1]: memory.stacked(1, n), SEG_MEM[2]: w.astype(np.float32)}
        return np.asarray(self.runner.run(seg_learn_graph(iters), feeds)[SEG_FILTER_OUT])

    def _clf_learn(self, start: np.ndarray, memory: Memory, iters: int) -> np.ndarray:
        """clf_learn_<iters> on the memory padded to the graph's slots (sample weights)."""
        m = self.sizes.clf_memory
        feeds = {CLF_FILTER: start, CLF_MEM[0]: memory.stacked(0, m),
                 CLF_MEM[1]: memory.stacked(1, m), CLF_MEM[2]: memory.padded_weights(m)}
        return np.asarray(self.runner.run(clf_learn_graph(iters), feeds)[CLF_FILTER_OUT])

    def _forced(self, frame_num: int) -> bool:
        """Every frame before `always_update_before` (alr_init_buff) updates."""
        return 0 < self.config.always_update_before and frame_num < self.config.always_update_before

    def _scheduled(self, frame_num: int, skipping: int) -> bool:
        return (frame_num - 1) % skipping == 0 or self._forced(frame_num)

    def _seg_update(self, state: RTSState, t: int) -> tuple[RTSState, str]:
        """§B3 per frame 1: insert (previous features, previous soft mask cropped there) when
        t > 2 and safe; 3 steps on schedule. Returns the state and 'no' / 'insert' / 'learn'."""
        safe = self._forced(t) or not (state.lost_seg or state.lost_clf)
        if t <= 2 or not safe or state.prev_crop is None:
            return state, "no"
        enc = self.runner.run(LABEL_ENC, {MASK: crop_mask(state.prev_raw, state.prev_crop)})
        sample = (np.asarray(state.prev_seg_x), enc[LABEL], enc[LABEL_W])
        memory, _ = state.seg_memory.insert(sample, self.config.seg_learning_rate)
        if not self._scheduled(t, self.config.seg_train_skipping):
            return replace(state, seg_memory=memory), "insert"
        seg_filter = self._seg_learn(state.seg_filter, memory, self.config.seg_update_iters)
        return replace(state, seg_memory=memory, seg_filter=seg_filter), "learn"

    # -- reposition (§B3 per frame 2) -------------------------------------------------------------
    def _reposition(self, state: RTSState) -> RTSState:
        """The search state from the previous frame: seg 'var' box, else the classifier's, else
        lost (position kept, search scale from the recent larger scales)."""
        no_seg = state.seg_too_small or state.lost_seg
        if state.lost_clf:
            return self._lost(state)
        if no_seg:
            return self._rescale(state, state.clf_pos, state.clf_sz)
        found = var_box(state.prev_raw)
        if found is None:
            return self._rescale(state, state.pos, state.target_sz)
        return self._rescale(state, found[0], found[1] * self.config.var_size_factor)

    def _rescale(self, state: RTSState, pos: np.ndarray, size: np.ndarray) -> RTSState:
        """`update_target_scale_size`: scale from the size, clipped per frame; the size keeps
        the first frame's aspect ratio (base size x scale); the scale joins the history."""
        new = math.sqrt(np.prod(size) / np.prod(state.base_target_sz))
        scale = clip_scale(new, state.target_scale, self.config.max_scale_change)
        scales = (state.scales + (scale,))[-self.config.rescale_history:]
        return replace(state, pos=np.asarray(pos, np.float64), target_scale=scale,
                       target_sz=state.base_target_sz * scale, scales=scales, not_found_count=0)

    def _lost(self, state: RTSState) -> RTSState:
        count = state.not_found_count + 1
        scale = rescaled(state.scales, count, self.config.rescale_history,
                         self.config.rescale_max_scales)
        return replace(state, target_scale=scale, not_found_count=count)

    def _sample_pos(self, state: RTSState) -> np.ndarray:
        """`get_centered_sample_pos`: half a seg cell off when feature + kernel size is odd."""
        return state.pos + self.center_shift * state.target_scale

    # -- per frame -------------------------------------------------------------------------------
    def track(self, frame: np.ndarray, state: RTSState) -> tuple[RTSState, FrameResult]:
        """One frame of §B3: learner update, reposition, crop, features, head, paste-back, mask
        box, classifier localisation and update (§B4 output)."""
        check_frame(frame)
        check_same_size(frame, state)
        t = state.frame_num + 1
        with self.timer("update"):
            moved, seg_update = self._seg_update(state, t)
            moved = self._reposition(moved)
        geo = sample_geometry(state.frame_hw, self._sample_pos(moved),
                              moved.target_scale * np.asarray(self.crop_hw), self.crop_hw,
                              self.config.border_mode)
        with self.timer("crop"):
            im = crop_image(frame, geo)
        with self.timer("features"):
            feat = self.runner.run(FEAT, {IM: im})
        with self.timer("head"):
            out = self.runner.run(HEAD, {**{n: feat[n] for n in FEATURES},
                                         SEG_FILTER: moved.seg_filter, CLF_FILTER: moved.clf_filter})
        bad = nonfinite(out, (MASK_LOGITS, CLF_SCORES))
        if bad:
            return state, invalid_result(state, bad)
        with self.timer("post"):
            logits = paste_logits(out[MASK_LOGITS], geo, state.frame_hw,
                                  self.config.paste_background_logit)
            prob = sigmoid(logits)
            mask = (logits > 0).astype(np.uint8)
            seg_box = mask_box(mask)
        lost_seg = seg_box == LOST_SEG_BOX
        too_small = bool(prob.sum(dtype=np.float64) <= self.config.min_mask_area)
        with self.timer("classifier"):
            moved, peak, flag, clf_update = self._classifier(
                moved, out[CLF_SCORES], feat[CLF_X], geo, seg_box, not (lost_seg or too_small), t)
        if moved is None:
            return state, invalid_result(state, "nonfinite clf_filter_out")
        box = clf_box(moved.clf_pos, moved.clf_sz) if (lost_seg or too_small) else seg_box
        new = replace(moved, frame_num=t, lost_seg=lost_seg, seg_too_small=too_small,
                      lost_clf=flag == NOT_FOUND, prev_raw=prob, prev_crop=geo,
                      prev_seg_x=np.asarray(feat[SEG_X]), box=box)
        extra = {"crop_box": crop_box_xywh(geo), "clf_flag": flag, "lost_seg": lost_seg,
                 "seg_too_small": too_small, "seg_update": seg_update, "clf_update": clf_update,
                 "search_scale": moved.target_scale}
        return new, frame_result(box, peak, flag == NOT_FOUND, mask, prob, extra)

    def _classifier(self, state: RTSState, scores: np.ndarray, clf_x: Any, geo: CropGeometry,
                    seg_box: Box, seg_ok: bool, t: int) -> tuple[RTSState | None, float, str, str]:
        """`clf_branch.update_state`: localise, move the classifier's target (the seg box when
        the mask is usable, else the peak when found), then memory insert and 2 steps."""
        peak, disp, flag = localize(np.asarray(scores), self.config.target_not_found_threshold)
        state = self._move_clf(state, disp, flag, geo, seg_box, seg_ok)
        if flag == NOT_FOUND:
            return state, peak, flag, "no"
        center = label_center(state.clf_pos, geo.sample_pos, geo.sample_scale, self.clf_hw,
                              self.crop_hw)
        label = clf_label(self.clf_hw, state.clf.sigma, center)
        memory, _ = state.clf_memory.insert((np.asarray(clf_x, np.float32), label),
                                            self.config.clf_learning_rate)
        if not self._scheduled(t, self.config.clf_train_skipping):
            return replace(state, clf_memory=memory), peak, flag, "insert"
        clf_filter = self._clf_learn(state.clf_filter, memory, self.config.clf_update_iters)
        if not np.isfinite(clf_filter).all():
            return None, peak, flag, "learn"
        return replace(state, clf_memory=memory, clf_filter=clf_filter), peak, flag, "learn"

    def _move_clf(self, state: RTSState, disp: np.ndarray, flag: str, geo: CropGeometry,
                  seg_box: Box, seg_ok: bool) -> RTSState:
        if seg_ok:
            pos, size, scale = target_from_box(seg_box, self.crop_hw, self.config.search_area_scale)
            return replace(state, clf_pos=pos, clf_sz=size, clf_scale=scale)
        if flag == NOT_FOUND:
            return state
        cell = np.asarray(self.crop_hw, np.float64) / np.asarray(self.clf_hw, np.float64)
        new_pos = geo.sample_pos + disp * cell * geo.sample_scale
        scale = float(np.clip(geo.sample_scale, state.clf.min_scale, state.clf.max_scale))
        size = state.clf.base_sz * scale
        offset = (self.config.target_inside_ratio - 0.5) * size
        pos = np.maximum(np.minimum(new_pos, np.asarray(state.frame_hw, np.float64) - offset), offset)
        return replace(state, clf_pos=pos, clf_sz=size, clf_scale=scale)

    # -- shared tracker interface ----------------------------------------------------------------
    def initial_result(self, state: RTSState) -> FrameResult:
        """The init frame's output (the given box itself)."""
        return initial_result(state)

    def frame_state(self, reference: RTSState, own: RTSState) -> RTSState:
        """For frame-level parity: the reference's geometry, flags and previous output with this
        tracker's own learned filters, memories and previous features, so one step compares the
        networks and learners, not accumulated drift of the search window."""
        return replace(reference, seg_filter=own.seg_filter, clf_filter=own.clf_filter,
                       seg_memory=own.seg_memory, clf_memory=own.clf_memory,
                       prev_seg_x=own.prev_seg_x)



def crop_box_xywh(geo: CropGeometry) -> Box:
    """The crop's source window (x, y, w, h) in image pixels, from the release's coords."""
    c = geo.coords
    return float(c[1]), float(c[0]), float(c[3] - c[1]), float(c[2] - c[0])


def frame_result(box: Box, peak: float, lost: bool, mask: np.ndarray, prob: np.ndarray,
                 extra: dict) -> FrameResult:
    x, y, w, h = box
    center, size = np.array([x + w / 2, y + h / 2]), np.array([w, h], dtype=np.float64)
    return FrameResult(center=center, size=size, polygon=box_polygon((*center, w, h)),
                       score=peak, lost=lost, mask=mask, prob=prob, extra=extra)


def check_setup(config: TrackerConfig, sizes: GraphSizes) -> None:
    """Settings this runtime implements, and graph sizes it can track with (one-line errors)."""
    if config.border_mode not in BORDER_MODES:
        raise MasktrtError(f"RTS border_mode '{config.border_mode}' is unknown",
                           f"use one of {', '.join(BORDER_MODES)}")
    if config.seg_to_bb_mode != "var":
        raise MasktrtError(f"RTS seg_to_bb_mode '{config.seg_to_bb_mode}' is not implemented",
                           "use 'var' (the released setting)")
    if any(int(v) % CLF_STRIDE for v in sizes.crop_hw):
        raise MasktrtError(f"RTS crop {tuple(sizes.crop_hw)} is not a multiple of {CLF_STRIDE}",
                           "export RTS at a crop whose sides are multiples of 32")
    if min(config.clf_memory, sizes.clf_memory) < CLF_INIT_SAMPLES:
        raise MasktrtError(f"RTS classifier memory of {min(config.clf_memory, sizes.clf_memory)} "
                           f"slots cannot hold the {CLF_INIT_SAMPLES} init samples",
                           f"export and configure at least {CLF_INIT_SAMPLES} classifier slots")


TRACKER = RTSTracker  # what the registry runs for this folder (masktrt.registry.entry_of)
