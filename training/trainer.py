"""The one training loop of the pair-trained trackers (pytracking's `ltr/trainers` with per-tracker
`train_settings`): a tracker brings a `Recipe` (its model, its pairs and batches, its losses and
its checkpoint file), the loop brings everything else the same way for all of them.

What the loop owns: the run folder (`loop.CHECKPOINT` FP32 weights, `loop.STATE` optimizer
state + step + config + elapsed seconds, `loop.LOSSES` one row per step), resuming (the
checkpoint's architecture checked against the run's config, the logged steps after the last
checkpoint dropped), the scene window, the optimizer step, saving every `save_every` steps, at
the end and when `max_seconds` runs out, and the progress bar. Pairs are a pure function of
(seed, step), so a resumed run sees the same data stream as an uninterrupted one.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from masktrt.training.loop import (CHECKPOINT, STATE, log_row, make_optimizer, optimizer_step,
                                   progress_bar, real_sequences, truncate_log)
from masktrt.training.model_setup import freeze, set_train_mode
from masktrt.training.scenes import SceneWindow


@dataclass(frozen=True)
class Recipe:
    """One tracker's part of a run. `config` is its frozen settings dataclass (steps, batch,
    seed, save_every, steps_per_scene, lr_at, mix, weights, grad_clip, frozen_blocks, ...)."""

    config: Any
    fresh_model: Callable[[Any], torch.nn.Module]  # config -> model ready to train
    load_checkpoint: Callable[[Path], torch.nn.Module]
    check_resumable: Callable[[torch.nn.Module, Any], None]  # a one-line error if it differs
    save_checkpoint: Callable[..., Path]  # (model, path, fp16=False): written atomically
    batch_pairs: Callable[..., list]  # (window, seed, step, count, real=, mix=) -> pairs
    collate: Callable[[list], Any]  # pairs -> batch
    losses: Callable[[torch.nn.Module, Any], dict[str, torch.Tensor]]  # cls, box, mask

    def batch(self, window: SceneWindow, step: int, real: list) -> Any:
        config = self.config
        return self.collate(self.batch_pairs(window, config.seed, step, config.batch, real=real,
                                             mix=config.mix()))

    def resumed_model(self, path: Path) -> torch.nn.Module:
        """The checkpoint's model, checked against the run and set up to train like a fresh one
        (the stem and `frozen_blocks` blocks frozen, BatchNorm in train mode outside them)."""
        model = self.load_checkpoint(path)
        self.check_resumable(model, self.config)
        return set_train_mode(freeze(model, self.config.frozen_blocks), self.config.frozen_blocks)


def train_step(recipe: Recipe, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
               batch: Any, step: int) -> dict[str, float]:
    return optimizer_step(model, optimizer, recipe.losses(model, batch), recipe.config, step)


def save_state(out: Path, recipe: Recipe, model: torch.nn.Module,
               optimizer: torch.optim.Optimizer, step: int, elapsed: float) -> None:
    """Weights, then the state under a temporary name renamed into place (crash-safe)."""
    recipe.save_checkpoint(model, out / CHECKPOINT, fp16=False)
    torch.save({"step": step, "optimizer": optimizer.state_dict(),
                "config": asdict(recipe.config), "elapsed": elapsed}, out / (STATE + ".tmp"))
    (out / (STATE + ".tmp")).replace(out / STATE)


def resume(path: Path, recipe: Recipe
           ) -> tuple[torch.nn.Module, torch.optim.Optimizer, int, float]:
    """Model, optimizer, next step and elapsed seconds from a run folder or its checkpoint (a
    checkpoint without a state file starts at step 0: a warm start)."""
    folder = path if path.is_dir() else path.parent
    model = recipe.resumed_model(folder / CHECKPOINT)
    optimizer = make_optimizer(model, recipe.config)
    if not (folder / STATE).is_file():
        return model, optimizer, 0, 0.0
    state = torch.load(folder / STATE, map_location="cpu", weights_only=True)
    optimizer.load_state_dict(state["optimizer"])
    return model, optimizer, int(state["step"]), float(state["elapsed"])


def train(out: str | Path, recipe: Recipe, resume_from: str | Path | None = None,
          progress: bool = True, max_seconds: float | None = None) -> Path:
    """Run (or continue) training into `out`; returns the checkpoint path. `max_seconds`
    stops early (after saving) so a run fits a wall-clock budget."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(recipe.config.seed)
    if resume_from is not None:
        model, optimizer, start, elapsed = resume(Path(resume_from), recipe)
        truncate_log(out, start)
    else:
        model, start, elapsed = recipe.fresh_model(recipe.config), 0, 0.0
        optimizer = make_optimizer(model, recipe.config)
    steps(out, recipe, model, optimizer, start, time.monotonic() - elapsed, progress, max_seconds)
    return out / CHECKPOINT


def steps(out: Path, recipe: Recipe, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
          start: int, began: float, progress: bool, max_seconds: float | None) -> None:
    """Steps start..steps-1, logging each and saving every `save_every` (and at the end)."""
    config = recipe.config
    window = SceneWindow(config.seed, config.steps_per_scene)
    real = real_sequences(config)
    bar = progress_bar(start, config.steps, progress)
    for step in range(start, config.steps):
        started = time.monotonic()
        values = train_step(recipe, model, optimizer, recipe.batch(window, step, real), step)
        values["seconds"] = time.monotonic() - started
        log_row(out, step, values, config.lr_at(step))
        bar.update(1)
        bar.set_postfix({k: f"{v:.3f}" for k, v in values.items()})
        out_of_time = max_seconds is not None and time.monotonic() - began > max_seconds
        if (step + 1) % config.save_every == 0 or step + 1 == config.steps or out_of_time:
            save_state(out, recipe, model, optimizer, step + 1, time.monotonic() - began)
        if out_of_time:
            break
    bar.close()
    if start >= config.steps:
        save_state(out, recipe, model, optimizer, start, time.monotonic() - began)
