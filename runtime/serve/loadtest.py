"""The load test: N streams of real sequences against a running server, checked frame by frame.

Each stream is a thread that sends its sequence's frames in order (frame 0 with the ground-truth
box as an init request, then track requests, then a close) at `rate` frames/s (0: back to back),
through its own loopback client. Streams start together unless staggered: stream i then starts
i x `stagger` later, wrapped into one frame period when paced (a phase: paced frames of all
streams no longer arrive at one instant, which is the worst case for a batcher, not the usual). Everything is bounded: the frame count per stream, the number
of streams, every call's timeout and the run's deadline (frames not sent by then count as
dropped). Afterwards the same backend runs each sequence offline, sequentially, through the one
sequence loop (`runtime.loop`), and every response is compared with the offline result of its
frame: stream and frame number echoed back, box, polygon, score, lost flag and mask identical.
"""
from __future__ import annotations

import json
import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from masktrt.errors import MasktrtError
from masktrt.runtime.serve import protocol as p

MAX_STREAMS = 64
MAX_STAGGER_S = 10.0


@dataclass(frozen=True)
class StreamPlan:
    """What one stream sends: `frames` (file paths) of a sequence, `box` on the first."""

    stream: str
    sequence: str
    frames: tuple[Path, ...]
    box: tuple[float, float, float, float]
    mask: Path | None = None


@dataclass
class StreamLog:
    """What came back: one response (or None: not sent / failed) per frame, and latencies."""

    plan: StreamPlan
    responses: list[p.Response | None] = field(default_factory=list)
    latencies_s: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def plan_streams(sequences: list[Any], count: int, frames: int, prefix: str = "s",
                 init_mask: bool = False) -> list[StreamPlan]:
    """`count` streams over `sequences` (masktrt Sequences) round-robin, `frames` frames each."""
    if not 1 <= count <= MAX_STREAMS:
        raise MasktrtError(f"{count} streams", f"give 1 to {MAX_STREAMS} streams")
    return [_plan(f"{prefix}{i}", sequences[i % len(sequences)], frames, init_mask)
            for i in range(count)]


def _plan(stream: str, sequence: Any, frames: int, init_mask: bool) -> StreamPlan:
    if not sequence.has_groundtruth:
        raise MasktrtError(f"sequence '{sequence.name}' has no ground truth",
                           "use sequences with groundtruth.txt or masks/ (the first box starts it)")
    count = min(frames, len(sequence))
    mask = sequence.mask_paths[0] if init_mask and sequence.has_masks else None
    return StreamPlan(stream, str(sequence.root), tuple(sequence.frame_paths[:count]),
                      tuple(float(v) for v in sequence.boxes[0]), mask)


def requests_of(plan: StreamPlan) -> list[p.Request]:
    """The stream's requests: init on frame 0, track on the rest (seq = frame number)."""
    first = p.Request(plan.stream, p.INIT, 0, plan.frames[0].read_bytes(), plan.box,
                      plan.mask.read_bytes() if plan.mask else b"")
    rest = [p.Request(plan.stream, p.TRACK, k, path.read_bytes())
            for k, path in enumerate(plan.frames[1:], start=1)]
    return [first, *rest]


def start_offsets(count: int, stagger_s: float, rate: float) -> list[float]:
    """Seconds each stream waits before its first frame: i x stagger, modulo one frame period
    when paced (so no offset exceeds a frame interval), at most MAX_STAGGER_S apart."""
    if not 0.0 <= stagger_s <= MAX_STAGGER_S:
        raise MasktrtError(f"a stagger of {stagger_s * 1000:g} ms",
                           f"give --stagger from 0 to {MAX_STAGGER_S * 1000:g} ms")
    period = 1.0 / rate if rate > 0 else float("inf")
    return [round(math.fmod(i * stagger_s, period), 6) for i in range(count)]


def drive(plan: StreamPlan, make_client: Callable[[], Any], rate: float, deadline: float,
          offset_s: float = 0.0) -> StreamLog:
    """Send one stream's frames in order at `rate` frames/s, from `offset_s` after now, until
    done or `deadline`."""
    log, client = StreamLog(plan), make_client()
    try:
        start = time.monotonic() + offset_s
        for k, request in enumerate(requests_of(plan)):
            if not _pace(start, k, rate, deadline):
                break
            send_timed(client, request, log)
        _send_close(client, plan, len(plan.frames))
    finally:
        client.close()
    log.responses += [None] * (len(plan.frames) - len(log.responses))
    return log


def _pace(start: float, k: int, rate: float, deadline: float) -> bool:
    """Sleep until frame k's slot (at `rate`); False once the deadline has passed."""
    due = start + (k / rate if rate > 0 else 0.0)
    if due > deadline or time.monotonic() > deadline:
        return False
    time.sleep(max(0.0, due - time.monotonic()))
    return True


def send_timed(client: Any, request: p.Request, log: StreamLog) -> None:
    begin = time.perf_counter()
    try:
        response = client.send(request)
    except Exception as exc:  # a failed call is a dropped frame, reported, never fatal
        log.failures.append(f"frame {request.seq}: {type(exc).__name__}: {exc}")
        log.responses.append(None)
        return
    log.latencies_s.append(time.perf_counter() - begin)
    log.responses.append(response)
    if not response.ok:
        log.failures.append(f"frame {request.seq}: {response.error}")


def _send_close(client: Any, plan: StreamPlan, seq: int) -> None:
    try:
        client.send(p.Request(plan.stream, p.CLOSE, seq))
    except Exception:  # the server drops idle streams anyway
        pass


def run_streams(plans: list[StreamPlan], make_client: Callable[[], Any], rate: float,
                timeout_s: float, stagger_s: float = 0.0) -> tuple[list[StreamLog], float]:
    """All streams (one thread each), started `stagger_s` apart (`start_offsets`); returns
    their logs and the wall time."""
    offsets = start_offsets(len(plans), stagger_s, rate)
    start = time.monotonic()
    deadline = start + timeout_s
    with ThreadPoolExecutor(max_workers=len(plans)) as pool:
        futures = [pool.submit(drive, plan, make_client, rate, deadline, offset)
                   for plan, offset in zip(plans, offsets)]
        logs = [f.result(timeout=timeout_s + 120) for f in futures]
    return logs, time.monotonic() - start


# ---------------------------------------------------------------- the offline reference
class References:
    """Offline results per (sequence, frame count, mask), computed once with `core`."""

    def __init__(self, core: Any) -> None:
        self.core, self._cache = core, {}

    def of(self, plan: StreamPlan) -> list[Any]:
        key = (plan.sequence, len(plan.frames), plan.box, plan.mask)
        if key not in self._cache:
            self._cache[key] = self._run(plan)
        return self._cache[key]

    def _run(self, plan: StreamPlan) -> list[Any]:
        from masktrt.runtime import loop
        from masktrt.runtime.frames import read_frame
        from masktrt.runtime.sequences import read_mask

        frames = (read_frame(path) for path in plan.frames)
        mask = read_mask(plan.mask) if plan.mask else None
        return loop.results(self.core, frames, plan.box, mask=mask)


def differences(response: p.Response, expected: Any, plan: StreamPlan, seq: int) -> list[str]:
    """What differs between a response and the offline result of frame `seq` (empty: same)."""
    found = [] if (response.stream, response.seq) == (plan.stream, seq) else \
        [f"answer for {response.stream}#{response.seq}"]
    if expected is None:
        return found
    found += [name for name, same in _fields(response, expected) if not same]
    return found


def _fields(response: p.Response, expected: Any) -> list[tuple[str, bool]]:
    return [("box", np.array_equal(response.box, np.asarray(expected.box, np.float64))),
            ("polygon", np.array_equal(response.polygon, np.ravel(expected.polygon).astype(np.float32))),
            ("score", response.score == float(expected.score)),
            ("lost", response.lost == bool(expected.lost)),
            ("mask", _same_mask(response.mask, getattr(expected, "mask", None)))]


def _same_mask(data: bytes, expected: np.ndarray | None) -> bool:
    if expected is None:
        return data == b""
    return bool(data) and np.array_equal(p.decode_mask(data), expected)


@dataclass
class Check:
    """Per run: frames expected, dropped (no good answer), mismatches (answer differs)."""

    frames: int = 0
    dropped: int = 0
    mismatches: int = 0
    details: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Every expected frame answered and identical, and at least one frame compared."""
        return self.frames > 0 and self.dropped == 0 and self.mismatches == 0

    def add(self, plan: StreamPlan, seq: int, response: p.Response | None, expected: Any) -> None:
        self.frames += 1
        if response is None or not response.ok:
            self.dropped += 1
            return
        diff = differences(response, expected, plan, seq)
        if diff:
            self.mismatches += 1
            self.details.append(f"{plan.stream} frame {seq}: {', '.join(diff)}")


def check(logs: list[StreamLog], references: References) -> Check:
    """Every frame of every stream against the offline loop's result of that frame."""
    result = Check()
    for log in logs:
        expected = references.of(log.plan)
        for seq, response in enumerate(log.responses):
            result.add(log.plan, seq, response, expected[seq])
    return result


# ---------------------------------------------------------------- the report
def summary_row(streams: int, logs: list[StreamLog], wall_s: float, checked: Check) -> dict[str, Any]:
    """One table row: counts, throughput (answered frames / wall time), latency percentiles."""
    latencies = np.array([s for log in logs for s in log.latencies_s]) * 1000.0
    answered = sum(r is not None and r.ok for log in logs for r in log.responses)
    batches = [r.batch for log in logs for r in log.responses if r is not None]
    pct = (lambda q: float(np.percentile(latencies, q)) if latencies.size else float("nan"))
    return {"streams": streams, "frames": checked.frames, "answered": answered,
            "wall_s": round(wall_s, 3), "frames_per_s": round(answered / wall_s, 2) if wall_s else 0.0,
            "p50_ms": round(pct(50), 2), "p99_ms": round(pct(99), 2),
            "mean_batch": round(float(np.mean(batches)), 2) if batches else 0.0,
            "dropped": checked.dropped, "mismatches": checked.mismatches,
            "failures": [f for log in logs for f in log.failures][:10], "details": checked.details[:10]}


COLUMNS = (("streams", "streams", ""), ("frames", "frames", ""), ("frames_per_s", "throughput", "frames/s"),
           ("p50_ms", "p50", "ms"), ("p99_ms", "p99", "ms"), ("mean_batch", "mean batch", "requests"),
           ("dropped", "dropped", "frames"), ("mismatches", "mismatches", "frames"))


def rows_passed(rows: list[dict[str, Any]]) -> bool:
    """The load test's verdict: some rows, each of which compared frames and lost none."""
    return bool(rows) and all(r["frames"] > 0 and r["dropped"] == 0 and r["mismatches"] == 0
                              for r in rows)


def table(rows: list[dict[str, Any]]) -> str:
    """A Markdown table with units in the header."""
    head = [f"{title} ({unit})" if unit else title for _, title, unit in COLUMNS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(row[key]) for key, _, _ in COLUMNS) + " |" for row in rows]
    return "\n".join(lines)


def environment() -> dict[str, Any]:
    """Where it ran: CPU count and load average (the machine may be shared)."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return {"cpus": os.cpu_count(), "loadavg_1_5_15": [round(v, 2) for v in load]}


def write_json(path: Path, report: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
