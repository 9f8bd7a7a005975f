"""OceanPlus's (ARN's) spec: graphs, geometry, hyper-parameters and parity budgets, in one place.

Values are those of the released tracker (TracKit `OceanPlus`, spec arn-rts.md Part A and its
appendix, which wins where they differ). Every module, exporter and test imports them from here;
nothing else writes 127, 255/287, 0.004 or 0.95 again.

Graphs (template runs once per target; exactly one of the track graphs runs every frame, chosen
once per sequence by the target/image area rule, `instance_size_for`):
    template   z 1x3x127x127, z_mask 1x1x127x127
               -> zf_reg, zf_cls 1x256x7x7 (equal at init), lut_key 1x64x15x15, lut_value 1x1x15x15
    track_255  x 1x3x255x255, zf_reg, zf_cls, lut_key, lut_value
               -> cls 1x1x25x25 logits, bbox 1x4x25x25 (l,t,r,b crop px), mask_prob 1x1x255x255,
                  xf 1x256x31x31 (search features the template update samples)
    track_287  the same at 287: cls/bbox 29x29, mask_prob 287x287, xf 35x35
`zf_cls` is an input because the host-side template update (§A2) replaces it; `zf_reg` and the
LUT never change after init. Export option `correlation`: `dynamic` or `unrolled` (as SiamMask's);
`refit` is not offered: the correlation kernels are computed inside track from zf_cls (§A6).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping

from masktrt.budgets import ACCURACY_LIMITS, ACCURACY_WHY, Budget, accuracy_budgets
from masktrt.geometry import CONTEXT_AMOUNT  # noqa: F401 (the shared Siamese rule, re-exported)
from masktrt.specs.base import (PER_FRAME, PER_TARGET, SEARCH_INPUT, TEMPLATE, TEMPLATE_INPUT, GraphDecl,
                                HeldOut, Preprocessing, TrackerSpec, siamese_section_problem)

NAME = "oceanplus"
EXEMPLAR_SIZE = 127  # template crop side (pixels)
SMALL_INSTANCE, BIG_INSTANCE = 255, 287  # search crop sides: one per sequence (§A3 init 1)
INSTANCE_SIZES = (SMALL_INSTANCE, BIG_INSTANCE)
SMALL_TARGET_RATIO = 0.004  # target area / image area below this -> BIG_INSTANCE
TOTAL_STRIDE = 8
TEMPLATE_FEATURE = 15  # neck map side of the template (zf_ori, the LUT's side)
TEMPLATE_BORDER = 4  # centre crop of zf_ori: 15 -> 7 (kernel side)
KERNEL_SIDE = TEMPLATE_FEATURE - 2 * TEMPLATE_BORDER  # 7
EMBED = 64  # ARN embedding channels (lut_key)
NECK = 256  # neck / head channels (zf, xf)
MIN_TARGET_SIZE = 10.0  # clamp floor for w and h (§A3 per frame 12)
MIN_MASK_PIXELS = 10  # VOT: a smaller binary mask is replaced by the filled box (§A4.5)
# presets evaluated through the VOT wrapper, the only place that small-mask rule exists (§A4.5);
# DAVIS reports the thresholded mask as it is (an absent object is an empty mask)
SMALL_MASK_BOX_PRESETS = ("vot2020",)
TEMPLATE_MASK_THRESHOLD = 0.5  # the first-frame mask crop is binarised at this (§A3 init 4)
# template update (§A2): fused peak score above UPDATE_SCORE triggers it
UPDATE_SCORE = 0.95
LAMBDA_U = 0.1  # moving-average rate, scaled by the peak score
LAMBDA_S = 0.2  # weight of the first-frame template in zf_cls
UPDATE_CONTEXT = 0.3  # grid extent: (w + 0.3 (w + h)) / stride feature cells
UPDATE_GRID_POINTS = 17  # linspace points over that extent ...
UPDATE_GRID_KEEP = KERNEL_SIDE  # ... of which the middle 7 are sampled
CYCLIC_INIT_STEPS = 3  # box-only init: LUT rebuilt from the predicted mask r times (paper §4, §A8)
VARIANTS = ("mss", "mms")  # single-stage (VOT-RT, OceanPlusMSS.pth) / multi-stage (OceanPlusMMS.pth)


def score_size(instance: int) -> int:
    """Side of the cls/bbox maps: 25 at 255, 29 at 287 (§A3)."""
    return (instance - EXEMPLAR_SIZE) // TOTAL_STRIDE + 1 + 8


def feature_size(instance: int) -> int:
    """Side of the stride-8 search maps (xf, layer2/3): 31 at 255, 35 at 287."""
    return score_size(instance) + 6  # 3x3 valid encoder conv (-2), 5x5 correlation (-4)


def instance_size_for(target_area: float, image_area: float) -> int:
    """The search side for a whole sequence, from the first frame (§A3 init 1)."""
    return BIG_INSTANCE if target_area / image_area < SMALL_TARGET_RATIO else SMALL_INSTANCE


# -- graph and tensor names --------------------------------------------------------------------
TEMPLATE_MASK = "z_mask"  # TEMPLATE, TEMPLATE_INPUT (z) and SEARCH_INPUT (x): specs.base
ZF_REG, ZF_CLS, LUT_KEY, LUT_VALUE = "zf_reg", "zf_cls", "lut_key", "lut_value"
TARGET_STATE = (ZF_REG, ZF_CLS, LUT_KEY, LUT_VALUE)  # template outputs = track's state inputs
CLS, BBOX, MASK_PROB, XF = "cls", "bbox", "mask_prob", "xf"
TRACK_OUTPUTS = (CLS, BBOX, MASK_PROB, XF)


def track_graph(instance: int) -> str:
    """The track graph's name for a search side (`track_255`, `track_287`)."""
    return f"track_{instance}"


TRACK_GRAPHS = tuple(track_graph(s) for s in INSTANCE_SIZES)
GRAPHS = (TEMPLATE,) + TRACK_GRAPHS
TRACK_GROUP = "track"  # the track graphs are alternatives: one per target, opened on first use


def tensor_shapes(graph: str) -> dict[str, tuple[int, ...]]:
    """Full-width shapes of `graph`'s tensors by name (spec §A1 "Shapes (measured)", §A6)."""
    kernel = (1, NECK, KERNEL_SIDE, KERNEL_SIDE)
    state = {ZF_REG: kernel, ZF_CLS: kernel, LUT_KEY: (1, EMBED, TEMPLATE_FEATURE, TEMPLATE_FEATURE),
             LUT_VALUE: (1, 1, TEMPLATE_FEATURE, TEMPLATE_FEATURE)}
    if graph == TEMPLATE:
        crop = (1, 3, EXEMPLAR_SIZE, EXEMPLAR_SIZE)
        return {TEMPLATE_INPUT: crop, TEMPLATE_MASK: (1, 1, EXEMPLAR_SIZE, EXEMPLAR_SIZE), **state}
    s = INSTANCE_SIZES[TRACK_GRAPHS.index(graph)]
    r, f = score_size(s), feature_size(s)
    return {SEARCH_INPUT: (1, 3, s, s), **state, CLS: (1, 1, r, r), BBOX: (1, 4, r, r),
            MASK_PROB: (1, 1, s, s), XF: (1, NECK, f, f)}


CORRELATIONS = ("dynamic", "unrolled")


@dataclass(frozen=True)
class TrackerConfig:
    """Per-dataset hyper-parameters (§A3 table) plus the documented lost threshold.

    `lost_score`: a frame is flagged lost when the chosen cell's sigmoid score is below it. 0.3 is
    our choice, not the official code's (it has no such flag), as for SiamMask: well under the
    scores of confidently tracked frames, above those of a target that has left. The online
    branch's `online_ratio` is not here: OceanPlus is deployed without the online classifier.
    """

    name: str
    penalty_k: float
    lr: float
    window_influence: float
    seg_thr: float
    small_size: int = SMALL_INSTANCE
    big_size: int = BIG_INSTANCE
    lost_score: float = 0.3

    def to_dict(self) -> dict:
        return asdict(self)


PRESETS: dict[str, TrackerConfig] = {
    "vot2020": TrackerConfig("vot2020", penalty_k=0.06, lr=0.644, window_influence=0.484,
                             seg_thr=0.9),
    "davis2016": TrackerConfig("davis2016", penalty_k=0.032, lr=0.98, window_influence=0.45,
                               seg_thr=0.84),
    "davis2017": TrackerConfig("davis2017", penalty_k=0.031, lr=1.0, window_influence=0.35,
                               seg_thr=0.84),
}
DEFAULT_PRESET = "vot2020"  # the official fallback for an unknown dataset (§A3)
# which released decoder each preset was evaluated with (§A5): VOT-RT uses MSS, VOS uses MMS
PRESET_VARIANT = {"vot2020": "mss", "davis2016": "mms", "davis2017": "mms"}


def geometry() -> dict[str, Any]:
    """This masktrt's tracker geometry, as recorded in (and checked against) the contract."""
    return {"exemplar_size": EXEMPLAR_SIZE, "instance_sizes": list(INSTANCE_SIZES),
            "score_sizes": [score_size(s) for s in INSTANCE_SIZES],
            "feature_sizes": [feature_size(s) for s in INSTANCE_SIZES],
            "small_target_ratio": SMALL_TARGET_RATIO, "total_stride": TOTAL_STRIDE,
            "context_amount": CONTEXT_AMOUNT, "kernel_side": KERNEL_SIDE,
            "min_target_size": MIN_TARGET_SIZE, "min_mask_pixels": MIN_MASK_PIXELS,
            "template_mask_threshold": TEMPLATE_MASK_THRESHOLD}


def template_update() -> dict[str, Any]:
    """The host-side template update's constants (§A2), recorded in the contract."""
    return {"score": UPDATE_SCORE, "lambda_u": LAMBDA_U, "lambda_s": LAMBDA_S,
            "context": UPDATE_CONTEXT, "grid_points": UPDATE_GRID_POINTS,
            "grid_keep": UPDATE_GRID_KEEP, "sampling": "bilinear, align_corners=False, float64"}


# -- parity budgets ------------------------------------------------------------------------------
# Set before measuring, from what tracking needs; levels as in masktrt/budgets.py.
_TENSOR_FP32_WHY = (
    "float32 rounding only. Tracking needs the cls peak and the bbox distances unchanged: 2e-4 of "
    "a map's range cannot reorder cells that differ by more (the window and penalties separate "
    "candidates by far more), moves a box edge by ~0.05 px of a 255 crop, and flips a mask pixel "
    "only where its probability is within 2e-4 of seg_thr. Same trunk, same 0..255 input as "
    "SiamMask (measured 6.8e-5 there), so the same bound")
_TENSOR_FP16_WHY = (
    "FP16 weights and activations (11-bit mantissa). 1e-2 of a map's range keeps the cls peak "
    "among cells that the window already ranks apart, moves a box edge by under 2 px before the "
    "size smoothing, and moves the mask_prob contour by a fraction of a pixel where the "
    "probability crosses seg_thr steeply. The bbox head's exp turns absolute error into relative "
    "error, which the range normalisation keeps comparable")
_LOOP_FP32_WHY = (
    "FP32 graphs differ from PyTorch by rounding only; besides an argmax flip between near-equal "
    "cells, the template update is a threshold (fused score > 0.95) that can switch on in one "
    "run and not the other, after which zf_cls differs and the runs drift by fractions of a cell")
_FP16_WHY = ("FP16 rounding moves scores by ~1e-3 relative; trajectories must stay together. A "
             "rare update-threshold switch (score near 0.95) is allowed for in the minimum")
_INT8_LOOP_WHY = (
    "INT8 adds quantisation noise to every score, so near-equal candidates flip, the 0.95 "
    "update threshold switches more often and the closed loop drifts by fractions of a cell; "
    "the field reports ~10% relative accuracy loss for INT8 Siamese trackers. A mean agreement "
    "below these means the INT8 tracker follows another trajectory")
_INT8_MIN_WHY = ("one frame below 0.5 box IoU with the reference is a different track by OTB's "
                 "success threshold; masks are allowed a little less (their boundary pixels flip "
                 "with the probability map's noise before the box moves)")

BUDGETS: tuple[Budget, ...] = (
    Budget("tensor-fp32", "tensor", "fp32", "max_rel_range_err", 2e-4, "max", _TENSOR_FP32_WHY),
    Budget("tensor-fp16", "tensor", "fp16", "max_rel_range_err", 1e-2, "max", _TENSOR_FP16_WHY),
    Budget("frame-fp32-box", "frame", "fp32", "box_iou_min", 0.99, "min", _LOOP_FP32_WHY),
    Budget("frame-fp32-mask", "frame", "fp32", "mask_iou_min", 0.98, "min", _LOOP_FP32_WHY),
    Budget("loop-fp32-box-mean", "closed-loop", "fp32", "box_iou_mean", 0.98, "min", _LOOP_FP32_WHY),
    Budget("loop-fp32-box-min", "closed-loop", "fp32", "box_iou_min", 0.90, "min", _LOOP_FP32_WHY),
    Budget("loop-fp32-mask-mean", "closed-loop", "fp32", "mask_iou_mean", 0.97, "min",
           _LOOP_FP32_WHY),
    Budget("frame-fp16-box", "frame", "fp16", "box_iou_min", 0.90, "min", _FP16_WHY),
    Budget("frame-fp16-mask", "frame", "fp16", "mask_iou_min", 0.85, "min", _FP16_WHY),
    Budget("loop-fp16-box-mean", "closed-loop", "fp16", "box_iou_mean", 0.95, "min", _FP16_WHY),
    Budget("loop-fp16-box-min", "closed-loop", "fp16", "box_iou_min", 0.70, "min", _FP16_WHY),
    Budget("loop-fp16-mask-mean", "closed-loop", "fp16", "mask_iou_mean", 0.90, "min", _FP16_WHY),
    Budget("int8-block-noise", "block", "int8", "noise_to_signal", 0.10, "max",
           "sensitivity analysis: one block quantised alone may add at most a tenth of an output's "
           "spread (rms error / std); errors of ~60 quantised layers add in quadrature, so blocks "
           "beyond this leave no room for the rest and `--keep auto` keeps them in float"),
    Budget("loop-int8-box-mean", "closed-loop", "int8", "box_iou_mean", 0.85, "min", _INT8_LOOP_WHY),
    Budget("loop-int8-box-min", "closed-loop", "int8", "box_iou_min", 0.50, "min", _INT8_MIN_WHY),
    Budget("loop-int8-mask-mean", "closed-loop", "int8", "mask_iou_mean", 0.80, "min",
           _INT8_LOOP_WHY),
    Budget("loop-int8-mask-min", "closed-loop", "int8", "mask_iou_min", 0.40, "min", _INT8_MIN_WHY),
    # -- the verdict: what a precision loses against the ground truth (benchmarks/accuracy.py) --
    *accuracy_budgets(ACCURACY_LIMITS, ACCURACY_WHY),
)


class OceanPlusTrackerSpec(TrackerSpec):
    """OceanPlus's contract section: geometry, window, template update, box-only initialisation."""

    def section(self, options: Mapping[str, Any]) -> dict[str, Any]:
        return {"geometry": geometry(), "template_update": template_update(),
                "track_graphs": {str(s): track_graph(s) for s in INSTANCE_SIZES},
                "window": {"kind": "cosine", "score_sizes": [score_size(s) for s in INSTANCE_SIZES]},
                "cyclic_init_steps": CYCLIC_INIT_STEPS}

    def section_problem(self, section: Any, options: Mapping[str, Any]) -> str | None:
        return siamese_section_problem(self.name, section, options, CORRELATIONS, geometry())


SPEC = OceanPlusTrackerSpec(
    name=NAME,
    summary="OceanPlus (ARN): box and mask; template once, one track graph (255 or 287) per frame",
    graphs=(GraphDecl(TEMPLATE, (TEMPLATE_INPUT, TEMPLATE_MASK), TARGET_STATE, runs=PER_TARGET),)
    + tuple(GraphDecl(g, (SEARCH_INPUT,) + TARGET_STATE, TRACK_OUTPUTS, runs=PER_FRAME,
                      group=TRACK_GROUP) for g in TRACK_GRAPHS),
    presets=PRESETS,
    default_preset=DEFAULT_PRESET,
    # `x` has one side per track graph, so its sizes are keyed "graph/tensor" (see NOTES.md)
    preprocessing=Preprocessing(sizes={TEMPLATE_INPUT: EXEMPLAR_SIZE,
                                       **{f"{track_graph(s)}/{SEARCH_INPUT}": s
                                          for s in INSTANCE_SIZES}}),
    budgets=BUDGETS,
    options={"correlation": "dynamic"},
    batch_graphs=TRACK_GRAPHS,  # batch=dynamic: N crops + the N targets' state stacked
    variants=VARIANTS,  # mss first: the default, as the default preset vot2020 runs it
    demo_weights="demo.safetensors",  # under-trained: MODEL_CARD.md
    held_out=HeldOut(preset="davis2016", start_from_mask=True),  # the official DAVIS protocol
    stages={"init": ("crop", "template", "search"), "track": ("crop", "search", "select", "update",
                                                              "post")},
    stage_help="crop: search-window crop+resize; search: the track graph call incl. copies (at "
               "init: the cyclic-init track runs of a box-only start); select: sigmoid, "
               "penalties, window, argmax, size smoothing, clamping; update: host template update "
               "(frames whose fused peak > 0.95); post: paste-back + threshold + polygon",
)
