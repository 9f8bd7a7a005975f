"""Answering a batch of tracking requests with one tracker core and the per-stream table.

The dynamic batcher hands over requests of several streams at once. On a core whose graphs take
a target batch (export option batch=dynamic) the track rows of different streams go through one
`core.track_many(frames, states)`: each row's crop is cut from its own stream's frame, the crops
and template tensors are stacked into one search (and one refine) call, and selection and
paste-back stay per row; results are bit-identical to per-row `core.track`. Other rows (init,
close, a stream's second row in the same batch) and every row on a batch-1 core run one by one
in batch order.

Every row is answered on its own: a frame that does not decode, a frame of the wrong size, an
unknown stream or any tracker failure becomes that row's `error`, and its stream's state stays
as it was, so other rows, and other streams, never see it. For the batched call this means:
rows are decoded and validated first and only the good ones are batched; if the batched call
still raises (a state that breaks the tracker), the same rows are retried one by one, so the
failure lands on its own row.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from masktrt.errors import MasktrtError
from masktrt.runtime.serve import protocol as p
from masktrt.runtime.serve.streams import StreamTable
from masktrt.runtime.trackers.checks import check_frame, check_same_size


@dataclass
class ServiceStats:
    """Counts since start: batches, rows, errors, the batch sizes the batcher formed, batched
    track calls (`track_many`) and how many of them fell back to per-row calls."""

    batches: int = 0
    rows: int = 0
    errors: int = 0
    sizes: dict[int, int] = field(default_factory=dict)
    batched_calls: int = 0
    fallbacks: int = 0

    def add(self, size: int, errors: int) -> None:
        self.batches, self.rows, self.errors = self.batches + 1, self.rows + size, self.errors + errors
        self.sizes[size] = self.sizes.get(size, 0) + 1


def batched_core(core: Any) -> bool:
    """Whether `core` can track several streams' frames in one call: it has `track_many` and
    its runner's contract records options.batch == "dynamic" (a batch-1 export would only loop)."""
    from masktrt.runtime.trackers.batched import runner_batched

    return callable(getattr(core, "track_many", None)) and \
        runner_batched(getattr(core, "runner", None))


def together(requests: list[p.Request]) -> list[int]:
    """Rows that may share one batched track call: track rows of a stream with no other row in
    this batch (a stream's rows depend on each other in order; these depend on no other row)."""
    counts: dict[str, int] = {}
    for request in requests:
        counts[request.stream] = counts.get(request.stream, 0) + 1
    return [i for i, r in enumerate(requests) if r.command == p.TRACK and counts[r.stream] == 1]


class TrackingService:
    """Tracker state per stream behind one core (a runtime tracker over one runner)."""

    def __init__(self, core: Any, table: StreamTable | None = None,
                 max_pixels: int = p.MAX_PIXELS) -> None:
        self.core = core
        self.table = table if table is not None else StreamTable()
        self.max_pixels = max_pixels  # per frame and mask, checked from the header
        self.stats = ServiceStats()
        self.batched = batched_core(core)

    def infer(self, **inputs: np.ndarray) -> dict[str, np.ndarray]:
        """The Triton infer function body: input tensors [B, ...] -> output tensors [B, ...]."""
        requests = p.requests_from_batch(inputs)
        responses = self.handle(requests)
        return p.batch_of_responses(responses)

    def handle(self, requests: list[p.Request]) -> list[p.Response]:
        """One response per request, in order; failures stay in their own row."""
        self.table.expire()
        batch = len(requests)
        rows = together(requests) if self.batched else []
        answered = self._track_together(requests, rows, batch) if rows else {}
        responses = [answered[i] if i in answered else self.answer(r, batch)
                     for i, r in enumerate(requests)]
        self.stats.add(batch, sum(not r.ok for r in responses))
        return responses

    def answer(self, request: p.Request, batch: int) -> p.Response:
        return guarded(request, batch, lambda: self._dispatch(request, batch))

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

        frame = p.decode_image(request.frame, "frame", max_pixels=self.max_pixels)
        box = _init_box(request.box)
        mask = p.decode_mask(request.mask, self.max_pixels)
        state = init_call(self.core, frame, box, mask)()
        self.table.open(request.stream, state, request.seq)
        result = initial_result(self.core, state, mask)
        if result is None:
            return p.Response(request.stream, request.seq, box=np.asarray(box, np.float64), batch=batch)
        return p.response_of_result(request, result, batch)

    def _track(self, request: p.Request, batch: int) -> p.Response:
        state, frame = self._prepare(request)
        return self._track_one(request, state, frame, batch)

    def _track_one(self, request: p.Request, state: Any, frame: np.ndarray,
                   batch: int) -> p.Response:
        state, result = self.core.track(frame, state)
        return self._advance(request, state, result, batch)

    def _advance(self, request: p.Request, state: Any, result: Any, batch: int) -> p.Response:
        """Keep the stream's new state and answer its result (after a successful call only)."""
        self.table.advance(request.stream, state, request.seq)
        return p.response_of_result(request, result, batch)

    def _prepare(self, request: p.Request) -> tuple[Any, np.ndarray]:
        """The row's state and decoded frame, checked against each other before any tracking."""
        state = self.table.current(request.stream, request.seq)
        frame = p.decode_image(request.frame, "frame", max_pixels=self.max_pixels)
        check_frame(frame)
        check_same_size(frame, state)
        return state, frame

    # -- several streams in one batched call ---------------------------------------------------
    def _track_together(self, requests: list[p.Request], rows: list[int],
                        batch: int) -> dict[int, p.Response]:
        """Rows `rows` (independent track rows): bad ones answered with their error, the good
        ones tracked in one `track_many` call."""
        ready: dict[int, tuple[Any, np.ndarray]] = {}
        answered: dict[int, p.Response] = {}
        for i in rows:
            try:
                ready[i] = self._prepare(requests[i])
            except Exception as exc:  # this row only: undecodable, resized, unknown stream
                answered[i] = error_of(requests[i], exc, batch)
        answered.update(self._track_many(requests, ready, batch))
        return answered

    def _track_many(self, requests: list[p.Request], ready: dict[int, tuple[Any, np.ndarray]],
                    batch: int) -> dict[int, p.Response]:
        """One batched call for the validated rows; if it raises, the rows one by one, so a
        state that breaks the tracker fails only its own row."""
        if not ready:
            return {}
        rows = list(ready)
        try:
            states, results = self.core.track_many([ready[i][1] for i in rows],
                                                   [ready[i][0] for i in rows])
        except Exception:  # isolate the culprit below; the others still get their answers
            self.stats.fallbacks += 1
            return {i: guarded(requests[i], batch, lambda i=i: self._track_one(
                requests[i], *ready[i], batch)) for i in rows}
        self.stats.batched_calls += 1
        return {i: guarded(requests[i], batch, lambda i=i, s=s, r=r: self._advance(
            requests[i], s, r, batch)) for i, s, r in zip(rows, states, results)}


def guarded(request: p.Request, batch: int, call: Callable[[], p.Response]) -> p.Response:
    """`call()`'s response, or the row's error: a tracker bug must not take other streams down."""
    try:
        return call()
    except Exception as exc:
        return error_of(request, exc, batch)


def error_of(request: p.Request, exc: Exception, batch: int) -> p.Response:
    """The row's error line: a MasktrtError as it is (problem and fix), anything else named."""
    text = str(exc) if isinstance(exc, MasktrtError) else f"{type(exc).__name__}: {exc}"
    return p.error_response(request, text, batch)


def _init_box(box: tuple[float, ...]) -> tuple[float, float, float, float]:
    if not np.all(np.isfinite(box)):
        raise MasktrtError("an init request without a box",
                           "send the target's box x, y, w, h with the stream's first frame")
    return tuple(float(v) for v in box)  # type: ignore[return-value]
