"""Train the reduced-width SiamMask demo model on real + synthetic sequences (spec §5 losses).

Writes DIR/checkpoint.safetensors (FP32, loadable by every --checkpoint option),
DIR/checkpoint.state.pt (optimizer state for --resume), DIR/losses.csv, and with --eval
DIR/eval.json (J and F on held-out synthetic sequences). --export-fp16 PATH writes the FP16
safetensors that ships as trackers/siammask/demo.safetensors. The defaults are the
demo recipe (trackers/siammask/MODEL_CARD.md): EfficientNet-Lite0 from ImageNet with its stem
and first 5 blocks frozen, heads at width 0.5, 60 % real / 15 % negative / 25 % synthetic pairs.
`--tracker oceanplus` trains OceanPlus (MSS) with the same recipe and options
(`trackers.oceanplus.training.train`; trackers/oceanplus/MODEL_CARD.md); --eval N scores held-out
synthetic sequences for SiamMask and OceanPlus (`masktrt eval --tracker` for the real ones).
`--tracker rts` trains RTS's classifier and the decoder's last level on the seeded network with
the ImageNet EfficientNet-Lite0 trunk, by episodes (`trackers.rts.training.train`;
trackers/rts/MODEL_CARD.md): --steps, --batch (episodes per step), --lr, --final-lr, --seed,
--save-every, --resume, --max-minutes, --threads and --export-fp16 apply (one loop,
`training.trainer`, runs every tracker, so the run folder and resuming are the same).
"""
from __future__ import annotations

import argparse

from masktrt import registry
from masktrt.arg_types import COUNT, FRACTION, NON_NEGATIVE, NON_NEGATIVE_REAL, POSITIVE
from masktrt.registry import DEFAULT_TRACKER

HELP = "train the small demo SiamMask (or OceanPlus, or RTS's heads) on real (+ synthetic) data"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, metavar="DIR", help="run folder (created)")
    parser.add_argument("--tracker", default=DEFAULT_TRACKER, choices=registry.names(),
                        help="network to train (its recipe: trackers/<name>/training/train.py)")
    parser.add_argument("--variant", default="mss", choices=("mss",),
                        help="OceanPlus mask decoder (only the single-stage MSS is trained)")
    parser.add_argument("--steps", type=COUNT, default=1200, help="total optimizer steps")
    parser.add_argument("--backbone", default="efficientnet_lite0",
                        choices=("resnet50", "efficientnet_lite0"),
                        help="trunk (efficientnet_lite0 starts from ImageNet weights)")
    parser.add_argument("--width", type=POSITIVE, default=0.5, help="channel width multiplier (heads)")
    parser.add_argument("--freeze-blocks", type=NON_NEGATIVE, default=5, metavar="K",
                        help="freeze the stem and the first K backbone blocks (Lite0) / layers")
    parser.add_argument("--backbone-lr", type=NON_NEGATIVE_REAL, default=0.1, metavar="SCALE",
                        help="learning-rate scale of the trainable backbone")
    parser.add_argument("--real", type=FRACTION, default=0.6, metavar="P",
                        help="share of pairs from ../shared/data/train (never the evaluation set)")
    parser.add_argument("--negative", type=FRACTION, default=0.15, metavar="P",
                        help="share of negative pairs (template and search of different objects)")
    parser.add_argument("--batch", type=COUNT, default=8, help="pairs per step")
    parser.add_argument("--lr", type=POSITIVE, default=1e-3, help="initial learning rate (Adam)")
    parser.add_argument("--final-lr", type=POSITIVE, default=1e-4, help="learning rate at the end")
    parser.add_argument("--seed", type=NON_NEGATIVE, default=0, help="seed of data and initialisation")
    parser.add_argument("--save-every", type=COUNT, default=100, metavar="K",
                        help="write a resumable checkpoint every K steps")
    parser.add_argument("--resume", metavar="PATH", help="run folder or checkpoint to continue")
    parser.add_argument("--max-minutes", type=POSITIVE, metavar="M",
                        help="stop (after saving) once the run has trained M minutes in all "
                             "(a resumed run counts the minutes before it too)")
    parser.add_argument("--threads", type=COUNT, default=2, help="torch CPU threads")
    parser.add_argument("--eval", type=NON_NEGATIVE, default=0, metavar="N",
                        help="afterwards track N held-out synthetic sequences and report J/F")
    parser.add_argument("--export-fp16", metavar="PATH", help="afterwards save FP16 weights here")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from masktrt import registry

    return registry.get(args.tracker).load_train()(args)
