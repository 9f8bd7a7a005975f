"""Tensor-level parity: each exported graph in ONNX Runtime (CPU) against the PyTorch reference.

Each graph is checked in isolation: it gets exactly the inputs PyTorch computed for it (the
search graph gets PyTorch's kernels, refine gets PyTorch's features), so an error is charged to
the graph that made it instead of accumulating along the chain (the closed-loop level measures
accumulation). Inputs are crops of real frames cut by the Siamese crop rule (masktrt.geometry)
around the ground-truth boxes (a tracker of another geometry resizes them in its
`parity_cases`), because random noise exercises neither the value ranges nor the sparsity of
real features. Refine is checked at the corners (0 and 24 in each axis), where its windows reach
into the zero padding, and inside.

Metric per output: max |onnx - torch| and that divided by the range of the torch output, taken
as the worst over all cases; the budget (masktrt.budgets, level "tensor") is on the latter.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from torch import nn

from masktrt import registry
from masktrt.budgets import Budget
from masktrt.errors import MasktrtError
from masktrt.geometry import EXEMPLAR_SIZE, INSTANCE_SIZE, context_size
from masktrt.export.onnx_run import cpu_session, max_rel_range_err, run_session
from masktrt.paths import shared_data_dir
from masktrt.runtime.contract import Contract
from masktrt.runtime.crop import crop_subwindow
from masktrt.runtime.sequences import load_sequence


@dataclass(frozen=True)
class CropSet:
    """One target: its exemplar crop (frame 0) and search crops from a few later frames."""

    label: str
    z: np.ndarray
    xs: tuple[np.ndarray, ...]


def _center_size(box_xywh: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y, w, h = (float(v) for v in box_xywh)
    return np.array([x + w / 2, y + h / 2]), np.array([w, h])


def sequence_crops(path: str | Path, frames: int = 2) -> CropSet:
    """Exemplar from frame 0's initial box; search crops centred on the ground truth of
    `frames` frames spread over the sequence (what the tracker would cut if it were on target)."""
    seq = load_sequence(path)
    if not seq.has_groundtruth:
        raise MasktrtError(f"sequence '{path}' has no ground truth",
                           "pass a sequence folder with groundtruth.txt")
    first = seq.frame(0)
    avg = first.reshape(-1, 3).mean(axis=0, dtype=np.float64)
    center, size = _center_size(seq.init_box())
    z = crop_subwindow(first, center, EXEMPLAR_SIZE, round(context_size(size)), avg)
    picks = np.linspace(1, len(seq) - 1, frames).round().astype(int) if len(seq) > 1 else [0]
    xs = []
    for index in dict.fromkeys(int(i) for i in picks):
        c, s = _center_size(seq.boxes[index])
        side = round(context_size(s) * INSTANCE_SIZE / EXEMPLAR_SIZE)
        xs.append(crop_subwindow(seq.frame(index), c, INSTANCE_SIZE, side, avg))
    return CropSet(seq.name, z, tuple(xs))


def default_sequences() -> list[Path]:
    """Every sequence in ../shared/data (or $MASKTRT_DATA); none where it is absent."""
    root = shared_data_dir()
    if root is None:
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and (p / "frames").is_dir())


@dataclass
class ParityRow:
    graph: str
    output: str
    budget: Budget
    max_abs: float = 0.0
    max_rel: float = 0.0

    def add(self, test: np.ndarray, ref: np.ndarray) -> None:
        err, rel = max_rel_range_err(test, ref)
        self.max_abs, self.max_rel = max(self.max_abs, err), max(self.max_rel, rel)

    @property
    def passed(self) -> bool:
        return bool(np.isfinite(self.max_rel)) and self.budget.passes(self.max_rel)


@dataclass
class ParityReport:
    precision: str
    options: dict
    rows: list[ParityRow]
    cases: list[str] = field(default_factory=list)
    compared: int = 0  # graph runs compared with the reference (labelled or not)

    @property
    def passed(self) -> bool:
        """Never for an empty comparison: no output rows, or no case run through the graphs."""
        return bool(self.rows) and self.compared > 0 and all(row.passed for row in self.rows)

    def table(self) -> str:
        head = (f"tensor parity: ONNX Runtime CPU vs PyTorch, precision {self.precision}, "
                f"options {self.options}, {len(self.cases)} cases")
        lines = [head, f"{'graph':9} {'output':7} {'max abs err':>12} {'max err/range':>14} "
                       f"{'budget':>9}  result"]
        for r in self.rows:
            lines.append(f"{r.graph:9} {r.output:7} {r.max_abs:12.3e} {r.max_rel:14.3e} "
                         f"{r.budget.value:9.1e}  {'PASS' if r.passed else 'FAIL'}")
        lines.append(f"budget '{self.rows[0].budget.name}': {self.rows[0].budget.why}"
                     if self.rows else "no outputs compared")
        if not self.compared:
            lines.append("nothing compared: no graph was run on any crop")
        lines.append("overall: " + ("PASS" if self.passed else "FAIL"))
        return "\n".join(lines)


def tensor_budget(deploy: Contract) -> Budget:
    found = deploy.spec.budgets_for("tensor", deploy.precision)
    if not found:
        raise MasktrtError(f"no tensor-level budget for precision '{deploy.precision}'",
                           f"add one to the '{deploy.tracker}' spec's budgets")
    return found[0]


def tensor_parity(model: nn.Module, deploy: Contract, crop_sets: list[CropSet],
                  positions: tuple[tuple[int, int], ...] | None = None,
                  threads: int = 1) -> ParityReport:
    """Compare every output of every graph in `deploy` with `model` on the given crops; the
    tracker's export side chains the graphs (`parity_cases`) as its tracker does."""
    if deploy.refits:
        raise MasktrtError(f"{deploy.root} holds graphs with refittable placeholder weights "
                           "(for TensorRT refitting); ONNX Runtime cannot run them per target",
                           "check parity on an export without refit (e.g. --xcorr dynamic)")
    if not crop_sets:
        raise MasktrtError("no crops to compare on",
                           "pass --sequence DIR (a folder with frames/ and groundtruth.txt)")
    side = registry.get(deploy.tracker).load_export()
    budget = tensor_budget(deploy)
    sessions = {g: cpu_session(deploy.graph(g).path, threads) for g in deploy.graph_names}
    rows = {(g, o): ParityRow(g, o, budget)
            for g in deploy.graph_names for o in deploy.graph(g).output_names}
    report = ParityReport(deploy.precision, deploy.options, list(rows.values()))
    for crops in crop_sets:
        for label, graph, feeds, ref in side.parity_cases(model.eval(), crops, deploy.options, positions):
            test = run_session(sessions[graph], feeds)
            report.compared += 1
            for name in deploy.graph(graph).output_names:
                rows[(graph, name)].add(test[name], ref[name])
            if label:
                report.cases.append(f"{crops.label}#{label}")
    return report
