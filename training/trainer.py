"""The one training loop of every tracker (pytracking's `ltr/trainers` with per-tracker
`train_settings`): a tracker brings a `Recipe` (its model, optimizer, data and one optimizer
step, its checkpoint file), the loop brings everything else the same way for all of them.

What the loop owns: the run folder (`loop.CHECKPOINT` FP32 weights, `loop.STATE` optimizer
state + step + config + elapsed seconds, `loop.LOSSES` one row per step), resuming (the
recipe checks the checkpoint against the run's config; the logged steps after the last
checkpoint are dropped), saving every `save_every` steps, at the end and when `max_seconds` runs
out, and the progress bar. A recipe's data at a step is a pure function of (seed, step), so a
resumed run sees the same data stream as an uninterrupted one.

Two shapes of recipe exist: pair-trained trackers (SiamMask, OceanPlus) build theirs with
`pair_recipe` from a pair builder and losses; RTS's episode learner builds its own
(trackers/rts/training/train.py).
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
    """One tracker's part of a run. `config` is its frozen settings dataclass (at least steps,
    seed, save_every and `lr_at(step)`)."""

    config: Any
    fresh_model: Callable[[Any], torch.nn.Module]  # config -> model ready to train
    resumed_model: Callable[[Path, Any], torch.nn.Module]  # (checkpoint, config) -> checked model
    make_optimizer: Callable[[torch.nn.Module, Any], torch.optim.Optimizer]
    data: Callable[[torch.nn.Module, Any], Any]  # (model, config) -> what every step draws from
    step: Callable[..., dict[str, float]]  # (model, optimizer, data, step) -> logged values
    save_checkpoint: Callable[..., Path]  # (model, path, fp16=False): written atomically


@dataclass(frozen=True)
class PairData:
    """What a pair-trained run draws its batches from."""

    window: SceneWindow
    real: list


def pair_recipe(config: Any, fresh_model: Callable, load_checkpoint: Callable,
                check_resumable: Callable, save_checkpoint: Callable, batch_pairs: Callable,
                collate: Callable, losses: Callable) -> Recipe:
    """The recipe of a pair-trained tracker: batches of `batch_pairs(window, seed, step, count,
    real=, mix=)` collated, `losses(model, batch)` (cls, box, mask) weighted by the config, one
    AdamW step with gradient clipping. A resumed checkpoint is checked (`check_resumable`) and
    set up to train like a fresh one (stem and `frozen_blocks` frozen, BatchNorm in train mode
    outside them)."""

    def resumed(path: Path, config: Any) -> torch.nn.Module:
        model = load_checkpoint(path)
        check_resumable(model, config)
        return set_train_mode(freeze(model, config.frozen_blocks), config.frozen_blocks)

    def data(model: torch.nn.Module, config: Any) -> PairData:
        return PairData(SceneWindow(config.seed, config.steps_per_scene), real_sequences(config))

    def step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, data: PairData,
             step: int) -> dict[str, float]:
        batch = collate(batch_pairs(data.window, config.seed, step, config.batch, real=data.real,
                                    mix=config.mix()))
        return optimizer_step(model, optimizer, losses(model, batch), config, step)

    return Recipe(config, fresh_model, resumed, make_optimizer, data, step, save_checkpoint)


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
    model = recipe.resumed_model(folder / CHECKPOINT, recipe.config)
    optimizer = recipe.make_optimizer(model, recipe.config)
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
        optimizer = recipe.make_optimizer(model, recipe.config)
    steps(out, recipe, model, optimizer, start, time.monotonic() - elapsed, progress, max_seconds)
    return out / CHECKPOINT


def steps(out: Path, recipe: Recipe, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
          start: int, began: float, progress: bool, max_seconds: float | None) -> None:
    """Steps start..steps-1, logging each and saving every `save_every` (and at the end)."""
    config = recipe.config
    data = recipe.data(model, config)
    bar = progress_bar(start, config.steps, progress)
    for step in range(start, config.steps):
        started = time.monotonic()
        values = recipe.step(model, optimizer, data, step)
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
