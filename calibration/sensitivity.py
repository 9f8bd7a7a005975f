"""Which block breaks INT8: quantise one block at a time and measure each subgraph output's error.

The field's known failure is a quantised correlation head (spec/deployment.md); rather than
assume it, every block of every graph is quantised alone (all else float) with the same ranges
and flavour as the final graph, run on recorded tracker inputs, and compared with the FP32 graph.
The error of an output is its noise-to-signal ratio, rms(int8 - fp32) / std(fp32): scale-free, so
a 25x25 score map and a 64x125x125 feature map are judged alike, and averaged over the whole
tensor, so one saturated pixel does not condemn a block. A block's error is the worst over the
outputs of its graph. `--keep auto` leaves in float the blocks whose error exceeds the budget
`int8-block-noise` of the shared budget table.

The measurement uses the `ort` (U8S8) flavour, the one the accuracy gate runs on this CPU; the
TensorRT flavour quantises the same tensors with symmetric scales (one bit less for ReLU outputs).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from masktrt import registry
from masktrt.registry import DEFAULT_TRACKER

from .dataset import Feeds
from .quantize import FLAVOURS, quantize_graph

BUDGET_NAME = "int8-block-noise"
EVAL_SAMPLES = 3  # recorded feeds per graph the error is averaged over


@dataclass(frozen=True)
class BlockError:
    """One block's measured effect: noise-to-signal per graph output, worst of them, verdict."""

    block: str
    errors: dict[str, float]
    worst_output: str
    worst: float
    nodes: int

    def over(self, limit: float) -> bool:
        return self.worst > limit


def noise_to_signal(test: np.ndarray, ref: np.ndarray) -> float:
    """rms(test - ref) / std(ref); 0 for identical tensors, ~1.4 for unrelated ones."""
    ref = np.asarray(ref, dtype=np.float64)
    spread = float(ref.std())
    err = float(np.sqrt(np.mean((np.asarray(test, dtype=np.float64) - ref) ** 2)))
    return err / spread if spread > 0 else (0.0 if err == 0 else float("inf"))


def pick(feeds: list[Feeds], count: int = EVAL_SAMPLES) -> list[Feeds]:
    """`count` feeds spread over the set (first, last, between): frames from every sequence."""
    if len(feeds) <= count:
        return list(feeds)
    return [feeds[int(i)] for i in np.linspace(0, len(feeds) - 1, count).round()]


def run_graph(path: Path, feeds: list[Feeds]) -> list[dict[str, np.ndarray]]:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return [dict(zip(names, session.run(None, feed))) for feed in feeds]


def graph_error(test: list[dict[str, np.ndarray]], ref: list[dict[str, np.ndarray]]) -> dict[str, float]:
    """Per output: noise-to-signal averaged over the evaluation feeds."""
    return {name: float(np.mean([noise_to_signal(t[name], r[name]) for t, r in zip(test, ref)]))
            for name in ref[0]}


def measure_block(src: Path, block: str, nodes: list[str], method: str, ranges: Path,
                  feeds: list[Feeds], reference: list[dict[str, np.ndarray]],
                  workdir: Path) -> BlockError:
    """Quantise only `nodes` of `src` and compare its outputs with the FP32 graph's."""
    path = quantize_graph(src, workdir / f"sensitivity-{src.name}", FLAVOURS["ort"], method, ranges,
                          include=nodes)
    errors = graph_error(run_graph(path, feeds), reference)
    worst = max(errors, key=errors.get)
    path.unlink(missing_ok=True)
    return BlockError(block, errors, worst, errors[worst], len(nodes))


def analyse_graph(src: Path, blocks: dict[str, list[str]], method: str, ranges: Path,
                  feeds: list[Feeds], workdir: Path) -> list[BlockError]:
    """Every block of one graph, one at a time."""
    chosen = pick(feeds)
    reference = run_graph(src, chosen)
    return [measure_block(src, name, nodes, method, ranges, chosen, reference, workdir)
            for name, nodes in blocks.items()]


def block_limit(tracker: str = DEFAULT_TRACKER) -> float:
    """The `int8-block-noise` budget of the tracker's spec."""
    return registry.spec(tracker).budget(BUDGET_NAME).value


def auto_keep(results: list[BlockError], limit: float | None = None) -> list[str]:
    """The blocks `--keep auto` leaves in float: error over the budget."""
    limit = block_limit() if limit is None else limit
    return [r.block for r in results if r.over(limit)]


def to_json(results: list[BlockError]) -> list[dict]:
    return [asdict(r) for r in results]


def from_json(items: list[dict]) -> list[BlockError] | None:
    """Rows read back from the cache; None when a row does not fit BlockError (a crafted or
    older file: recompute rather than trust it)."""
    try:
        rows = [BlockError(**item) for item in items]
    except TypeError:  # missing or unknown fields
        return None
    return rows if all(_well_typed(r) for r in rows) else None


def _well_typed(row: BlockError) -> bool:
    number = (int, float)
    return (isinstance(row.block, str) and isinstance(row.worst_output, str)
            and isinstance(row.worst, number) and not isinstance(row.worst, bool)
            and isinstance(row.nodes, int) and not isinstance(row.nodes, bool)
            and isinstance(row.errors, dict)
            and all(isinstance(k, str) and isinstance(v, number) for k, v in row.errors.items()))


def format_sensitivity(results: list[BlockError], limit: float | None = None) -> str:
    """One line per block: its worst output and error, and whether auto keeps it in float."""
    limit = block_limit() if limit is None else limit
    header = f"{'block':<26} {'nodes':>5} {'worst output':<12} {'noise/signal':>12}  verdict"
    lines = [header, "-" * len(header)]
    for r in results:
        verdict = f"keep float (> {limit:g})" if r.over(limit) else "int8"
        lines.append(f"{r.block:<26} {r.nodes:>5} {r.worst_output:<12} {r.worst:>12.4f}  {verdict}")
    return "\n".join(lines)
