"""SiamMask's training recipe: the reduced-width network on real and synthetic pairs (spec §5 losses).

The backbone is chosen by name: EfficientNet-Lite0 starts from its ImageNet weights (a
registry package) with its early blocks frozen; ResNet-50 trains from scratch (no weights for
it exist here). AdamW, exponential learning-rate decay, BatchNorm in train mode outside the
frozen blocks. The mask loss runs Refine at one positive cell per pair (Refine works at one
position, as in tracking).

The loop itself, the run folder and resuming are the one training loop's (`training.trainer`):
this module is SiamMask's recipe for it (config, model, pairs, batch, losses, checkpoint file).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from masktrt.errors import MasktrtError
from masktrt.trackers.siammask.export.checkpoint import load_checkpoint, save_checkpoint
from masktrt.trackers.siammask.export import SiamMask
from masktrt.trackers.siammask.spec import NAME
from masktrt.export.backbones import RESNET50, load_pretrained
from masktrt.trackers.siammask.training.losses import box_loss, cls_loss, mask_loss
from masktrt.training import trainer
from masktrt.training.loop import PairMixed, optimizer_step
from masktrt.training.model_setup import freeze, set_train_mode
from masktrt.training.trainer import Recipe, pair_recipe
from masktrt.trackers.siammask.training.pairs import Pair, batch_pairs


@dataclass(frozen=True)
class TrainConfig(PairMixed):
    """Everything that defines a run; stored in the state file and the model card."""

    steps: int = 2000
    width: float = 0.25
    batch: int = 8
    lr: float = 1e-3
    final_lr: float = 1e-4         # exponential decay from lr to final_lr over `steps`
    weight_decay: float = 1e-4
    weights: tuple[float, float, float] = (1.0, 1.2, 4.0)  # cls, box, mask (our choice, see card)
    steps_per_scene: int = 2
    save_every: int = 100
    seed: int = 0
    grad_clip: float = 10.0
    backbone: str = RESNET50
    pretrained: bool = True        # ImageNet trunk where a package ships it (Lite0)
    frozen_blocks: int = 0         # stem + this many backbone blocks (Lite0) / layers (ResNet)
    backbone_lr: float = 0.1       # lr scale of the trainable backbone blocks
    real: float = 0.6              # share of pairs from ../shared/data/train (when present)
    negative: float = 0.15         # share of negative pairs (template and search unrelated)


@dataclass(frozen=True)
class Batch:
    template: torch.Tensor
    search: torch.Tensor
    labels: torch.Tensor
    deltas: torch.Tensor
    weights: torch.Tensor
    cells: list[tuple[int, tuple[int, int]]]  # (index in batch, (row, col)) with a mask target
    windows: torch.Tensor                     # Kx1x127x127 ±1


def collate(pairs: list[Pair]) -> Batch:
    def stack(arrays: list[np.ndarray]) -> torch.Tensor:
        return torch.from_numpy(np.stack(arrays))

    with_mask = [(i, p) for i, p in enumerate(pairs) if p.mask_cell is not None]
    windows = (stack([p.mask_window[None] for _, p in with_mask]) if with_mask
               else torch.zeros(0, 1, 127, 127))
    return Batch(stack([p.template for p in pairs]), stack([p.search for p in pairs]),
                 stack([p.targets.labels for p in pairs]), stack([p.targets.deltas for p in pairs]),
                 stack([p.targets.weights for p in pairs]),
                 [(i, p.mask_cell) for i, p in with_mask], windows)


def compute_losses(model: SiamMask, batch: Batch) -> dict[str, torch.Tensor]:
    """cls, box and mask losses of one batch (mask 0 when no pair has a positive cell)."""
    kernels = model.template(batch.template)
    cls, loc, corr, p0, p1, p2 = model.search(batch.search, *kernels)
    losses = {"cls": cls_loss(cls, batch.labels),
              "box": box_loss(loc, batch.deltas, batch.weights)}
    logits = [model.refine(p0[i:i + 1], p1[i:i + 1], p2[i:i + 1], corr[i:i + 1],
                           torch.tensor(cell, dtype=torch.int64)) for i, cell in batch.cells]
    losses["mask"] = (mask_loss(torch.cat(logits), batch.windows) if logits
                      else cls.new_zeros(()))
    return losses


def train_step(model: SiamMask, optimizer: torch.optim.Optimizer, batch: Batch,
               config: TrainConfig, step: int) -> dict[str, float]:
    return optimizer_step(model, optimizer, compute_losses(model, batch), config, step)


def check_resumable(model: SiamMask, config: TrainConfig) -> None:
    """The run's width and backbone must be the checkpoint's."""
    if abs(model.spec.width - config.width) > 1e-6:
        raise MasktrtError(f"checkpoint width {model.spec.width:g} but --width {config.width:g}",
                           f"pass --width {model.spec.width:g} to resume this run")
    if model.spec.backbone != config.backbone:
        raise MasktrtError(f"checkpoint backbone {model.spec.backbone} but --backbone "
                           f"{config.backbone}", f"pass --backbone {model.spec.backbone}")


def fresh_model(config: TrainConfig) -> SiamMask:
    """A fresh model for a run: ImageNet trunk where one ships (Lite0; no ResNet weights here),
    the stem and `frozen_blocks` blocks frozen."""
    model = SiamMask(config.width, config.backbone)
    if config.pretrained and config.backbone != RESNET50:
        load_pretrained(model.features.features, config.backbone)
    return set_train_mode(freeze(model, config.frozen_blocks), config.frozen_blocks)


def recipe(config: TrainConfig) -> Recipe:
    """SiamMask's part of the one training loop (`training.trainer`)."""
    return pair_recipe(config, fresh_model, load_checkpoint, check_resumable, save_checkpoint,
                       batch_pairs, collate, compute_losses)


def train(out: str | Path, config: TrainConfig, resume_from: str | Path | None = None,
          progress: bool = True, max_seconds: float | None = None) -> Path:
    """Run (or continue) training into `out` with the one loop; returns the checkpoint path."""
    return trainer.train(out, recipe(config), resume_from, progress, max_seconds)


def run_command(args: Any) -> int:
    """`masktrt train --tracker siammask ...`: train, then optionally save the FP16 file and
    score N held-out synthetic sequences (`--eval N`, written to DIR/eval.json)."""
    torch.set_num_threads(args.threads)
    config = TrainConfig(steps=args.steps, width=args.width, batch=args.batch, lr=args.lr,
                         final_lr=args.final_lr, seed=args.seed, save_every=args.save_every,
                         backbone=args.backbone, frozen_blocks=args.freeze_blocks,
                         backbone_lr=args.backbone_lr, real=args.real, negative=args.negative)
    max_seconds = None if args.max_minutes is None else 60 * args.max_minutes
    path = train(args.out, config, args.resume, not args.no_progress, max_seconds)
    print(f"checkpoint: {path}")
    if args.export_fp16:
        print(f"fp16 weights: {save_checkpoint(load_checkpoint(path), args.export_fp16, fp16=True)}")
    if args.eval:
        from masktrt.training.held_out import report_synthetic

        report_synthetic(load_checkpoint(path), NAME, Path(args.out), args.eval)
    return 0
