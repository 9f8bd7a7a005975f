"""Parity budgets: one table, read by `masktrt parity`, the tests and the reports.

A budget is a named threshold with the reason it is what it is (polygraphy's comparators
in spirit). Levels: `tensor` (each subgraph output vs PyTorch), `frame` (one frame's tracker
outputs given identical state) and `closed-loop` (whole trajectories vs the reference).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Budget:
    """`value` is an upper bound when `kind == 'max'` and a lower bound when `kind == 'min'`."""

    name: str
    level: str  # tensor | frame | closed-loop
    precision: str  # fp32 | fp16 | int8
    metric: str
    value: float
    kind: str  # 'max' (error) or 'min' (agreement)
    why: str

    def passes(self, measured: float) -> bool:
        return measured <= self.value if self.kind == "max" else measured >= self.value


BUDGETS: list[Budget] = [
    # -- tensor level: max |a - b| / (max(b) - min(b)) per output, vs PyTorch FP32 --------------
    Budget("tensor-fp32", "tensor", "fp32", "max_rel_range_err", 2e-4, "max",
           "float32 rounding: measured up to 6.8e-5 (template kernels, full width, seeded random "
           "weights, 8 real crops); PyTorch's own FP32 differs from FP64 by the same 5e-5, "
           "because BN-folded biases cancel large 0..255-driven sums; 3x margin for other CPUs"),
    Budget("tensor-fp16", "tensor", "fp16", "max_rel_range_err", 1e-2, "max",
           "FP16 weights and activations (11-bit mantissa): measured up to 4.6e-3 (search loc) "
           "with the trained demo weights on 8 real crops; 2x margin. The seeded random weights "
           "exceed it (up to 10.5%: their BN-folded weights do not survive FP16 rounding), "
           "which is a finding about those weights, not a reason to loosen the budget"),
]


def budgets_for(level: str, precision: str) -> list[Budget]:
    return [b for b in BUDGETS if b.level == level and b.precision == precision]


def budget(name: str) -> Budget:
    for b in BUDGETS:
        if b.name == name:
            return b
    raise KeyError(name)

# -- frame and closed-loop levels: agreement with the PyTorch reference's outputs -------------
_FP32_WHY = ("FP32 graphs differ from PyTorch by float32 rounding only; an argmax can still flip "
             "between near-equal candidates, so a few frames may move by a fraction of a cell")
BUDGETS += [
    Budget("frame-fp32-box", "frame", "fp32", "box_iou_min", 0.99, "min", _FP32_WHY),
    Budget("frame-fp32-mask", "frame", "fp32", "mask_iou_min", 0.98, "min", _FP32_WHY),
    Budget("loop-fp32-box-mean", "closed-loop", "fp32", "box_iou_mean", 0.98, "min", _FP32_WHY),
    Budget("loop-fp32-box-min", "closed-loop", "fp32", "box_iou_min", 0.90, "min", _FP32_WHY),
    Budget("loop-fp32-mask-mean", "closed-loop", "fp32", "mask_iou_mean", 0.97, "min", _FP32_WHY),
    Budget("loop-fp32-polygon-mean", "closed-loop", "fp32", "polygon_iou_mean", 0.95, "min",
           _FP32_WHY),
]

# -- INT8 (explicit quantization, `masktrt calibrate`) ------------------------------------------
# Set before measuring, from what tracking needs, not from what the random model achieves.
_INT8_LOOP_WHY = ("INT8 adds quantisation noise to every score, so near-equal candidates flip and "
                  "the closed loop drifts by fractions of a cell; the field reports ~10% relative "
                  "accuracy loss for INT8 Siamese trackers (EAO 0.389 -> 0.347 on Xavier). A mean "
                  "agreement below these means the INT8 tracker follows another trajectory")
_INT8_MIN_WHY = ("one frame below 0.5 box IoU with the reference is a different track by OTB's "
                 "success threshold; masks are allowed a little less (their boundary pixels flip "
                 "with the probability map's noise before the box moves)")
BUDGETS += [
    Budget("int8-block-noise", "block", "int8", "noise_to_signal", 0.10, "max",
           "sensitivity analysis: one block quantised alone may add at most a tenth of an output's "
           "spread (rms error / std); errors of ~50 quantised layers add in quadrature, so blocks "
           "beyond this leave no room for the rest and `--keep auto` keeps them in float"),
    Budget("loop-int8-box-mean", "closed-loop", "int8", "box_iou_mean", 0.85, "min", _INT8_LOOP_WHY),
    Budget("loop-int8-box-min", "closed-loop", "int8", "box_iou_min", 0.50, "min", _INT8_MIN_WHY),
    Budget("loop-int8-mask-mean", "closed-loop", "int8", "mask_iou_mean", 0.80, "min", _INT8_LOOP_WHY),
    Budget("loop-int8-mask-min", "closed-loop", "int8", "mask_iou_min", 0.40, "min", _INT8_MIN_WHY),
]

# FP16 graphs: weights and activations rounded to 11-bit mantissas. The field reports FP16 as
# nearly free for Siamese trackers (EAO 0.392 -> 0.389 on Xavier, deployment.md), so trajectories
# should stay together; a rare argmax flip between near-equal cells is allowed for in the minimum.
_FP16_WHY = "FP16 rounding moves scores by ~1e-3 relative; trajectories must stay together"
BUDGETS += [
    Budget("frame-fp16-box", "frame", "fp16", "box_iou_min", 0.90, "min", _FP16_WHY),
    Budget("frame-fp16-mask", "frame", "fp16", "mask_iou_min", 0.85, "min", _FP16_WHY),
    Budget("loop-fp16-box-mean", "closed-loop", "fp16", "box_iou_mean", 0.95, "min", _FP16_WHY),
    Budget("loop-fp16-box-min", "closed-loop", "fp16", "box_iou_min", 0.70, "min", _FP16_WHY),
    Budget("loop-fp16-mask-mean", "closed-loop", "fp16", "mask_iou_mean", 0.90, "min", _FP16_WHY),
    Budget("loop-fp16-polygon-mean", "closed-loop", "fp16", "polygon_iou_mean", 0.90, "min",
           _FP16_WHY),
]
