"""The PyTorch reference runner: a tracker's model behind the runtime's GraphRunner contract.

It is the yardstick for every parity check, so it does nothing clever: eval mode, inference
mode, FP32 unless the model was cast. It runs any graph of the tracker's spec through the
tracker's export side (`run_graph`), keeps outputs asked for on the device as torch tensors and
hands the rest back as float32 NumPy arrays (int arrays stay int64: positions, indices).
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Collection, Iterator, Mapping

import numpy as np
import torch
from torch import nn

from masktrt import registry
from masktrt.errors import MasktrtError
from masktrt.runtime.backends.base import RunnerBase, missing_feeds


class TorchRunner(RunnerBase):
    """GraphRunner over a torch model; `options` are the export options the graphs mean."""

    def __init__(self, model: nn.Module, device: str = "cpu", tracker: str = registry.DEFAULT_TRACKER,
                 options: Mapping[str, Any] | None = None) -> None:
        entry = registry.get(tracker)
        self.tracker = tracker  # what it runs, as an exported folder records it
        self.spec, self.side = entry.load_spec(), entry.load_export()
        self.options = {**self.spec.options, **(options or {})}
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.dtype = next(model.parameters()).dtype
        self.name = f"torch-{self.device.type}"

    def tensor(self, value: Any) -> torch.Tensor:
        if isinstance(value, torch.Tensor):
            return value
        array = np.asarray(value)
        if np.issubdtype(array.dtype, np.integer):
            return torch.from_numpy(np.ascontiguousarray(array, dtype=np.int64)).to(self.device)
        return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32)).to(self.device, self.dtype)

    def run(self, graph: str, feeds: Mapping[str, Any],
            keep_on_device: Collection[str] = ()) -> dict[str, Any]:
        inputs, _ = self.spec.io_names(graph)
        missing_feeds(graph, inputs, feeds)
        with torch.inference_mode():
            outs = self.side.run_graph(self.model, graph, {n: self.tensor(feeds[n]) for n in inputs},
                                       self.options)
        return {n: t if n in keep_on_device else _host(t) for n, t in outs.items()}

    def close(self) -> None:
        self.model = None
        super().close()


def _host(tensor: torch.Tensor) -> np.ndarray:
    out = tensor.detach().cpu()
    return out.numpy() if not out.is_floating_point() else out.float().numpy()


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """torch's CPU thread count for a block, then the previous one back.

    The thread count sets the reference's float summation order, and a closed loop that
    re-learns from its own outputs (RTS) amplifies a 1e-6 difference into another trajectory:
    a parity figure is reproducible only with the count fixed (measured, Conv filtering: RTS
    vot-bag box IoU mean 0.9926 at 2 threads, 0.9595 at 1).
    """
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def load_reference(checkpoint: str | Path | None = None, random_weights_seed: int | None = None,
                   device: str = "cpu", width: float = 1.0, tracker: str = registry.DEFAULT_TRACKER,
                   variant: str | None = None, options: Mapping[str, Any] | None = None
                   ) -> TorchRunner:
    """A checkpoint when given, else the seeded random model (seed 0 by default); `options`
    are export options the reference runs as (RTS: `sizes`), checked as an export checks them."""
    from masktrt.export.model_source import load_tracker_model
    from masktrt.export.onnx_export import ExportOptions

    if checkpoint is not None and random_weights_seed is not None:
        raise MasktrtError("both a checkpoint and a random-weights seed were given", "pass one of them")
    ExportOptions(tracker=tracker, options=dict(options or {})).validate()
    seed = 0 if random_weights_seed is None else random_weights_seed
    model, _ = load_tracker_model(tracker, checkpoint, seed, width, variant=variant)
    return TorchRunner(model, device, tracker, options)


def create(checkpoint: str | Path | None = None, seed: int = 0, device: str = "cpu",
           tracker: str = registry.DEFAULT_TRACKER, variant: str | None = None,
           options: Mapping[str, Any] | None = None, model: nn.Module | None = None) -> TorchRunner:
    """Factory for the backend registry (`open_runner('torch', checkpoint=..., seed=...)`);
    `model`: a model already in memory (training, benchmarks) instead of a checkpoint."""
    if model is not None:
        if checkpoint is not None:
            raise MasktrtError("both a model and a checkpoint were given", "pass one of them")
        return TorchRunner(model, device, tracker, options)
    return load_reference(checkpoint, None if checkpoint is not None else seed, device,
                          tracker=tracker, variant=variant, options=options)
