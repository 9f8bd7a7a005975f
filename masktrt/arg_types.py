"""argparse types for every numeric option of the CLI and the `python -m` tools: parsed once,
range-checked where they are parsed.

`--width 0`, `--steps -5` or `--lr nan` would otherwise reach the code that uses them and fail
there (a division by zero, an empty loop that "succeeds", a NaN loss hours later). Each option
names its range once, here, and a value outside it is one usage line (exit code 2) naming the
option, the value and the range, before anything is loaded.
"""
from __future__ import annotations

import argparse
import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Number:
    """An argparse `type`: int or float, finite, within [low, high] (`above`: low excluded)."""

    kind: type = int
    low: float | None = None
    high: float | None = None
    above: bool = False

    def __call__(self, text: str) -> int | float:
        try:
            value = self.kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {self.wording()}") from None
        if not math.isfinite(value) or not self.within(value):
            raise argparse.ArgumentTypeError(f"{text} is not {self.wording()}")
        return value

    def within(self, value: float) -> bool:
        low_ok = self.low is None or (value > self.low if self.above else value >= self.low)
        return low_ok and (self.high is None or value <= self.high)

    def wording(self) -> str:
        what = "a whole number" if self.kind is int else "a finite number"
        if self.low is not None and self.high is not None:
            return f"{what} from {self.low:g} to {self.high:g}"
        if self.low is not None:
            return f"{what} {'>' if self.above else '>='} {self.low:g}"
        return what


COUNT = Number(int, 1)  # frames, steps, repeats, batch sizes: at least one
NON_NEGATIVE = Number(int, 0)  # seeds, warm-up frames, thread counts (0: all), indices
PORT = Number(int, 1, 65535)
POSITIVE = Number(float, 0, above=True)  # widths, learning rates, timeouts, minutes
NON_NEGATIVE_REAL = Number(float, 0)  # rates and delays where 0 means "none"
FRACTION = Number(float, 0, 1)  # shares and thresholds in [0, 1]
