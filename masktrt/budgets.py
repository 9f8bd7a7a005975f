"""Parity budgets: named thresholds with the reason each is what it is.

A budget is a named threshold with its justification (polygraphy's comparators in spirit). Each
tracker's spec holds its own table (`masktrt.specs.<tracker>.BUDGETS`), which `masktrt parity`,
the tests and the reports read. Levels: `tensor` (each subgraph output vs PyTorch), `frame` (one
frame's tracker outputs given identical state), `closed-loop` (whole trajectories vs the
reference) and `block` (INT8 sensitivity of one quantised block).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Budget:
    """`value` is an upper bound when `kind == 'max'` and a lower bound when `kind == 'min'`."""

    name: str
    level: str  # tensor | frame | closed-loop | block
    precision: str  # fp32 | fp16 | int8
    metric: str
    value: float
    kind: str  # 'max' (error) or 'min' (agreement)
    why: str

    def passes(self, measured: float) -> bool:
        return measured <= self.value if self.kind == "max" else measured >= self.value
