"""The RTS model card's held-out table: the four real evaluation sequences tracked whole with the
PyTorch reference and the RTS runtime tracker, at the export sizes the weights were trained for.

Same scoring as the other cards (`training.held_out`); RTS starts from the first-frame mask where
the sequence has one and through STA from the box elsewhere, and each row also counts the
classifier's flag per frame (normal: found, or not_found; the release's distractor and
hard-negative flags never fire in RTS), which is what
says whether a closed loop with these weights exercises the tracker's update paths.

    python -m masktrt.trackers.rts.training.evaluate CKPT [--sizes 384x672/32/50]
        [--markdown] [--out JSON]
"""
from __future__ import annotations

import json
from pathlib import Path

from masktrt.arg_types import COUNT
from masktrt.trackers.rts.spec import DEFAULT_PRESET, NAME, SIZES
from masktrt.training import held_out
from masktrt.training.real import EVALUATION_SEQUENCES

TRAINED_SIZES = "384x672/32/50"  # the demo weights' crop (trackers.rts.training.train), the release's memories


def evaluate_held_out(model, sizes: str = TRAINED_SIZES, names=EVALUATION_SEQUENCES) -> dict:
    return held_out.evaluate_held_out(model, names, NAME, DEFAULT_PRESET, use_mask=True,
                                      options={SIZES: sizes})


def flags_table(report: dict) -> str:
    """One line per sequence: how often each classifier branch ran."""
    return "\n".join(f"{r['sequence']}: " + ", ".join(f"{k} {v}" for k, v in r.get("flags", {}).items())
                     for r in report["sequences"])


def main(argv: list[str] | None = None) -> int:
    """Evaluate an RTS checkpoint on the held-out real sequences; print JSON or markdown."""
    import argparse

    import torch

    from masktrt.export.model_source import load_tracker_model

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--sizes", default=TRAINED_SIZES, help="export sizes HxW/N/M to track at")
    parser.add_argument("--markdown", action="store_true", help="print the table as markdown")
    parser.add_argument("--threads", type=COUNT, default=2, help="torch CPU threads")
    parser.add_argument("--out", type=Path, help="also write the JSON report here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    model, _ = load_tracker_model(NAME, args.checkpoint, 0, 1.0)
    report = evaluate_held_out(model, args.sizes)
    if args.out:
        args.out.write_text(json.dumps(report, indent=2))
    print(held_out.markdown(report) + "\n\n" + flags_table(report) if args.markdown
          else json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
