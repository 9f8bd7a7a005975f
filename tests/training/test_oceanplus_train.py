"""OceanPlus training: pairs have the shapes and targets the losses expect, a training step
stays finite and moves the weights, a trained file rebuilds its own network (backbone, width,
variant), and the pair sampler only ever reads the sequences it is given, never an evaluation
sequence."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from masktrt.errors import MasktrtError
from masktrt.export.backbones import EFFICIENTNET_LITE0, RESNET50
from masktrt.trackers.oceanplus.export import OceanPlus
from masktrt.trackers.oceanplus.export.checkpoint import load_checkpoint, save_checkpoint
from masktrt.trackers.oceanplus.training import train as ot
from masktrt.trackers.oceanplus.training.pairs import batch_pairs, negative_pair, positive_pair
from masktrt.training.scenes import Augment, Mix, SceneWindow
from masktrt.training.real import EVALUATION_SEQUENCES, training_sequences
from masktrt.training.loop import make_optimizer, real_sequences


def frames(shift: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A 200x240 frame with a bright square target and its 0/255 mask."""
    rng = np.random.default_rng(shift)
    frame = rng.integers(0, 80, (200, 240, 3), dtype=np.uint8)
    mask = np.zeros((200, 240), np.uint8)
    mask[80 + shift:120 + shift, 100:150] = 255
    frame[mask > 0] = 220
    return frame, mask


def test_positive_pair_has_template_mask_targets_and_contour() -> None:
    (f0, m0), (f1, m1) = frames(), frames(6)
    pair = positive_pair(f0, m0, f1, m1, np.random.default_rng(0), Augment(gray=0))
    assert pair.template.shape == (3, 127, 127) and pair.search.shape == (3, 255, 255)
    assert pair.z_mask.shape == (1, 127, 127) and set(np.unique(pair.z_mask)) == {0.0, 1.0}
    assert pair.mask.shape == (1, 255, 255) and pair.mask.sum() > 500
    assert pair.contour.sum() > 0 and np.all(pair.mask[pair.contour > 0] == 1)
    assert 1 <= pair.targets.labels.sum() <= 13
    rows, cols = np.nonzero(pair.targets.labels)  # positives lie on the target in the crop
    assert np.all(pair.mask[0, rows * 8 + 31, cols * 8 + 31] == 1)


def test_negative_pair_has_no_positive_and_no_mask() -> None:
    f0, m0 = frames()
    pair = negative_pair(f0, m0, frames(3)[0], np.random.default_rng(1))
    assert pair.mask is None and pair.targets.labels.sum() == 0


def tiny_config(**kw) -> ot.OceanTrainConfig:
    base = dict(width=0.125, batch=2, backbone=RESNET50, pretrained=False, frozen_blocks=1,
                real=0.0, negative=0.0, steps=2, save_every=1)
    return ot.OceanTrainConfig(**{**base, **kw})


def test_one_step_is_finite_and_changes_the_weights() -> None:
    torch.manual_seed(0)
    config = tiny_config()
    model = ot.fresh_model(config)
    optimizer = make_optimizer(model, config)
    (f0, m0), (f1, m1) = frames(), frames(4)
    rng = np.random.default_rng(2)
    pairs = [positive_pair(f0, m0, f1, m1, rng), negative_pair(f0, m0, f1, rng)]
    before = model.connect_model.cls_pred.weight.clone()
    frozen = model.features.features.conv1.weight.clone()
    values = ot.train_step(model, optimizer, ot.collate(pairs), config, 0)
    assert all(np.isfinite(v) for v in values.values()) and values["mask"] > 0
    assert not torch.equal(before, model.connect_model.cls_pred.weight)
    assert torch.equal(frozen, model.features.features.conv1.weight)
    assert all(torch.isfinite(p).all() for p in model.parameters())


@pytest.mark.parametrize("variant,width,backbone", [("mss", 0.25, EFFICIENTNET_LITE0),
                                                    ("mms", 0.125, RESNET50)])
def test_a_trained_file_rebuilds_its_own_network(tmp_path, variant, width, backbone) -> None:
    model = OceanPlus(variant, width, backbone)
    path = save_checkpoint(model, tmp_path / "w.safetensors", fp16=True)
    loaded = load_checkpoint(path)
    assert (loaded.variant, loaded.channels.width, loaded.backbone) == (variant, width, backbone)
    assert torch.equal(loaded.neck.downsample[0].weight, model.neck.downsample[0].weight.half().float())
    with pytest.raises(MasktrtError, match="backbone"):
        other = RESNET50 if backbone == EFFICIENTNET_LITE0 else EFFICIENTNET_LITE0
        load_checkpoint(path, OceanPlus(variant, width, other))


def crafted_pairs(window, seed, step, batch, **_) -> list:
    """Stands in for the scene sampler (whose scenes take seconds to build)."""
    (f0, m0), (f1, m1) = frames(), frames(step)
    return [positive_pair(f0, m0, f1, m1, np.random.default_rng(step))] * batch


def test_a_run_saves_resumes_and_logs(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(ot, "batch_pairs", crafted_pairs)
    ot.train(tmp_path, tiny_config(steps=1), progress=False)
    ot.train(tmp_path, tiny_config(steps=2), resume_from=tmp_path, progress=False)
    rows = (tmp_path / "losses.csv").read_text().splitlines()
    assert rows[0].startswith("step,lr,loss,cls,box,mask") and [r[0] for r in rows[1:]] == ["0", "1"]
    with pytest.raises(MasktrtError, match="--width"):
        ot.train(tmp_path, tiny_config(width=0.25, steps=3), resume_from=tmp_path, progress=False)


class FakeSequence:
    """A real-sequence stand-in that records every frame read."""

    def __init__(self, name: str, reads: list) -> None:
        self.name, self.reads = name, reads

    def __len__(self) -> int:
        return 5

    def frame(self, index: int) -> np.ndarray:
        self.reads.append(self.name)
        return frames(index)[0]

    def mask(self, index: int) -> np.ndarray:
        return (frames(index)[1] > 0).astype(np.uint8)


def test_the_sampler_reads_only_the_training_sequences_it_is_given() -> None:
    reads: list[str] = []
    real = [FakeSequence("train-a", reads), FakeSequence("train-b", reads)]
    pairs = batch_pairs(SceneWindow(0, 2), 0, 0, 6, real=real, mix=Mix(real=0.6, negative=0.3))
    assert len(pairs) == 6 and set(reads) <= {"train-a", "train-b"} and reads


def test_the_run_takes_its_real_data_from_the_guarded_loader(monkeypatch) -> None:
    sentinel = [object()]
    monkeypatch.setattr("masktrt.training.real.training_sequences", lambda: sentinel)
    assert real_sequences(tiny_config(real=0.6)) is sentinel  # what the one loop calls
    assert real_sequences(tiny_config()) == []


@pytest.mark.parametrize("name", EVALUATION_SEQUENCES)
def test_the_loader_refuses_every_evaluation_sequence(tmp_path, name) -> None:
    (tmp_path / name / "frames").mkdir(parents=True)
    (tmp_path / name / "masks").mkdir()
    with pytest.raises(MasktrtError, match="evaluation sequence"):
        training_sequences(tmp_path)


def test_train_eval_scores_held_out_synthetic_sequences(tmp_path, monkeypatch) -> None:
    """`masktrt train --tracker oceanplus --eval N` (was SiamMask's only): the one harness's
    synthetic evaluation after training, in DIR/eval.json."""
    import json
    from types import SimpleNamespace

    from masktrt.training import held_out

    monkeypatch.setattr(held_out, "EVAL_FRAMES", 3)  # a short sequence is enough to check the path
    monkeypatch.setattr(ot, "config_from_args", lambda args: tiny_config(steps=1))
    args = SimpleNamespace(threads=1, max_minutes=None, out=str(tmp_path), resume=None,
                           no_progress=True, export_fp16=None, eval=1)
    assert ot.run_command(args) == 0
    report = json.loads((tmp_path / "eval.json").read_text())
    assert report["count"] == 1 and report["frames"] == 3 and 0.0 <= report["mean_j"] <= 1.0
