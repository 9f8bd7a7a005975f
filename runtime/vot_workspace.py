"""A VOT toolkit (0.9) workspace over local sequences, so `vot evaluate` and `vot analysis` run
offline on a masktrt tracker.

    <ws>/config.yaml            stack (a stack the toolkit ships), registry ./trackers.ini
    <ws>/trackers.ini           [<id>] protocol trax, command <python> -m masktrt.cli vot ...
    <ws>/sequences/list.txt     one sequence name a line
    <ws>/sequences/<name>/sequence        key=value: channels.color=color/%08d<ext>, size, length
    <ws>/sequences/<name>/color/00000001<ext> ...   the frames (symlinks, or copies)
    <ws>/sequences/<name>/groundtruth.txt one region a line (runtime/vot_regions.py)

The toolkit downloads a stack's dataset only when `sequences/list.txt` is missing
(vot/workspace: `Workspace.download_dataset`), so with the list written nothing is fetched.
Ground truth keeps each benchmark's own region type: DAVIS masks become VOT mask regions
(`m...`, which the toolkit 0.9 reads and scores), VOT corners polygons, OTB boxes rectangles
(made 0-based by runtime/sequences.py, as every region here is). NumPy and OpenCV only.
"""
from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from masktrt.errors import MasktrtError
from masktrt.runtime.frames import read_frame
from masktrt.runtime.sequences import Sequence
from masktrt.runtime.vot_regions import mask_bounds, mask_text, polygon_text, rectangle_text

CONFIG = "config.yaml"
TRACKERS = "trackers.ini"
SEQUENCES = "sequences"
# what a workspace holds: masktrt's files and the toolkit's folders (results, reports, caches)
OWN = (CONFIG, TRACKERS, SEQUENCES, "results", "analysis", "reports", "cache", "logs")


@dataclass(frozen=True)
class TrackerEntry:
    """One trackers.ini section: the toolkit starts `command` once per sequence run and waits
    up to `timeout` seconds for each reply (loading a model is the slowest)."""

    identifier: str
    label: str
    command: str
    timeout: int = 300


def write_workspace(out: Path, sequences: Iterable[Sequence], tracker: TrackerEntry, stack: str,
                    copy: bool = False, overwrite: bool = False) -> list[str]:
    """Write the workspace; returns the sequence names in list order."""
    sequences = list(sequences)
    _check_names([s.name for s in sequences])
    prepare_folder(out, overwrite)
    names = [write_sequence(out / SEQUENCES, s, copy) for s in sequences]
    (out / SEQUENCES / "list.txt").write_text(_lines(names))
    (out / CONFIG).write_text(config_text(stack))
    (out / TRACKERS).write_text(trackers_text(tracker))
    return names


def _check_names(names: list[str]) -> None:
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise MasktrtError(f"two sequences are called '{twice[0]}'",
                           "the toolkit names sequences by folder: pass differently named folders")


def prepare_folder(out: Path, overwrite: bool) -> None:
    """A new or empty folder; with `overwrite`, a former workspace's files are removed first
    (only those in OWN: old results would otherwise be taken for the new tracker's)."""
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise MasktrtError(f"'{out}' is not empty",
                               "choose a new --out folder, or pass --overwrite to replace a "
                               f"workspace written there ({', '.join(OWN)})")
        for name in OWN:
            _remove(out / name)
    out.mkdir(parents=True, exist_ok=True)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def write_sequence(root: Path, sequence: Sequence, copy: bool = False) -> str:
    """One sequence in the toolkit's layout: frames, groundtruth.txt, the `sequence` file."""
    folder = root / sequence.name
    (folder / "color").mkdir(parents=True)
    suffix = sequence.frame_paths[0].suffix.lower()
    for number, path in enumerate(sequence.frame_paths, start=1):
        place(path, folder / "color" / f"{number:08d}{suffix}", copy)
    (folder / "groundtruth.txt").write_text(_lines(groundtruth_lines(sequence)))
    (folder / "sequence").write_text(sequence_properties(sequence, suffix))
    return sequence.name


def place(source: Path, target: Path, copy: bool) -> None:
    """A frame in the workspace: an absolute symlink, or a copy (asked for, or where the file
    system has no symlinks)."""
    if not copy:
        try:
            os.symlink(Path(source).resolve(), target)
            return
        except OSError:
            pass
    shutil.copyfile(source, target)


def groundtruth_lines(sequence: Sequence) -> list[str]:
    """One VOT region per frame: masks (DAVIS), polygons (VOT) or rectangles (OTB)."""
    if sequence.mask_paths is not None:
        return _mask_lines(sequence)
    if sequence.polygons is not None:
        return [polygon_text(p) for p in sequence.polygons]
    if sequence.boxes is not None:
        return [rectangle_text(b) for b in sequence.boxes]
    raise MasktrtError(f"sequence '{sequence.name}' has no ground truth",
                       "the toolkit initialises from frame 0's region: pass a folder with "
                       "groundtruth.txt or masks/")


def _mask_lines(sequence: Sequence) -> list[str]:
    masks = [sequence.mask(i) for i in range(len(sequence))]
    if mask_bounds(masks[0]) is None:
        raise MasktrtError(f"the first mask of '{sequence.name}' is empty",
                           "the toolkit initialises from frame 0's mask: the target must be in it")
    return [mask_text(m) for m in masks]


def sequence_properties(sequence: Sequence, suffix: str) -> str:
    """The `sequence` file (vot/dataset/common.py `_read_metadata`): channel pattern and size."""
    height, width = read_frame(sequence.frame_paths[0]).shape[:2]
    fields = {"name": sequence.name, "format": "default", "fps": 30,
              "channels.color": f"color/%08d{suffix}", "length": len(sequence),
              "width": width, "height": height}
    return _lines(f"{k}={v}" for k, v in fields.items())


def config_text(stack: str) -> str:
    """config.yaml: the stack, the registry and the sequences folder (relative to it)."""
    return (f"# VOT toolkit workspace written by 'masktrt vot-workspace'\n"
            f"stack: {stack}\nregistry:\n- ./{TRACKERS}\nsequences: {SEQUENCES}\n")


def trackers_text(tracker: TrackerEntry) -> str:
    """trackers.ini; '%' doubled because the toolkit reads it with configparser."""
    command = tracker.command.replace("%", "%%")
    return _lines([f"[{tracker.identifier}]", f"label = {tracker.label}", "protocol = trax",
                   f"command = {command}", f"timeout = {tracker.timeout}"])


def _lines(items: Iterable[str]) -> str:
    return "".join(f"{item}\n" for item in items)
