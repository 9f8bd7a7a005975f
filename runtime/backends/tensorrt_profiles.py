"""Optimisation profiles of a batched engine (export option batch=dynamic): N targets per call.

`masktrt build` gives a batched graph's engine one profile per opt point (engines/batch.py), each
spanning BATCH_MIN..BATCH_MAX targets on dimension 0 of every input. The runner reads them back
from the engine, not from the metadata, because the engine is what enforces them:
`ICudaEngine.get_tensor_profile_shape(input, profile)` gives (min, opt, max) and
`num_optimization_profiles` how many there are; an input's `get_tensor_shape` has -1 where the
dimension is dynamic. Output shapes are never profile data: the context infers them once every
input shape is set (`IExecutionContext.get_tensor_shape`).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from masktrt.errors import MasktrtError


@dataclass(frozen=True)
class Profile:
    """One optimisation profile's target counts (dimension 0 of its inputs)."""

    index: int
    min: int
    opt: int
    max: int

    def serves(self, n: int) -> bool:
        return self.min <= n <= self.max


@dataclass(frozen=True)
class BatchProfiles:
    """A batched engine's profiles and which of its inputs carry the target dimension."""

    profiles: tuple[Profile, ...]
    dynamic: tuple[str, ...]  # inputs whose dimension 0 is the target count

    @property
    def limit(self) -> int:
        return max(p.max for p in self.profiles)

    @property
    def widest(self) -> Profile:
        """The profile with the largest maximum: the one buffers are sized under."""
        return max(self.profiles, key=lambda p: (p.max, -p.index))

    def choose(self, n: int) -> Profile:
        """The profile tuned nearest n from above (smallest opt >= n), else the largest opt:
        kernels tuned for more rows than given run them; tuned for fewer may not be the fastest."""
        serving = [p for p in self.profiles if p.serves(n)]
        above = [p for p in serving if p.opt >= n]
        return min(above, key=lambda p: p.opt) if above else max(serving, key=lambda p: p.opt)

    def check(self, graph: str, n: int) -> None:
        """A one-line error when no profile serves n targets."""
        if any(p.serves(n) for p in self.profiles):
            return
        low = min(p.min for p in self.profiles)
        raise MasktrtError(f"{n} targets in one '{graph}' call: its engine takes {low} to {self.limit}",
                           f"split the targets into calls of at most {self.limit} (track_many does)")


def dims(shape: Iterable[Any]) -> tuple[int, ...]:
    """A TensorRT Dims (or any sequence) as a tuple of ints."""
    return tuple(int(d) for d in shape)


def profiles_of(engine: Any, inputs: tuple[str, ...]) -> BatchProfiles | None:
    """The engine's batch profiles; None for a static (batch-1) engine."""
    dynamic = tuple(t for t in inputs if -1 in dims(engine.get_tensor_shape(t)))
    if not dynamic:
        return None
    lead = dynamic[0]
    found = []
    for index in range(int(engine.num_optimization_profiles)):
        low, opt, high = (dims(s)[0] for s in engine.get_tensor_profile_shape(lead, index))
        found.append(Profile(index, low, opt, high))
    return BatchProfiles(tuple(found), dynamic)


def max_shape(engine: Any, tensor: str, profile: Profile) -> tuple[int, ...]:
    """An input's largest shape under `profile` (what its buffers are sized for)."""
    return dims(engine.get_tensor_profile_shape(tensor, profile.index)[2])


def rows(shape: tuple[int, ...], n: int) -> tuple[int, ...]:
    """An input's engine shape with its target dimension set to n."""
    return (n,) + tuple(shape[1:])
