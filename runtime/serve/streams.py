"""Per-stream tracker state kept by the server, bounded in count and in idle time.

The tracker core is stateless (`state = core.init(...)`, `state, result = core.track(frame,
state)`), so a server holding many streams keeps one state per stream id here and one core for
all. A state is replaced only after a successful call, so a failed frame leaves its stream where
it was. Limits keep a forgetful client from growing the table without end: at most `max_streams`
open, and a stream silent for `idle_s` seconds is dropped. What one stream costs in memory is its
state's arrays (`state_bytes`; measured per tracker in docs/serving.md "Limits"); the table
keeps the largest it has seen, and the server prints it when it stops.
"""
from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from masktrt.errors import MasktrtError


def state_bytes(state: Any) -> int:
    """Bytes of the NumPy arrays a tracker state holds (its fields or attributes, dicts, lists,
    tuples), each
    array counted once: what keeping the stream open costs the server. Device buffers and
    anything else count 0."""
    seen: set[int] = set()

    def walk(value: Any) -> int:
        if id(value) in seen:
            return 0
        seen.add(id(value))
        nbytes = getattr(value, "nbytes", None)  # NumPy, torch and device arrays
        if isinstance(nbytes, int):
            return nbytes
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return sum(walk(getattr(value, f.name)) for f in dataclasses.fields(value))
        if isinstance(value, dict):
            return sum(walk(v) for v in value.values())
        if isinstance(value, (list, tuple)):
            return sum(walk(v) for v in value)
        if hasattr(value, "__dict__") and not isinstance(value, type):  # a plain state object
            return sum(walk(v) for v in vars(value).values())
        return 0

    return walk(state)


@dataclass
class Entry:
    """One open stream: its tracker state, the last frame number served and when."""

    state: Any
    seq: int
    seen: float


class StreamTable:
    """stream id -> Entry, with open/advance/close and idle expiry (thread-safe)."""

    def __init__(self, max_streams: int = 64, idle_s: float = 600.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_streams, self.idle_s, self.clock = max_streams, idle_s, clock
        self._entries: dict[str, Entry] = {}
        self._lock = threading.Lock()
        self.largest_state = 0  # bytes of the largest stream state kept so far

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, stream: str) -> bool:
        return stream in self._entries

    def open(self, stream: str, state: Any, seq: int) -> None:
        """Start (or restart) `stream` at frame `seq`; refuses a stream beyond the limit."""
        with self._lock:
            if stream not in self._entries and len(self._entries) >= self.max_streams:
                raise MasktrtError(f"{len(self._entries)} streams are open, the server's limit",
                                   "close finished streams, or start the server with a higher "
                                   "--max-streams")
            self._entries[stream] = Entry(state, seq, self.clock())
            self._measure(state)

    def current(self, stream: str, seq: int) -> Any:
        """The state frame `seq` of `stream` tracks from: the stream must be open and `seq`
        later than the last frame served (frames of a stream are tracked in order)."""
        entry = self._entries.get(stream)
        if entry is None:
            raise MasktrtError(f"stream '{stream}' is not open",
                               "send an init request (frame and box) for it first")
        if seq <= entry.seq:
            raise MasktrtError(f"frame {seq} of stream '{stream}' arrived after frame {entry.seq}",
                               "send a stream's frames in order, one at a time")
        return entry.state

    def advance(self, stream: str, state: Any, seq: int) -> None:
        """Keep `state` as the stream's state after frame `seq` (after a successful call)."""
        with self._lock:
            entry = self._entries.get(stream)
            if entry is not None:
                entry.state, entry.seq, entry.seen = state, seq, self.clock()
                self._measure(state)

    def _measure(self, state: Any) -> None:
        self.largest_state = max(self.largest_state, state_bytes(state))

    def close(self, stream: str) -> bool:
        """Forget `stream`; True if it was open (closing twice is not an error)."""
        with self._lock:
            return self._entries.pop(stream, None) is not None

    def expire(self) -> list[str]:
        """Drop streams idle for longer than `idle_s`; returns their ids."""
        now = self.clock()
        with self._lock:
            old = [s for s, e in self._entries.items() if now - e.seen > self.idle_s]
            for stream in old:
                del self._entries[stream]
        return old
