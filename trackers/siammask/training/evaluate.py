"""Honest evaluation of a trained checkpoint: track whole sequences, score J and F.

Held-out synthetic sequences use scene seeds >= scenes.HELD_OUT_FROM, which training never
draws, rendered at the generator's defaults (480x640, one look-alike, one occluder). The real
held-out table (the four evaluation sequences in ../shared/data, never trained on) is
`training.held_out`; `--real` adds it. The first frame (given box) is not scored.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from masktrt.arg_types import COUNT, NON_NEGATIVE
from masktrt.benchmarks.metrics import boundary_f, region_similarity
from masktrt.trackers.siammask.export import SiamMask
from masktrt.runtime import loop
from masktrt.runtime.trackers import make_tracker
from masktrt.trackers.siammask.spec import NAME as SIAMMASK
from masktrt.training.scenes import HELD_OUT_FROM

EVAL_FRAMES = 40
EVAL_SIZE = (480, 640)


def _model(model: SiamMask | str | Path) -> SiamMask:
    if isinstance(model, SiamMask):
        return model.eval()
    from masktrt.trackers.siammask.export.checkpoint import load_checkpoint

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


def main(argv: list[str] | None = None) -> int:
    """`python -m masktrt.trackers.siammask.training.evaluate CKPT [--count N] [--real] [--markdown]
    [--random-baseline] [--out JSON]`: held-out synthetic J/F, and with --real the model
    card's held-out real table (J/F, box IoU/AUC, score separation, lost threshold)."""
    import argparse

    import torch

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--count", type=NON_NEGATIVE, default=10, help="held-out synthetic sequences (0: none)")
    parser.add_argument("--real", action="store_true",
                        help="the four held-out real sequences (../shared/data) and the score separation")
    parser.add_argument("--markdown", action="store_true", help="print the real table as markdown")
    parser.add_argument("--random-baseline", action="store_true",
                        help="also seeded random weights of the same width")
    parser.add_argument("--threads", type=COUNT, default=2, help="torch CPU threads")
    parser.add_argument("--out", type=Path, help="write the report as JSON here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    report = evaluation_report(_model(args.checkpoint), args)
    report["checkpoint"] = str(args.checkpoint)
    if args.out:
        from masktrt.files import write_json

        write_json(args.out, report)
    if args.markdown and "real" in report:
        from masktrt.training.held_out import markdown

        print(markdown(report["real"]))
    else:
        print(json.dumps(report, indent=2))
    return 0


def evaluation_report(net: SiamMask, args) -> dict:
    """The parts of the report the options ask for."""
    report = {"backbone": net.spec.backbone, "width": net.spec.width}
    if args.count:
        report["synthetic"] = evaluate_synthetic(net, args.count)
    if args.real:
        from masktrt.training.held_out import evaluate_held_out

        report["real"] = evaluate_held_out(net)
    if args.random_baseline and args.count:
        from masktrt.trackers.siammask.export.random_weights import random_model

        report["random_synthetic"] = evaluate_synthetic(random_model(seed=0, width=net.spec.width),
                                                        args.count)
    return report


if __name__ == "__main__":
    raise SystemExit(main())
