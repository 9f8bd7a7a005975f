"""The model card's held-out table: the four real evaluation sequences, tracked whole.

blackswan and dog (DAVIS): J and F of the masks; vot-bag and otb-crossing: box IoU and OTB
success AUC; all four: box IoU per frame with the score, pooled for the confidence separation
(`training.confidence`) that sets the lost threshold. Frame 0 (the given box) is not scored.
These sequences are never trained on (`training.real` refuses them) and nothing is tuned on
them except the lost threshold, which the issue asks to be read off them.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from masktrt.benchmarks.metrics import boundary_f, box_iou, region_similarity, success_auc
from masktrt.registry import DEFAULT_TRACKER
from masktrt.runtime import loop
from masktrt.runtime.session import open_tracker
from masktrt.training.confidence import separation
from masktrt.training.real import EVALUATION_SEQUENCES
from masktrt.training.scenes import HELD_OUT_FROM

PRESET = "davis"  # the default preset, for every sequence (nothing tuned per sequence)
EVAL_FRAMES = 40  # frames of a held-out synthetic sequence
EVAL_SIZE = (480, 640)


@dataclass
class Frames:
    """Per scored frame: box IoU, score, and J/F where the sequence has masks."""

    iou: list[float] = field(default_factory=list)
    score: list[float] = field(default_factory=list)
    j: list[float] = field(default_factory=list)
    f: list[float] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)  # RTS: the classifier's branch per frame


def score_step(seq, step: loop.Step, frames: Frames) -> None:
    """Add one tracked frame's figures (the init frame is skipped)."""
    if step.number == 0:
        return
    i, result = step.index, step.result
    frames.iou.append(float(box_iou(result.box, seq.boxes[i])))
    frames.score.append(float(result.score))
    if "clf_flag" in result.extra:
        frames.flags.append(str(result.extra["clf_flag"]))
    if seq.has_masks:
        gt = seq.mask(i)
        mask = result.mask if result.mask is not None else np.zeros_like(gt)
        frames.j.append(region_similarity(mask, gt))
        frames.f.append(boundary_f(mask, gt))


def track(model, seq, tracker: str = DEFAULT_TRACKER, preset=PRESET, use_mask: bool = False,
          options: dict | None = None) -> Frames:
    """Track `seq` with the PyTorch reference from its initial box (and its first mask when
    `use_mask` and the sequence has one); its per-frame figures. `options`: export options
    the reference runs at (RTS: `sizes`)."""
    frames = Frames()
    box = tuple(float(v) for v in seq.init_box())
    mask = seq.mask(0) if use_mask and seq.has_masks else None
    with open_tracker("torch", tracker=tracker, preset=preset, model=model,
                      options=options) as reference:
        loop.run(reference.core, iter(seq), box, mask=mask,
                 on_step=lambda step, _: score_step(seq, step, frames))
    return frames


def row(name: str, frames: Frames) -> dict:
    """One sequence's line of the table."""
    ious = np.asarray(frames.iou)
    out = {"sequence": name, "frames": len(ious) + 1, "box_iou": float(ious.mean()),
           "box_auc": success_auc(ious), "score_auc": separation(frames.score, ious)["auc"]}
    if frames.j:
        out.update(J=float(np.mean(frames.j)), F=float(np.mean(frames.f)))
    if frames.flags:
        out["flags"] = {flag: frames.flags.count(flag) for flag in sorted(set(frames.flags))}
    return out


def evaluate_held_out(model, names: Iterable[str] = EVALUATION_SEQUENCES, tracker: str = DEFAULT_TRACKER,
                      preset=PRESET, use_mask: bool = False, options: dict | None = None) -> dict:
    """The table rows, the pooled confidence separation and the lost threshold it suggests
    (sequences absent here are skipped and listed). `use_mask`: start from the first mask
    where the sequence has one (OceanPlus's protocol); rows then say which start each had."""
    from masktrt.paths import shared_sequence
    from masktrt.runtime.sequences import load_sequence

    rows, scores, ious, missing = [], [], [], []
    for name in names:
        path = Path(name) if Path(name).is_dir() else shared_sequence(str(name))
        if path is None:
            missing.append(str(name))
            continue
        seq = load_sequence(path)
        name = seq.name
        frames = track(model, seq, tracker, preset, use_mask, options)
        start = {"init": "mask" if seq.has_masks else "box"} if use_mask else {}
        rows.append({**row(name, frames), **start})
        scores += frames.score
        ious += frames.iou
    label = preset if isinstance(preset, str) else preset.to_dict()
    return {"preset": label, "sequences": rows, "missing": missing,
            "confidence": separation(np.asarray(scores), np.asarray(ious)) if ious else None}


def evaluate_tracker(model, tracker: str, names: Iterable[str] = EVALUATION_SEQUENCES,
                     preset: str | None = None, options: dict | None = None) -> dict:
    """The held-out table by the tracker's own protocol (its spec's `held_out`: preset, start,
    export options); `preset` and `options` override it."""
    from masktrt import registry

    spec = registry.spec(tracker)
    protocol = spec.held_out
    chosen = preset or protocol.preset or spec.default_preset
    return evaluate_held_out(model, names, tracker, spec.preset(chosen), protocol.start_from_mask,
                             {**protocol.options, **(options or {})})


def track_synthetic(model, tracker: str, seq, preset, options: dict | None = None
                    ) -> tuple[float, float]:
    """Mean J and F over frames 1.. of one generated sequence, tracked from its first box."""
    truth: list[np.ndarray] = []  # the ground truth of the frame being tracked
    j, f = [], []

    def with_truth() -> Iterator[np.ndarray]:
        for frame, gt in zip(seq.frames, seq.masks):
            truth[:] = [gt]
            yield frame

    def score(step: loop.Step, _: loop.LoopSummary) -> None:
        if step.number > 0:
            j.append(region_similarity(step.result.mask, truth[0]))
            f.append(boundary_f(step.result.mask, truth[0]))

    box = tuple(float(v) for v in seq.boxes[0])
    with open_tracker("torch", tracker=tracker, preset=preset, model=model,
                      options=options) as reference:
        loop.run(reference.core, with_truth(), box, on_step=score)
    return float(np.mean(j)), float(np.mean(f))


def held_out_seeds(count: int, first: int = HELD_OUT_FROM) -> list[int]:
    if first < HELD_OUT_FROM:
        raise ValueError(f"evaluation seeds must be >= {HELD_OUT_FROM} (training uses below)")
    return list(range(first, first + count))


def evaluate_synthetic(model, tracker: str = DEFAULT_TRACKER, count: int = 10,
                       first_seed: int = HELD_OUT_FROM, frames: int | None = None) -> dict:
    """J/F per held-out synthetic sequence (scene seeds training never draws, the generator's
    defaults: 480x640, one look-alike, one occluder) and their means, by the tracker's held-out
    protocol's preset and options."""
    from masktrt import registry
    from masktrt.training.synthetic import generate_sequence

    spec = registry.spec(tracker)
    preset = spec.held_out.preset or spec.default_preset
    frames = EVAL_FRAMES if frames is None else frames
    rows = []
    for seed in held_out_seeds(count, first_seed):
        seq = generate_sequence(seed, frames, EVAL_SIZE)
        j, f = track_synthetic(model.eval(), tracker, seq, preset, dict(spec.held_out.options))
        rows.append({"seed": seed, "J": j, "F": f})
    return {"count": len(rows), "frames": frames, "size": list(EVAL_SIZE), "sequences": rows,
            "mean_j": float(np.mean([r["J"] for r in rows])),
            "mean_f": float(np.mean([r["F"] for r in rows]))}


def report_synthetic(model, tracker: str, out: Path, count: int) -> dict:
    """`masktrt train --eval N`: `evaluate_synthetic` written to OUT/eval.json and summarised."""
    from masktrt.files import write_json

    report = evaluate_synthetic(model, tracker, count=count)
    write_json(Path(out) / "eval.json", report)
    print(f"held-out synthetic: mean J {report['mean_j']:.3f}, mean F {report['mean_f']:.3f} "
          f"over {report['count']} sequences")
    return report


def flags_table(report: dict) -> str:
    """One line per sequence that counted branch flags (RTS's classifier): how often each ran."""
    return "\n".join(f"{r['sequence']}: " + ", ".join(f"{k} {v}" for k, v in r["flags"].items())
                     for r in report["sequences"] if r.get("flags"))


def markdown(report: dict) -> str:
    """The model card's table from `evaluate_held_out`'s report."""
    lines = ["| sequence | frames | J | F | box IoU | box AUC | score AUC |",
             "|---|---|---|---|---|---|---|"]
    fmt = (lambda v: "-" if v is None else f"{v:.3f}")
    for r in report["sequences"]:
        lines.append(f"| {r['sequence']} | {r['frames']} | {fmt(r.get('J'))} | {fmt(r.get('F'))} "
                     f"| {fmt(r['box_iou'])} | {fmt(r['box_auc'])} | {fmt(r['score_auc'])} |")
    c = report["confidence"] or {}
    lines.append(f"\nscore vs box IoU > 0.5, pooled: AUC {fmt(c.get('auc'))} over {c.get('frames')} "
                 f"frames ({c.get('on_target')} on target); lost threshold (Youden) "
                 f"{fmt(c.get('threshold'))}")
    point = c.get("operating_point")
    if point:
        lines.append(f"lost flag at <= {point['max_on_flagged']:.0%} of on-target frames flagged: "
                     f"score < {point['threshold']:.3f} flags {_pct(point['on_flagged'])} of "
                     f"on-target frames and catches {_pct(point['off_caught'])} of off-target ones")
    return "\n".join(lines)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f} %"
