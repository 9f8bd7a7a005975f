"""The parts of a training run every tracker shares: the run folder's files, the optimizer and
its step, the loss log, the real sequences and the progress bar.

Each tracker's `training/train.py` builds its model and batches and calls these, so a run of any
tracker has the same folder layout, resumes the same way and logs the same columns.
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Mapping

import torch

from masktrt.errors import MasktrtError
from masktrt.training.model_setup import param_groups

CHECKPOINT = "checkpoint.safetensors"  # FP32 weights, readable by every --checkpoint option
STATE = "checkpoint.state.pt"  # optimizer state, step, config, elapsed seconds (for --resume)
LOSSES = "losses.csv"  # one row per step
LOSS_TERMS = ("cls", "box", "mask")  # the order of a config's `weights`


class DecayingLr:
    """A run config's learning rate schedule (mixed into every tracker's frozen config
    dataclass): exponential decay from `lr` to `final_lr` over `steps`."""

    lr: float
    final_lr: float
    steps: int

    def lr_at(self, step: int) -> float:
        return self.lr * (self.final_lr / self.lr) ** (step / max(self.steps, 1))


class PairMixed(DecayingLr):
    """A pair-trained tracker's config: the schedule, and the pair mix its `real` and
    `negative` shares give (the rest synthetic)."""

    real: float
    negative: float

    def mix(self) -> Any:
        from masktrt.training.scenes import Mix

        return Mix(real=self.real, negative=self.negative)


def make_optimizer(model: torch.nn.Module, config: Any) -> torch.optim.Optimizer:
    """AdamW over the model's parameter groups (the trainable backbone at `backbone_lr` scale)."""
    groups = param_groups(model, config.lr, config.backbone_lr)
    return torch.optim.AdamW(groups, lr=config.lr, weight_decay=config.weight_decay)


def total_loss(losses: Mapping[str, torch.Tensor], weights: tuple[float, ...]) -> torch.Tensor:
    return sum(w * losses[k] for w, k in zip(weights, LOSS_TERMS))


def optimizer_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                   losses: Mapping[str, torch.Tensor], config: Any, step: int) -> dict[str, float]:
    """One step on the weighted sum of `losses` at the schedule's rate; a non-finite loss stops
    the run with the way out."""
    for group in optimizer.param_groups:
        group["lr"] = config.lr_at(step) * group.get("scale", 1.0)
    loss = total_loss(losses, config.weights)
    if not torch.isfinite(loss):
        raise MasktrtError(f"training loss became {loss.item()} at step {step}",
                           "resume from the last checkpoint with a lower --lr")
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
    optimizer.step()
    return {"loss": loss.item(), **{k: v.item() for k, v in losses.items()}}


def truncate_log(out: Path, start: int) -> None:
    """Drop logged steps >= start: a resumed run repeats them after its last checkpoint."""
    path = out / LOSSES
    if not path.is_file():
        return
    lines = path.read_text().splitlines(keepends=True)
    kept = lines[:1] + [line for line in lines[1:] if int(line.split(",", 1)[0]) < start]
    path.write_text("".join(kept))


def log_row(out: Path, step: int, values: dict[str, float], lr: float) -> None:
    path = out / LOSSES
    new = not path.is_file()
    with path.open("a", newline="") as f:
        writer = csv.writer(f)
        if new:
            writer.writerow(["step", "lr", *values])
        writer.writerow([step, f"{lr:.3e}", *(f"{v:.5f}" for v in values.values())])


def real_sequences(config: Any) -> list:
    """The real training sequences when the run uses them (never the evaluation ones)."""
    if config.real <= 0 and config.negative <= 0:
        return []
    from masktrt.training.real import training_sequences

    return training_sequences()


def progress_bar(start: int, total: int, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, initial=start, disable=not enabled, unit="step", dynamic_ncols=True)
