"""OceanPlus's training recipe: a small OceanPlus (MSS) on real and synthetic pairs, run by the
one training loop (`training.trainer`) with SiamMask's demo settings and OceanPlus's targets
and losses.

What is shared with SiamMask's run and why: the same data mix and augmentation, the same
ImageNet EfficientNet-Lite0 trunk with its stem and first blocks frozen and the rest at 0.1x
the learning rate (`training.model_setup`), AdamW with exponential decay, the same checkpoint
layout (`DIR/checkpoint.safetensors` FP32 + `DIR/checkpoint.state.pt`, both replaced
atomically every `save_every` steps, `DIR/losses.csv` every step) and resume rules, so the two
demo models differ only in the network. What differs: one stage trains tracking and mask
together (the paper trains the mask branch after the tracker, on YouTube-VOS and COCO); the
single-stage decoder (MSS) only; the bbox bias starts at log(BOX_INIT) so the first boxes are
the targets' size (at the released init, exp(1) = 3 px, Adam would need thousands of steps).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from masktrt.errors import MasktrtError
from masktrt.export.backbones import EFFICIENTNET_LITE0, RESNET50, load_pretrained
from masktrt.trackers.oceanplus.export import OceanPlus
from masktrt.trackers.oceanplus.spec import NAME
from masktrt.trackers.oceanplus.export.checkpoint import load_checkpoint, save_checkpoint
from masktrt.training.model_setup import freeze, set_train_mode
from masktrt.trackers.oceanplus.training.losses import cls_loss, iou_loss, mask_loss
from masktrt.trackers.oceanplus.training.pairs import OceanPair, batch_pairs
from masktrt.training import trainer
from masktrt.training.loop import PairMixed, optimizer_step
from masktrt.training.trainer import Recipe, pair_recipe

BOX_INIT = 32.0  # crop px: initial l,t,r,b (half a typical target side in the 255 crop)


@dataclass(frozen=True)
class OceanTrainConfig(PairMixed):
    """Everything that defines a run; stored in the state file and the model card."""

    steps: int = 1200
    width: float = 0.5
    variant: str = "mss"
    batch: int = 8
    lr: float = 1e-3
    final_lr: float = 1e-4          # exponential decay from lr to final_lr over `steps`
    weight_decay: float = 1e-4
    weights: tuple[float, float, float] = (1.0, 1.0, 2.0)  # cls, box, mask (our choice)
    steps_per_scene: int = 2
    save_every: int = 50
    seed: int = 0
    grad_clip: float = 10.0
    backbone: str = EFFICIENTNET_LITE0
    pretrained: bool = True         # ImageNet trunk where a package ships it (Lite0)
    frozen_blocks: int = 5          # stem + this many backbone blocks (Lite0) / layers (ResNet)
    backbone_lr: float = 0.1        # lr scale of the trainable backbone blocks
    real: float = 0.6               # share of pairs from ../shared/data/train (when present)
    negative: float = 0.15          # share of negative pairs


@dataclass(frozen=True)
class OceanBatch:
    template: torch.Tensor
    z_mask: torch.Tensor
    search: torch.Tensor
    labels: torch.Tensor
    ltrb: torch.Tensor
    reg_weight: torch.Tensor
    positive: torch.Tensor  # indices of pairs with a mask target
    mask: torch.Tensor      # Kx1x255x255 of those pairs
    contour: torch.Tensor


def _stack(arrays: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(arrays).astype(np.float32))


def collate(pairs: list[OceanPair]) -> OceanBatch:
    """Stacked tensors; the mask targets only of the positive pairs."""
    positive = [i for i, p in enumerate(pairs) if p.mask is not None]
    masks = [pairs[i].mask for i in positive]
    contours = [pairs[i].contour for i in positive]
    empty = torch.zeros(0, 1, 1, 1)
    return OceanBatch(_stack([p.template for p in pairs]), _stack([p.z_mask for p in pairs]),
                      _stack([p.search for p in pairs]),
                      _stack([p.targets.labels for p in pairs]),
                      _stack([p.targets.ltrb for p in pairs]),
                      _stack([p.targets.reg_weight for p in pairs]),
                      torch.tensor(positive, dtype=torch.int64),
                      _stack(masks) if masks else empty, _stack(contours) if contours else empty)


def compute_losses(model: OceanPlus, batch: OceanBatch) -> dict[str, torch.Tensor]:
    """cls, box and mask losses of one batch (box and mask 0 without a positive pair)."""
    state = model.template(batch.template, batch.z_mask)
    cls, bbox, logits, _ = model.track_logits(batch.search, *state)
    return {"cls": cls_loss(cls, batch.labels),
            "box": iou_loss(bbox, batch.ltrb, batch.reg_weight),
            "mask": mask_loss(logits[batch.positive], batch.mask, batch.contour)}


def train_step(model: OceanPlus, optimizer: torch.optim.Optimizer, batch: OceanBatch,
               config: OceanTrainConfig, step: int) -> dict[str, float]:
    return optimizer_step(model, optimizer, compute_losses(model, batch), config, step)


def fresh_model(config: OceanTrainConfig) -> OceanPlus:
    """ImageNet trunk where available, frozen early blocks, bbox bias at log(BOX_INIT)."""
    model = OceanPlus(config.variant, config.width, config.backbone)
    if config.pretrained and config.backbone != RESNET50:  # no ResNet weights here
        load_pretrained(model.features.features, config.backbone)
    with torch.no_grad():
        model.connect_model.bias.fill_(math.log(BOX_INIT))
    return set_train_mode(freeze(model, config.frozen_blocks), config.frozen_blocks)


def check_resumable(model: OceanPlus, config: OceanTrainConfig) -> None:
    """The run's width, backbone and variant must be the checkpoint's."""
    found = (model.channels.width, model.channels.backbone, model.variant)
    wanted = (config.width, config.backbone, config.variant)
    if abs(found[0] - wanted[0]) > 1e-6 or found[1:] != wanted[1:]:
        raise MasktrtError(f"checkpoint is width {found[0]:g} / {found[1]} / {found[2]} but the "
                           f"run asks {wanted[0]:g} / {wanted[1]} / {wanted[2]}",
                           f"pass --width {found[0]:g} --backbone {found[1]} --variant {found[2]}")


def recipe(config: OceanTrainConfig) -> Recipe:
    """OceanPlus's part of the one training loop (`training.trainer`)."""
    return pair_recipe(config, fresh_model, load_checkpoint, check_resumable, save_checkpoint,
                       batch_pairs, collate, compute_losses)


def train(out: str | Path, config: OceanTrainConfig, resume_from: str | Path | None = None,
          progress: bool = True, max_seconds: float | None = None) -> Path:
    """Run (or continue) training into `out` with the one loop; returns the checkpoint path."""
    return trainer.train(out, recipe(config), resume_from, progress, max_seconds)


def config_from_args(args) -> OceanTrainConfig:
    """The run's config from `masktrt train` arguments (the SiamMask options it shares)."""
    return OceanTrainConfig(steps=args.steps, width=args.width, variant=args.variant,
                            batch=args.batch, lr=args.lr, final_lr=args.final_lr,
                            seed=args.seed, save_every=args.save_every, backbone=args.backbone,
                            frozen_blocks=args.freeze_blocks, backbone_lr=args.backbone_lr,
                            real=args.real, negative=args.negative)


def run_command(args: Any) -> int:
    """`masktrt train --tracker oceanplus ...`: train, then optionally save the FP16 file and
    score N held-out synthetic sequences (`--eval N`, DIR/eval.json); its held-out real table is
    `masktrt eval --tracker oceanplus --checkpoint CKPT`."""
    torch.set_num_threads(args.threads)
    max_seconds = None if args.max_minutes is None else 60 * args.max_minutes
    path = train(args.out, config_from_args(args), args.resume, not args.no_progress, max_seconds)
    print(f"checkpoint: {path}")
    if args.export_fp16:
        print(f"fp16 weights: {save_checkpoint(load_checkpoint(path), args.export_fp16, fp16=True)}")
    if args.eval:
        from masktrt.training.held_out import report_synthetic

        report_synthetic(load_checkpoint(path), NAME, Path(args.out), args.eval)
    return 0
