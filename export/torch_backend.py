"""The PyTorch reference backend: the model itself behind the runtime's Backend interface.

It is the yardstick for every parity check, so it does nothing clever: eval mode, inference
mode, FP32 unless the model was cast, features kept as torch tensors between search and refine.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from masktrt.errors import MasktrtError
from masktrt.export.models import SiamMask
from masktrt.runtime.backends.base import SearchOutput
from masktrt.specs.siammask import EXEMPLAR_SIZE, INSTANCE_SIZE, SCORE_SIZE

Kernels = tuple[torch.Tensor, torch.Tensor, torch.Tensor]
Features = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]  # p0, p1, p2, corr


def check_crop(array: np.ndarray, side: int, what: str) -> None:
    if tuple(array.shape) != (1, 3, side, side):
        raise MasktrtError(f"{what} crop has shape {tuple(array.shape)}, expected (1, 3, {side}, {side})",
                           "pass the output of masktrt.runtime.crop.crop_subwindow")


class TorchBackend:
    """Backend protocol over a SiamMask module (runtime/backends/base.py)."""

    def __init__(self, model: SiamMask, device: str = "cpu") -> None:
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.dtype = next(model.parameters()).dtype
        self.name = f"torch-{self.device.type}"

    def tensor(self, array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32)).to(self.device, self.dtype)

    def template(self, z: np.ndarray) -> Kernels:
        """z 1x3x127x127 float32 BGR 0..255 -> (k_cls, k_loc, k_mask) torch tensors."""
        check_crop(z, EXEMPLAR_SIZE, "template")
        with torch.inference_mode():
            return self.model.template(self.tensor(z))

    def search(self, x: np.ndarray, kernels: Kernels) -> SearchOutput:
        """x 1x3x255x255 -> cls/loc as float32 NumPy and (p0, p1, p2, corr) kept as tensors."""
        check_crop(x, INSTANCE_SIZE, "search")
        with torch.inference_mode():
            cls, loc, corr, p0, p1, p2 = self.model.search(self.tensor(x), *kernels)
        return SearchOutput(cls.float().cpu().numpy(), loc.float().cpu().numpy(), (p0, p1, p2, corr))

    def refine(self, features: Features, pos: tuple[int, int]) -> np.ndarray:
        """127x127 float32 mask logits at score-map cell pos = (row, column)."""
        row, col = (int(v) for v in pos)
        if not (0 <= row < SCORE_SIZE and 0 <= col < SCORE_SIZE):
            raise MasktrtError(f"refine position {pos} is outside the {SCORE_SIZE}x{SCORE_SIZE} score map",
                               "pass the (row, column) of the selected candidate")
        p0, p1, p2, corr = features
        with torch.inference_mode():
            index = torch.tensor([row, col], dtype=torch.int64, device=self.device)
            logits = self.model.refine(p0, p1, p2, corr, index)
        return logits[0, 0].float().cpu().numpy()


def load_reference(checkpoint: str | Path | None = None, random_weights_seed: int | None = None,
                   device: str = "cpu", width: float = 1.0) -> TorchBackend:
    """A checkpoint when given, else the seeded random model (seed 0 by default)."""
    if checkpoint is not None:
        if random_weights_seed is not None:
            raise MasktrtError("both a checkpoint and a random-weights seed were given",
                               "pass one of them")
        from masktrt.export.checkpoints import load_checkpoint

        return TorchBackend(load_checkpoint(checkpoint), device)
    from masktrt.export.random_weights import random_model

    seed = 0 if random_weights_seed is None else random_weights_seed
    return TorchBackend(random_model(seed=seed, width=width), device)


def create(checkpoint: str | Path | None = None, seed: int = 0, device: str = "cpu") -> TorchBackend:
    """Factory for the backend registry (`get_backend('torch', checkpoint=..., seed=...)`)."""
    return load_reference(checkpoint, None if checkpoint is not None else seed, device)
