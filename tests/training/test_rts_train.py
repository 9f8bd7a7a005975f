"""The RTS episode trainer and its seeded-partial checkpoints, on small crops of the seeded model.

Small crops (64x96) of generated frames keep this fast; the real recipe runs at 256x448 on the
training sequences (trackers/rts/MODEL_CARD.md).
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from masktrt.errors import MasktrtError
from masktrt.trackers.rts.export.random_weights import random_model, seeded_init
from masktrt.trackers.rts.export.network import RTS
from masktrt.trackers.rts.export.seeded_partial import (
    is_partial, kept_keys, load_partial, read_metadata, save_partial)
from masktrt.trackers.rts.training import train as rts_train
from masktrt.trackers.rts.training.data import centre_box, draw_episode, featurise
from masktrt.trackers.rts.training.train import TRAINED, RtsTrainConfig, trainable
from masktrt.trackers.rts.export.network import EFFICIENTNET_LITE0

CROP = (64, 96)


@pytest.fixture(scope="module")
def model() -> RTS:
    return random_model()


@pytest.fixture(scope="module")
def samples(model):
    """Two 'sequences' of five crops with a bright rectangle target."""
    rng = np.random.default_rng(0)
    crops = []
    for _ in range(10):
        im = rng.uniform(0, 80, (1, 3, *CROP)).astype(np.float32)
        mask = np.zeros(CROP, np.uint8)
        y, x = rng.integers(10, 30), rng.integers(20, 50)
        mask[y:y + 20, x:x + 30] = 1
        im[:, :, mask > 0] = 220
        crops.append((im, mask))
    frames = featurise(model, crops)
    return [frames[:5], frames[5:]]


def test_centre_box_is_the_mask_bounding_box():
    mask = np.zeros((10, 20), np.uint8)
    mask[2:6, 3:11] = 1
    assert centre_box(mask) == (7.0, 4.0, 8.0, 4.0)


def test_episode_draws_train_frames_before_the_test_frame(samples):
    rng = np.random.default_rng(1)
    for _ in range(20):
        train, test = draw_episode(samples, rng, 3, 25)
        seq = next(s for s in samples if any(f is test for f in s))
        order = [next(i for i, f in enumerate(seq) if f is t) for t in (*train, test)]
        assert order == sorted(order) and len(set(order)) == 4


def test_a_step_changes_only_the_trained_parts(model, samples):
    """Finite losses; every changed tensor is under TRAINED; the classifier did change."""
    work = random_model()
    before = {k: v.clone() for k, v in work.state_dict().items()}
    optimizer = torch.optim.Adam(trainable(work), lr=1e-3)
    config = RtsTrainConfig(batch=2, crop=CROP)
    values = rts_train.train_step(work, optimizer, samples, np.random.default_rng(0), config, 0)
    assert all(np.isfinite(v) for v in values.values()) and values["mask"] > 0
    changed = {k for k, v in work.state_dict().items() if not torch.equal(v, before[k])}
    assert changed and all(k.startswith(TRAINED) for k in changed)
    assert "classifier.feature_extractor.0.weight" in changed


def test_partial_checkpoint_round_trip(model, tmp_path):
    """Only the kept tensors are stored; loading regenerates the rest bit for bit."""
    path = save_partial(model, tmp_path / "p.safetensors", 0, TRAINED, fp16=False)
    assert is_partial(path) and read_metadata(path)["trained"] == ",".join(TRAINED)
    loaded = load_partial(path)
    ours, theirs = model.state_dict(), loaded.state_dict()
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)
    assert path.stat().st_size < 40e6  # FP32 here; the shipped FP16 file is about half


def test_partial_checkpoint_refuses_other_seeded_tensors(model, tmp_path):
    """A model whose frozen tensors are not seed 0's cannot be saved as seed 0's."""
    other = seeded_init(RTS(), 1)
    with pytest.raises(MasktrtError, match="not the seeded ones"):
        save_partial(other, tmp_path / "p.safetensors", 0, TRAINED)


def test_partial_checkpoint_detects_a_changed_generator(model, tmp_path, monkeypatch):
    """If this PyTorch regenerated other frozen tensors, loading fails in one line."""
    path = save_partial(model, tmp_path / "p.safetensors", 0, TRAINED)
    from masktrt.trackers.rts.export import seeded_partial

    monkeypatch.setattr(seeded_partial, "seeded", lambda seed, backbone: seeded_init(RTS(backbone), seed + 1))
    with pytest.raises(MasktrtError, match="generates others"):
        load_partial(path)


def test_kept_keys_are_small(model):
    """What the shipped file holds: under 10 M values (20 MB in FP16 is the repository's cap)."""
    state = model.state_dict()
    kept = kept_keys(model, TRAINED)
    assert sum(state[k].numel() for k in kept) < 10_000_000


def test_lite0_backbone_keeps_resnets_shapes():
    """The demo weights' backbone (ImageNet Lite0 + 1x1 adapters) gives every map the
    release's channels and grid, so graphs, contract and runtime are unchanged."""
    from masktrt.trackers.rts.export.random_weights import seeded_rts

    im = torch.rand(1, 3, *CROP) * 255
    with torch.no_grad():
        lite = seeded_rts(0, EFFICIENTNET_LITE0).eval().features(im)
        resnet = seeded_rts(0).eval().features(im)
    assert [t.shape for t in lite] == [t.shape for t in resnet]


def test_lite0_partial_checkpoint_round_trip(tmp_path):
    """The shipped file's kind: the trunk's ImageNet weights are regenerated from their
    package, the seeded tensors from the seed, both digest-checked."""
    from masktrt.trackers.rts.export.random_weights import seeded_rts

    model = seeded_rts(0, EFFICIENTNET_LITE0)
    path = save_partial(model, tmp_path / "lite.safetensors", 0, TRAINED, fp16=False)
    assert read_metadata(path)["backbone"] == EFFICIENTNET_LITE0
    loaded = load_partial(path)
    assert loaded.backbone == EFFICIENTNET_LITE0
    assert all(torch.equal(v, loaded.state_dict()[k]) for k, v in model.state_dict().items())


def test_the_one_loop_resumes_an_rts_run_as_if_it_had_never_stopped(samples, tmp_path):
    """RTS trains through training.trainer like the pair-trained trackers: stopped after its
    first step (max_seconds=0) and resumed, it ends with the uninterrupted run's tensors."""
    from dataclasses import replace

    from masktrt.trackers.rts.export.network import RESNET50_MRCNN
    from masktrt.training import trainer
    from masktrt.training.loop import CHECKPOINT, LOSSES

    config = RtsTrainConfig(steps=2, batch=1, crop=CROP, backbone=RESNET50_MRCNN, save_every=1)
    recipe = replace(rts_train.recipe(config), fresh_model=lambda c: random_model(),
                     data=lambda model, c: samples)
    trainer.train(tmp_path / "whole", recipe, progress=False)
    trainer.train(tmp_path / "parts", recipe, progress=False, max_seconds=0)
    assert len((tmp_path / "parts" / LOSSES).read_text().splitlines()) == 2  # header + step 0
    trainer.train(tmp_path / "parts", recipe, resume_from=tmp_path / "parts", progress=False)
    whole, parts = (load_partial(tmp_path / run / CHECKPOINT).state_dict() for run in ("whole", "parts"))
    assert all(torch.equal(whole[k], parts[k]) for k in whole)
    rows = [[line.split(",")[:-1] for line in (tmp_path / run / LOSSES).read_text().splitlines()]
            for run in ("whole", "parts")]  # the last column is the step's seconds
    assert rows[0] == rows[1] and len(rows[0]) == 3


def test_an_rts_run_refuses_a_checkpoint_of_another_seed(model, tmp_path):
    from masktrt.trackers.rts.export.network import RESNET50_MRCNN

    path = save_partial(model, tmp_path / "p.safetensors", 0, TRAINED, fp16=False)
    with pytest.raises(MasktrtError, match="seed 0.*seed 3"):
        rts_train.resumed_model(path, RtsTrainConfig(seed=3, backbone=RESNET50_MRCNN))
