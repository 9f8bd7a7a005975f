"""The OceanPlus model card's held-out table: the four real evaluation sequences, tracked whole
with the PyTorch reference and the OceanPlus runtime tracker.

Same figures and scoring as SiamMask's card (`training.held_out`: J/F where the sequence has
masks, box IoU / OTB AUC and the score's ROC AUC on all four, frame 0 not scored). What differs
is the start: OceanPlus takes the first-frame mask (the official DAVIS protocol, the ARN's LUT
is built from it) where the sequence has masks, and the box alone (cyclic initialisation)
where it has none. One preset for every sequence, nothing tuned per sequence.

    python -m masktrt.trackers.oceanplus.training.evaluate CKPT [--preset davis2016] [--seg-thr T]
        [--markdown] [--out JSON]
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from masktrt.arg_types import COUNT, FRACTION
from masktrt.trackers.oceanplus.spec import NAME
from masktrt.training import held_out
from masktrt.training.held_out import Frames, markdown
from masktrt.training.real import EVALUATION_SEQUENCES

PRESET = "davis2016"  # the mask-centric preset; --preset vot2020 for the VOT one


def preset_config(name: str, seg_thr: float | None = None):
    """The named preset, its mask threshold optionally overridden (a diagnostic: an
    under-trained mask head is under-confident, so the released 0.84/0.9 cut most of it)."""
    from masktrt.trackers.oceanplus.spec import SPEC

    return SPEC.preset(name) if seg_thr is None else SPEC.preset(name, seg_thr=seg_thr)


def track(model, seq, preset) -> Frames:
    """Track `seq` from its first-frame mask (else its box); its per-frame figures."""
    return held_out.track(model, seq, NAME, preset, use_mask=True)


def evaluate_held_out(model, preset=PRESET,
                      names: Iterable[str] = EVALUATION_SEQUENCES) -> dict:
    """SiamMask's held-out table (`training.held_out`), tracked by OceanPlus from the first mask
    where the sequence has one."""
    return held_out.evaluate_held_out(model, names, NAME, preset, use_mask=True)


def main(argv: list[str] | None = None) -> int:
    """Evaluate a checkpoint on the held-out real sequences; print JSON or the markdown table."""
    import argparse

    import torch

    from masktrt.trackers.oceanplus.export.checkpoint import load_checkpoint

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--preset", default=PRESET, help="tracker preset for every sequence")
    parser.add_argument("--seg-thr", type=FRACTION, help="override the preset's mask threshold")
    parser.add_argument("--markdown", action="store_true", help="print the table as markdown")
    parser.add_argument("--threads", type=COUNT, default=2, help="torch CPU threads")
    parser.add_argument("--out", type=Path, help="write the report as JSON here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    model = load_checkpoint(args.checkpoint)
    report = {"checkpoint": str(args.checkpoint), "backbone": model.channels.backbone,
              "width": model.channels.width, "variant": model.variant,
              **evaluate_held_out(model, preset_config(args.preset, args.seg_thr))}
    if args.out:
        from masktrt.files import write_json

        write_json(args.out, report)
    print(markdown(report) if args.markdown else json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
