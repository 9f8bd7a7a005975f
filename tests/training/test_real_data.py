"""Real training data: the ten train/ sequences only, never the four evaluation sequences;
real, negative and synthetic pairs have the shapes and labels training expects."""
from __future__ import annotations

import numpy as np
import pytest

from masktrt.errors import MasktrtError
from masktrt.paths import shared_data_dir
from masktrt.training.scenes import Augment, Mix, SceneWindow
from masktrt.trackers.siammask.training.pairs import batch_pairs, negative_pair
from masktrt.training.real import (EVALUATION_SEQUENCES, check_not_evaluation, draw_frames,
                                   training_root, training_sequences)
from masktrt.trackers.siammask.training.targets import NEGATIVE, POSITIVE


@pytest.fixture(scope="module")
def real() -> list:
    if training_root() is None:
        pytest.skip("needs ../shared/data/train (real training sequences)")
    return training_sequences()


@pytest.mark.parametrize("name", EVALUATION_SEQUENCES)
def test_evaluation_sequences_are_refused_by_name(name, tmp_path) -> None:
    with pytest.raises(MasktrtError, match="evaluation sequence"):
        check_not_evaluation(tmp_path / name)


def test_any_sequence_directly_in_the_evaluation_folder_is_refused() -> None:
    root = shared_data_dir()
    if root is None:
        pytest.skip("needs ../shared/data")
    with pytest.raises(MasktrtError, match="never be trained on"):
        check_not_evaluation(root / "some-new-sequence")
    with pytest.raises(MasktrtError):
        training_sequences(root)  # pointing the loader at the evaluation folder fails


def test_training_uses_the_ten_train_sequences_and_no_evaluation_one(real) -> None:
    names = {seq.name for seq in real}
    assert len(real) == 10 and not names & set(EVALUATION_SEQUENCES)
    assert all(seq.root.parent.name == "train" and seq.has_masks for seq in real)


def test_real_frames_come_in_pairs_of_one_sequence_with_visible_masks(real) -> None:
    rng = np.random.default_rng(0)
    drawn = [d for d in (draw_frames(real, rng) for _ in range(6)) if d is not None]
    assert drawn
    for index, (f0, m0, f1, m1) in drawn:
        assert f0.shape == f1.shape and m0.shape == f0.shape[:2] and set(np.unique(m0)) <= {0, 255}
        assert 0 <= index < len(real)


def test_negative_pairs_have_only_negatives_near_the_centre(real) -> None:
    rng = np.random.default_rng(1)
    _, (f0, m0, _, _) = next(d for d in (draw_frames(real, rng) for _ in range(20)) if d is not None)
    pair = negative_pair(f0, m0, real[0].frame(0), rng, Augment())
    labels = pair.targets.labels
    assert pair.mask_cell is None and not (labels == POSITIVE).any()
    rows = np.argwhere((labels == NEGATIVE).any(axis=0))[:, 0]
    assert 0 < len(rows) and np.abs(rows - 12).max() <= 4 and pair.targets.weights.sum() == 0


def test_mixed_batches_are_a_pure_function_of_seed_and_step(real) -> None:
    mix = Mix(real=0.5, negative=0.25)
    a = batch_pairs(SceneWindow(0, 2), 0, 3, 4, real=real, mix=mix)
    b = batch_pairs(SceneWindow(0, 2), 0, 3, 4, real=real, mix=mix)
    assert all(np.array_equal(p.search, q.search) for p, q in zip(a, b))
    assert all(p.template.shape == (3, 127, 127) and p.search.shape == (3, 255, 255) for p in a)
