"""Honest evaluation of a trained checkpoint: track whole sequences, score J and F.

Held-out synthetic sequences use scene seeds >= pairs.HELD_OUT_FROM, which training never
draws, rendered at the generator's defaults (480x640, one look-alike, one occluder). Real
sequences (../shared/data) are reported too, with the caveat that the model never saw a real
image; they must never be used to choose anything. The first frame (given box) is not scored.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from masktrt.benchmarks.metrics import boundary_f, region_similarity
from masktrt.export.models import SiamMask
from masktrt.runtime import loop
from masktrt.runtime.trackers import make_tracker
from masktrt.specs.siammask import NAME as SIAMMASK
from masktrt.training.pairs import HELD_OUT_FROM

EVAL_FRAMES = 40
EVAL_SIZE = (480, 640)
REAL_SEQUENCES = ("davis-blackswan", "davis-dog")


def _model(model: SiamMask | str | Path) -> SiamMask:
    if isinstance(model, SiamMask):
        return model.eval()
    from masktrt.export.checkpoints import load_checkpoint

    return load_checkpoint(model)


def track_scores(model: SiamMask, frames: Iterable[np.ndarray], masks: Iterable[np.ndarray],
                 box_xywh: tuple[float, float, float, float],
                 preset_name: str = "davis") -> tuple[float, float]:
    """Mean J and F over frames 1.. of one sequence, tracked from the first-frame box."""
    from masktrt.export.torch_backend import TorchRunner

    truth: list[np.ndarray] = []  # the ground truth of the frame being tracked
    j, f = [], []

    def with_truth() -> Iterator[np.ndarray]:
        for frame, gt in zip(frames, masks):
            truth[:] = [gt]
            yield frame

    def score(step: loop.Step, _: loop.LoopSummary) -> None:
        if step.number > 0:
            j.append(region_similarity(step.result.mask, truth[0]))
            f.append(boundary_f(step.result.mask, truth[0]))

    with TorchRunner(model, tracker=SIAMMASK) as runner:
        loop.run(make_tracker(SIAMMASK, runner, preset_name), with_truth(), box_xywh, on_step=score)
    return float(np.mean(j)), float(np.mean(f))


def held_out_seeds(count: int, first: int = HELD_OUT_FROM) -> list[int]:
    if first < HELD_OUT_FROM:
        raise ValueError(f"evaluation seeds must be >= {HELD_OUT_FROM} (training uses below)")
    return list(range(first, first + count))


def evaluate_synthetic(model: SiamMask | str | Path, count: int = 10,
                       first_seed: int = HELD_OUT_FROM, frames: int = EVAL_FRAMES) -> dict:
    """J/F per held-out synthetic sequence and their means."""
    from masktrt.training.synthetic import generate_sequence

    net = _model(model)
    rows = []
    for seed in held_out_seeds(count, first_seed):
        seq = generate_sequence(seed, frames, EVAL_SIZE)
        j, f = track_scores(net, seq.frames, seq.masks, tuple(float(v) for v in seq.boxes[0]))
        rows.append({"seed": seed, "J": j, "F": f})
    return {"count": len(rows), "frames": frames, "size": list(EVAL_SIZE), "sequences": rows,
            "mean_j": float(np.mean([r["J"] for r in rows])),
            "mean_f": float(np.mean([r["F"] for r in rows]))}


def _masks(seq) -> Iterator[np.ndarray]:
    for i in range(len(seq)):
        yield seq.mask(i)


def evaluate_real(model: SiamMask | str | Path, names: Iterable[str] = REAL_SEQUENCES,
                  max_frames: int | None = None) -> dict:
    """J/F on the shared DAVIS sequences that exist here (skipped silently when absent)."""
    from masktrt.paths import shared_sequence
    from masktrt.runtime.sequences import load_sequence

    net = _model(model)
    rows = []
    for name in names:
        path = shared_sequence(name)
        if path is None:
            continue
        seq = load_sequence(path)
        if max_frames is not None:
            seq = seq.head(max_frames)
        box = tuple(float(v) for v in seq.init_box())
        j, f = track_scores(net, iter(seq), _masks(seq), box)
        rows.append({"sequence": name, "frames": len(seq), "J": j, "F": f})
    return {"sequences": rows}


def main(argv: list[str] | None = None) -> int:
    """`python -m masktrt.training.evaluate CKPT [--count N] [--real] [--random-baseline]`."""
    import argparse
    import json

    import torch

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--real", action="store_true", help="also the shared DAVIS sequences")
    parser.add_argument("--random-baseline", action="store_true",
                        help="also seeded random weights of the same width")
    parser.add_argument("--out", type=Path, help="write the report as JSON here")
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    net = _model(args.checkpoint)
    report = {"checkpoint": str(args.checkpoint), "width": net.spec.width,
              "synthetic": evaluate_synthetic(net, args.count)}
    if args.real:
        report["real"] = evaluate_real(net)
    if args.random_baseline:
        from masktrt.export.random_weights import random_model

        rand = random_model(seed=0, width=net.spec.width)
        report["random_synthetic"] = evaluate_synthetic(rand, args.count)
    text = json.dumps(report, indent=2)
    if args.out:
        args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
