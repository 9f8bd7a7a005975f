"""Real training frames: the DAVIS-2016 sequences in `../shared/data/train/`, never the
evaluation sequences.

Why a guard in code: the four sequences directly in `../shared/data/` (blackswan, dog, vot-bag,
otb-crossing) are the held-out set every model card and README table reports on; a model that
saw them would make those figures meaningless. `training_sequences` refuses them by name and by
location, whatever folder it is pointed at.

Frames and masks are read on demand (689 frames of 854x480 would be ~850 MB decoded); a pair
costs two JPEG and two PNG decodes, ~15 ms, small beside a training step.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from masktrt.errors import MasktrtError
from masktrt.paths import shared_data_dir
from masktrt.runtime.sequences import Sequence, load_sequence

EVALUATION_SEQUENCES = ("davis-blackswan", "davis-dog", "vot-bag", "otb-crossing")
TRAIN_FOLDER = "train"
MIN_MASK_PIXELS = 64  # a frame whose target is smaller (or absent) is not used
Frames = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # frame0, mask0, frame1, mask1


def training_root() -> Path | None:
    """`../shared/data/train`, or None where the shared data is absent."""
    root = shared_data_dir()
    path = None if root is None else root / TRAIN_FOLDER
    return path if path is not None and path.is_dir() else None


def check_not_evaluation(folder: Path) -> Path:
    """Refuse an evaluation sequence, by name or because it sits directly in the data folder."""
    root = shared_data_dir()
    in_eval_folder = root is not None and folder.resolve().parent == root.resolve()
    if folder.name in EVALUATION_SEQUENCES or in_eval_folder:
        raise MasktrtError(f"'{folder}' is an evaluation sequence and must never be trained on",
                           f"train on the sequences in ../shared/data/{TRAIN_FOLDER}/ only")
    return folder


def sequence_folders(root: Path) -> list[Path]:
    """The sequence folders under `root` (those with frames/ and masks/), each checked."""
    folders = sorted(p for p in root.iterdir() if (p / "frames").is_dir() and (p / "masks").is_dir())
    return [check_not_evaluation(p) for p in folders]


def training_sequences(root: Path | None = None) -> list[Sequence]:
    """The real training sequences (empty where the shared data is absent)."""
    root = training_root() if root is None else root
    return [] if root is None else [load_sequence(p) for p in sequence_folders(root)]


def frame_and_mask(seq: Sequence, index: int, flip: bool) -> tuple[np.ndarray, np.ndarray]:
    """Frame (BGR) and mask (0/255, as the synthetic generator's), optionally mirrored."""
    frame, mask = seq.frame(index), seq.mask(index) * np.uint8(255)
    if flip:
        frame, mask = frame[:, ::-1].copy(), mask[:, ::-1].copy()
    return frame, mask


def visible(mask: np.ndarray) -> bool:
    return np.count_nonzero(mask) >= MIN_MASK_PIXELS


def draw_frames(sequences: list[Sequence], rng: np.random.Generator
                ) -> tuple[int, Frames] | None:
    """(sequence index, two of its frames any distance apart, mirrored together half the
    time); None when either hides the target (the caller redraws)."""
    index = int(rng.integers(len(sequences)))
    seq = sequences[index]
    t0, t1 = (int(v) for v in rng.integers(0, len(seq), 2))
    flip = bool(rng.uniform() < 0.5)
    f0, m0 = frame_and_mask(seq, t0, flip)
    f1, m1 = frame_and_mask(seq, t1, flip)
    return (index, (f0, m0, f1, m1)) if visible(m0) and visible(m1) else None


def draw_other_frame(sequences: list[Sequence], rng: np.random.Generator,
                     exclude: int) -> np.ndarray:
    """A frame of another sequence than `exclude`: the background of a negative pair (its
    object is not the template's)."""
    choices = [i for i in range(len(sequences)) if i != exclude] or [exclude]
    seq = sequences[choices[int(rng.integers(len(choices)))]]
    return seq.frame(int(rng.integers(len(seq))))
