"""Train RTS's demo weights: the seeded network on the ImageNet EfficientNet-Lite0 trunk, with its
classifier and the decoder's last level learned by episodes through the closed-form learners
(trackers/rts/MODEL_CARD.md).

Why these parts: with every weight random (the release's ResNet-50 seeded), the classifier's
steepest descent could not fit its own training frame (peak 0.03-0.19 against the 0.3 not-found
threshold, measured) and the decoder's mask covered the crop, so a closed loop only ever took the
not-found branch; training the heads on that random ResNet-50 did not help (200 steps: not found
on every frame of blackswan, J 0.06). No ImageNet ResNet-50 can be installed here, so the demo
network takes the Lite0 trunk (lite_features.py) and the recipe trains what decides the
branches: the classifier's feature extractor and filter initializer (DiMP's loss through
CLF_ITERS unrolled GN steps from the initializer's filter) and the decoder's layer1 level and
upsampler (the mask, from the frozen levels above and the segmentation learner's output after
SEG_ITERS steps on the train frames). Frozen: trunk and adapters, segmentation features, both
label encoders, the deeper decoder levels, the BatchNorm statistics. The file ships only the
trained tensors (`seeded_partial`).

An episode is one sequence: TRAIN frames (their masks and boxes) train both learners, the
later test frame is scored: binary cross-entropy + Dice on its mask, DiMP's hinge loss on its
classifier scores (final and initial filter). The classifier's scores enter the decoder's input
detached, so each loss trains only its own parts.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from masktrt.errors import MasktrtError
from masktrt.trackers.rts.export import steepest_descent as sd
from masktrt.trackers.rts.export.decoder import LEVELS, resize
from masktrt.trackers.rts.export.inputs import clf_label, temporal_weights
from masktrt.trackers.rts.spec import HINGE_THRESHOLD, TrackerConfig
from masktrt.trackers.rts.export.network import EFFICIENTNET_LITE0
from masktrt.trackers.rts.training.data import (FrameSample, backbone_map, backbone_maps, draw_episode,
                                       precompute)
from masktrt.training import trainer
from masktrt.training.loop import DecayingLr
from masktrt.training.trainer import Recipe

TRAINED = ("classifier.", "decoder.TSE.layer1.", "decoder.RRB1.layer1.", "decoder.CAB.layer1.",
           "decoder.RRB2.layer1.", "decoder.proj.layer1.", "decoder.project.")
CHECKPOINT = "checkpoint.safetensors"
LAYER3 = 2  # the classifier's input: layer3 (l1..l4 are levels 0..3)
TRAIN = 3  # train frames per episode (the release's training uses 3)
SEG_ITERS, CLF_ITERS = 10, 5  # learner steps in an episode (the tracker: 20 / 10 at init)


@dataclass(frozen=True)
class RtsTrainConfig(DecayingLr):
    steps: int = 1500
    batch: int = 4  # episodes per optimizer step
    lr: float = 1e-3
    final_lr: float = 1e-4  # exponential decay over `steps`
    seed: int = 0  # the seeded network's and the data's
    crop: tuple[int, int] = (384, 672)  # H x W of the training crops (multiples of 32)
    backbone: str = EFFICIENTNET_LITE0  # the ImageNet trunk (rts/lite_features.py)
    window: int = 25  # train frames come from the `window` frames before the test frame
    save_every: int = 100


# -- the model ------------------------------------------------------------------------------------

def trainable(model) -> list[torch.nn.Parameter]:
    """Freeze everything but TRAINED; eval mode everywhere (BatchNorm statistics stay)."""
    model.eval()
    params = []
    for name, param in model.named_parameters():
        param.requires_grad_(name.startswith(TRAINED))
        if param.requires_grad:
            params.append(param)
    return params


def decode(model, fused: torch.Tensor, layers: tuple[torch.Tensor, ...],
           size: tuple[int, int]) -> torch.Tensor:
    """The decoder with its frozen deeper levels run without autograd."""
    by_name = dict(zip(("layer1", "layer2", "layer3", "layer4"), layers))
    x = None
    with torch.no_grad():
        for name in LEVELS[:-1]:
            x = model.decoder.level(name, by_name[name], fused, x)
    x = model.decoder.level(LEVELS[-1], by_name[LEVELS[-1]], fused, x)
    return model.decoder.project(x, size)


# -- one episode --------------------------------------------------------------------------------

def cat(samples: list[FrameSample], get) -> torch.Tensor:
    return torch.cat([get(s) for s in samples]).float()


def labels(samples: list[FrameSample], crop_hw: tuple[int, int]) -> torch.Tensor:
    return torch.from_numpy(np.concatenate([clf_label(s.box, crop_hw) for s in samples]))


def hinge_loss(scores: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
    """DiMP's LBHinge: background scores count only above 0, the target's are regressed."""
    background = (label < HINGE_THRESHOLD).to(scores.dtype)
    prediction = background * F.relu(scores) + (1 - background) * scores
    return F.mse_loss(prediction, (1 - background) * label)


def classifier_episode(model, train: list[FrameSample], test: FrameSample,
                       crop_hw: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss, test scores): filter from the initializer, CLF_ITERS steps on the train frames."""
    l3 = torch.cat([backbone_map(model, s, LAYER3) for s in (*train, test)])
    x = model.classifier.feature_extractor(l3)
    pool_in = model.classifier.filter_initializer.filter_conv(x[:TRAIN])
    boxes = torch.from_numpy(np.stack([s.box for s in train]))
    start = model.clf_init_filter(pool_in, boxes)
    sw = torch.full((TRAIN,), 1.0 / TRAIN)
    learned = model.clf_learn(start, x[:TRAIN], labels(train, crop_hw), sw, CLF_ITERS)
    target = labels([test], crop_hw)
    scores = model.classify(x[TRAIN:], learned)
    loss = hinge_loss(scores, target) + 0.5 * hinge_loss(model.classify(x[TRAIN:], start), target)
    return loss, scores


def seg_encoding(model, train: list[FrameSample], test: FrameSample) -> torch.Tensor:
    """The segmentation learner's output on the test frame (all frozen: no autograd)."""
    with torch.no_grad():
        y, w = model.encode_label(cat(train, lambda s: s.mask))
        rate = TrackerConfig().seg_learning_rate
        w = w * torch.from_numpy(temporal_weights(TRAIN, rate)).reshape(-1, 1, 1, 1)
        x = cat(train, lambda s: s.seg_x)
        learned = model.seg_learn(model.target_model.initial_filter(x), x, y, w, SEG_ITERS)
        return sd.apply_filter(test.seg_x.float(), learned)


def mask_loss(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy plus soft Dice (the target is a small part of the crop)."""
    prob = torch.sigmoid(logits)
    dice = 1 - (2 * (prob * mask).sum() + 1) / (prob.sum() + mask.sum() + 1)
    return F.binary_cross_entropy_with_logits(logits, mask) + dice


def episode_losses(model, train: list[FrameSample], test: FrameSample,
                   crop_hw: tuple[int, int]) -> dict[str, torch.Tensor]:
    clf, scores = classifier_episode(model, train, test, crop_hw)
    encoding = seg_encoding(model, train, test)
    with torch.no_grad():
        fused = encoding + resize(model.clf_encoder(scores.detach())[0], encoding.shape[-2:])
    logits = decode(model, fused, backbone_maps(model, test), crop_hw)
    peak = scores.detach().flatten()
    on_target = peak.argmax() == labels([test], crop_hw).flatten().argmax()
    return {"mask": mask_loss(logits, test.mask), "clf": clf, "peak": peak.max(),
            "on_target": on_target.float()}


# -- the run ------------------------------------------------------------------------------------

def train_step(model, optimizer, samples, rng, config: RtsTrainConfig, step: int) -> dict[str, float]:
    for group in optimizer.param_groups:
        group["lr"] = config.lr_at(step)
    totals: dict[str, float] = {}
    optimizer.zero_grad(set_to_none=True)
    for _ in range(config.batch):
        losses = episode_losses(model, *draw_episode(samples, rng, TRAIN, config.window), config.crop)
        loss = losses["mask"] + losses["clf"]
        if not torch.isfinite(loss):
            raise MasktrtError(f"RTS training loss became {loss.item()} at step {step}",
                               "start again with a lower --lr")
        (loss / config.batch).backward()
        for key, value in losses.items():
            totals[key] = totals.get(key, 0.0) + float(value.detach()) / config.batch
    optimizer.step()
    return totals


def save_checkpoint(model, path: Path, config: RtsTrainConfig, fp16: bool = False) -> Path:
    """The trained tensors only (`seeded_partial`); the step lives in the run's state file."""
    from masktrt.trackers.rts.export.seeded_partial import save_partial

    info = {"config": repr(asdict(config))}
    return save_partial(model, path, config.seed, TRAINED, fp16, info)


def resumed_model(path: Path, config: RtsTrainConfig):
    """The run's checkpoint, refused in one line when it was seeded or built otherwise."""
    from masktrt.trackers.rts.export.seeded_partial import load_partial, partial_header

    seed, backbone, trained, _ = partial_header(Path(path))
    if (seed, backbone, tuple(trained)) != (config.seed, config.backbone, TRAINED):
        raise MasktrtError(f"checkpoint '{path}' is seed {seed}, backbone {backbone}, trained "
                           f"{','.join(trained)}; this run trains seed {config.seed}, backbone "
                           f"{config.backbone}, {','.join(TRAINED)}",
                           f"pass --seed {seed} to resume it, or start a new --out folder")
    return load_partial(path)


def episode_data(model, config: RtsTrainConfig) -> list:
    """Every training sequence's frames featurised once by the frozen trunk."""
    from masktrt.training.real import training_sequences

    return precompute(model, training_sequences(), config.seed, config.crop)


def recipe(config: RtsTrainConfig) -> Recipe:
    """RTS's part of the one training loop (`training.trainer`): episodes drawn with a
    generator seeded by (seed, step), so a resumed run draws what an uninterrupted one would."""
    from masktrt.trackers.rts.export.random_weights import random_model

    def step(model, optimizer, samples: list, step: int) -> dict[str, float]:
        rng = np.random.default_rng((config.seed + 1, step))
        return train_step(model, optimizer, samples, rng, config, step)

    return Recipe(config, lambda c: random_model(c.seed, backbone=c.backbone), resumed_model,
                  lambda model, c: torch.optim.Adam(trainable(model), lr=c.lr), episode_data,
                  step, lambda model, path, fp16=False: save_checkpoint(model, path, config, fp16))


def train_rts(out: str | Path, config: RtsTrainConfig, resume_from: str | Path | None = None,
              progress: bool = True, max_seconds: float | None = None) -> Path:
    """Run (or continue) training into `out` with the one loop; returns the FP32 partial
    checkpoint's path."""
    return trainer.train(out, recipe(config), resume_from, progress, max_seconds)


def run_command(args: Any) -> int:
    """`masktrt train --tracker rts ...`: the episode trainer (resumable with --resume), then
    optionally the FP16 file; its held-out table is `masktrt eval --tracker rts --checkpoint CKPT`."""
    torch.set_num_threads(args.threads)
    config = RtsTrainConfig(steps=args.steps, batch=args.batch, lr=args.lr, final_lr=args.final_lr,
                            seed=args.seed, save_every=args.save_every)
    max_seconds = None if args.max_minutes is None else 60 * args.max_minutes
    path = train_rts(args.out, config, args.resume, not args.no_progress, max_seconds)
    print(f"checkpoint: {path}")
    if args.export_fp16:
        from masktrt.trackers.rts.export.seeded_partial import load_partial

        print(f"fp16 weights: {save_checkpoint(load_partial(path), Path(args.export_fp16), config, True)}")
    return 0
