"""Answering a batch of tracking requests with one tracker core and the per-stream table.

The dynamic batcher hands over requests of several streams at once. Today each row runs its own
`core.init` / `core.track` in batch order (rows of one stream keep their order). Every row is
answered on its own: a frame that does not decode, a frame of the wrong size, an unknown stream
or any tracker failure becomes that row's `error`, and its stream's state stays as it was, so
other rows, and other streams, never see it.

Batched engine calls across streams (README "Tracking service"): the search and refine graphs
take a batch of crops, each cut from its own stream's frame, so a cross-stream `track_many` would
cut every row's crop from its own frame, stack crops and template kernels into one search call
and one refine call, and split the outputs back per row; selection and paste-back stay per row.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from masktrt.errors import MasktrtError
from masktrt.runtime.serve import protocol as p
from masktrt.runtime.serve.streams import StreamTable


@dataclass
class ServiceStats:
    """Counts since start: batches, rows, errors, and the batch sizes the batcher formed."""

    batches: int = 0
    rows: int = 0
    errors: int = 0
    sizes: dict[int, int] = field(default_factory=dict)

    def add(self, size: int, errors: int) -> None:
        self.batches, self.rows, self.errors = self.batches + 1, self.rows + size, self.errors + errors
        self.sizes[size] = self.sizes.get(size, 0) + 1


class TrackingService:
    """Tracker state per stream behind one core (a runtime tracker over one runner)."""

    def __init__(self, core: Any, table: StreamTable | None = None) -> None:
        self.core = core
        self.table = table if table is not None else StreamTable()
        self.stats = ServiceStats()

    def infer(self, **inputs: np.ndarray) -> dict[str, np.ndarray]:
        """The Triton infer function body: input tensors [B, ...] -> output tensors [B, ...]."""
        requests = p.requests_from_batch(inputs)
        responses = self.handle(requests)
        return p.batch_of_responses(responses)

    def handle(self, requests: list[p.Request]) -> list[p.Response]:
        """One response per request, in order; failures stay in their own row."""
        self.table.expire()
        responses = [self.answer(request, len(requests)) for request in requests]
        self.stats.add(len(requests), sum(not r.ok for r in responses))
        return responses

    def answer(self, request: p.Request, batch: int) -> p.Response:
        try:
            return self._dispatch(request, batch)
        except MasktrtError as exc:
            return p.error_response(request, str(exc), batch)
        except Exception as exc:  # a tracker bug must not take other streams down
            return p.error_response(request, f"{type(exc).__name__}: {exc}", batch)

    def _dispatch(self, request: p.Request, batch: int) -> p.Response:
        if request.command == p.INIT:
            return self._init(request, batch)
        if request.command == p.TRACK:
            return self._track(request, batch)
        if request.command == p.CLOSE:
            self.table.close(request.stream)
            return p.Response(request.stream, request.seq, batch=batch)
        raise MasktrtError(f"unknown command {request.command}",
                           f"send {', '.join(f'{v} ({k})' for k, v in p.COMMANDS.items())}")

    def _init(self, request: p.Request, batch: int) -> p.Response:
        from masktrt.runtime.loop import init_call, initial_result

        frame = p.decode_image(request.frame, "frame")
        box = _init_box(request.box)
        state = init_call(self.core, frame, box, p.decode_mask(request.mask))()
        self.table.open(request.stream, state, request.seq)
        result = initial_result(self.core, state)
        if result is None:
            return p.Response(request.stream, request.seq, box=np.asarray(box, np.float64), batch=batch)
        return p.response_of_result(request, result, batch)

    def _track(self, request: p.Request, batch: int) -> p.Response:
        state = self.table.current(request.stream, request.seq)
        frame = p.decode_image(request.frame, "frame")
        state, result = self.core.track(frame, state)
        self.table.advance(request.stream, state, request.seq)
        return p.response_of_result(request, result, batch)


def _init_box(box: tuple[float, ...]) -> tuple[float, float, float, float]:
    if not np.all(np.isfinite(box)):
        raise MasktrtError("an init request without a box",
                           "send the target's box x, y, w, h with the stream's first frame")
    return tuple(float(v) for v in box)  # type: ignore[return-value]

