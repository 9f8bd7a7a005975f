"""The one contract every graph runner implements (torch reference, ONNX Runtime, TensorRT).

A runner runs any graph its contract lists, by name: `run(graph, feeds, keep_on_device)` takes
the graph's inputs (and refittable weights, for runners that refit) by tensor name and returns
its outputs by name. Outputs named in `keep_on_device` come back as the runner's own device
values (OrtValues, device buffers, torch tensors), to be fed to a later `run` without a host
round trip; all others are host NumPy arrays. Feeds may be NumPy arrays or such device values.

Lifetime of kept outputs: those of a per-target graph (spec `runs="target"`) belong to the
target and stay valid until `close()`; those of a per-frame graph stay valid until that graph
runs again. Runners hold no tracking state: one runner serves many targets.

Runners own native resources (sessions, engines, device memory): their owners call `close()`,
or use them as context managers.
"""
from __future__ import annotations

from typing import Any, Collection, Mapping, Protocol, runtime_checkable


@runtime_checkable
class GraphRunner(Protocol):
    name: str

    def run(self, graph: str, feeds: Mapping[str, Any],
            keep_on_device: Collection[str] = ()) -> dict[str, Any]:
        """Run `graph` on `feeds` (by tensor name); outputs by name."""

    def close(self) -> None:
        """Release sessions, engines and device memory; the runner is unusable afterwards."""

    def __enter__(self) -> "GraphRunner": ...

    def __exit__(self, *exc: object) -> None: ...


class RunnerBase:
    """Context-manager plumbing and feed checks shared by the runners."""

    name = "runner"
    closed = False

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.closed = True


def missing_feeds(graph: str, needed: Collection[str], feeds: Mapping[str, Any]) -> None:
    """A one-line error naming the inputs a caller did not feed."""
    from masktrt.errors import MasktrtError

    absent = [n for n in needed if n not in feeds]
    if absent:
        raise MasktrtError(f"graph '{graph}' was run without inputs {absent}",
                           f"feed every input the contract lists: {list(needed)}")


def opens_lazily(tracker: str, graph: str) -> bool:
    """Whether a runner should open `graph` on first use: it is one of a group of alternatives
    (spec `GraphDecl.group`). Unknown trackers and graphs open eagerly, where errors show first."""
    from masktrt import registry
    from masktrt.errors import MasktrtError

    try:
        return bool(registry.spec(tracker).graph(graph).group)
    except MasktrtError:
        return False
