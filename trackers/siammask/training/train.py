"""Training loop for the reduced-width SiamMask on real and synthetic pairs (spec §5 losses).

The backbone is chosen by name: EfficientNet-Lite0 starts from its ImageNet weights (a
registry package) with its early blocks frozen; ResNet-50 trains from scratch (no weights for
it exist here). AdamW, exponential learning-rate decay, BatchNorm in train mode outside the
frozen blocks. The mask loss runs Refine at one positive cell per pair (Refine works at one
position, as in tracking).

Checkpoints: `DIR/checkpoint.safetensors` (FP32 weights, readable by
`trackers.siammask.export.checkpoint.load_checkpoint`) plus `DIR/checkpoint.state.pt` (optimizer state, step,
config), both replaced atomically every `save_every` steps; `DIR/losses.csv` logs every step.
Pairs are a pure function of (seed, step), so resuming reproduces the same data stream.
"""
from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from masktrt.errors import MasktrtError
from masktrt.trackers.siammask.export.checkpoint import load_checkpoint, save_checkpoint
from masktrt.trackers.siammask.export import SiamMask
from masktrt.export.backbones import RESNET50, load_pretrained
from masktrt.trackers.siammask.training.losses import box_loss, cls_loss, mask_loss
from masktrt.training.loop import (CHECKPOINT, STATE, log_row, make_optimizer, optimizer_step, progress_bar,
                                   real_sequences, truncate_log)
from masktrt.training.model_setup import freeze, set_train_mode
from masktrt.training.scenes import Mix, SceneWindow
from masktrt.trackers.siammask.training.pairs import Pair, batch_pairs



@dataclass(frozen=True)
class TrainConfig:
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

    def mix(self) -> Mix:
        return Mix(real=self.real, negative=self.negative)

    def lr_at(self, step: int) -> float:
        return self.lr * (self.final_lr / self.lr) ** (step / max(self.steps, 1))


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


def save_state(out: Path, model: SiamMask, optimizer: torch.optim.Optimizer,
               config: TrainConfig, step: int, elapsed: float) -> None:
    """Weights then state, each written to a temporary name and renamed (crash-safe)."""
    tmp = save_checkpoint(model, out / (CHECKPOINT + ".tmp"), fp16=False)
    os.replace(tmp, out / CHECKPOINT)
    torch.save({"step": step, "optimizer": optimizer.state_dict(), "config": asdict(config),
                "elapsed": elapsed}, out / (STATE + ".tmp"))
    os.replace(out / (STATE + ".tmp"), out / STATE)


def resume(path: Path, config: TrainConfig) -> tuple[SiamMask, torch.optim.Optimizer, int, float]:
    """Model, optimizer, next step and elapsed seconds from a checkpoint folder or file."""
    folder = path if path.is_dir() else path.parent
    model = load_checkpoint(folder / CHECKPOINT)
    check_resumable(model, config)
    model = set_train_mode(freeze(model, config.frozen_blocks), config.frozen_blocks)
    optimizer = make_optimizer(model, config)
    state_file = folder / STATE
    if not state_file.is_file():
        return model, optimizer, 0, 0.0
    state = torch.load(state_file, map_location="cpu", weights_only=True)
    optimizer.load_state_dict(state["optimizer"])
    return model, optimizer, int(state["step"]), float(state["elapsed"])


def check_resumable(model: SiamMask, config: TrainConfig) -> None:
    """The run's width and backbone must be the checkpoint's."""
    if abs(model.spec.width - config.width) > 1e-6:
        raise MasktrtError(f"checkpoint width {model.spec.width:g} but --width {config.width:g}",
                           f"pass --width {model.spec.width:g} to resume this run")
    if model.spec.backbone != config.backbone:
        raise MasktrtError(f"checkpoint backbone {model.spec.backbone} but --backbone "
                           f"{config.backbone}", f"pass --backbone {model.spec.backbone}")


def train(out: str | Path, config: TrainConfig, resume_from: str | Path | None = None,
          progress: bool = True, max_seconds: float | None = None) -> Path:
    """Run (or continue) training into `out`; returns the checkpoint path.

    `max_seconds` stops early (after saving) so a run fits a wall-clock budget."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    if resume_from is not None:
        model, optimizer, start, elapsed = resume(Path(resume_from), config)
        truncate_log(out, start)
    else:
        model, start, elapsed = fresh_model(config), 0, 0.0
        optimizer = make_optimizer(model, config)
    window = SceneWindow(config.seed, config.steps_per_scene)
    real = real_sequences(config)
    bar = progress_bar(start, config.steps, progress)
    began = time.monotonic() - elapsed
    step = start
    for step in range(start, config.steps):
        started = time.monotonic()
        pairs = batch_pairs(window, config.seed, step, config.batch, real=real, mix=config.mix())
        values = train_step(model, optimizer, collate(pairs), config, step)
        values["seconds"] = time.monotonic() - started
        log_row(out, step, values, config.lr_at(step))
        bar.update(1)
        bar.set_postfix({k: f"{v:.3f}" for k, v in values.items()})
        done = step + 1
        out_of_time = max_seconds is not None and time.monotonic() - began > max_seconds
        if done % config.save_every == 0 or done == config.steps or out_of_time:
            save_state(out, model, optimizer, config, done, time.monotonic() - began)
        if out_of_time:
            break
    bar.close()
    if start >= config.steps:
        save_state(out, model, optimizer, config, start, elapsed)
    return out / CHECKPOINT


def fresh_model(config: TrainConfig) -> SiamMask:
    """A fresh model for a run: ImageNet trunk where one ships (Lite0; no ResNet weights here),
    the stem and `frozen_blocks` blocks frozen."""
    model = SiamMask(config.width, config.backbone)
    if config.pretrained and config.backbone != RESNET50:
        load_pretrained(model.features.features, config.backbone)
    return set_train_mode(freeze(model, config.frozen_blocks), config.frozen_blocks)


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
        report_synthetic(path, Path(args.out), args.eval)
    return 0


def report_synthetic(checkpoint: Path, out: Path, count: int) -> None:
    from masktrt.files import write_json
    from masktrt.trackers.siammask.training.evaluate import evaluate_synthetic

    report = evaluate_synthetic(checkpoint, count=count)
    write_json(out / "eval.json", report)
    print(f"held-out synthetic: mean J {report['mean_j']:.3f}, mean F {report['mean_f']:.3f} "
          f"over {report['count']} sequences")
