"""Train the reduced-width SiamMask demo model on real + synthetic sequences (spec §5 losses).

Writes DIR/checkpoint.safetensors (FP32, loadable by every --checkpoint option),
DIR/checkpoint.state.pt (optimizer state for --resume), DIR/losses.csv, and with --eval
DIR/eval.json (J and F on held-out synthetic sequences). --export-fp16 PATH writes the FP16
safetensors that ships as masktrt/weights/siammask_demo.safetensors. The defaults are the
demo recipe (masktrt/weights/MODEL_CARD.md): EfficientNet-Lite0 from ImageNet with its stem
and first 5 blocks frozen, heads at width 0.5, 60 % real / 15 % negative / 25 % synthetic pairs.
`--tracker oceanplus` trains OceanPlus (MSS) with the same recipe and options
(`training.oceanplus_train`; masktrt/weights/OCEANPLUS_MODEL_CARD.md); --eval is SiamMask's only.
`--tracker rts` trains RTS's classifier and the decoder's last level on the seeded network with
the ImageNet EfficientNet-Lite0 trunk, by episodes (`training.rts_train`; masktrt/weights/RTS_MODEL_CARD.md): --steps, --batch (episodes
per step), --lr, --final-lr, --seed, --save-every, --max-minutes, --threads and --export-fp16 apply.
"""
from __future__ import annotations

import argparse

HELP = "train the small demo SiamMask (or OceanPlus, or RTS's heads) on real (+ synthetic) data"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, metavar="DIR", help="run folder (created)")
    parser.add_argument("--tracker", default="siammask", choices=("siammask", "oceanplus", "rts"),
                        help="network to train (oceanplus: training.oceanplus_train, rts: "
                             "training.rts_train)")
    parser.add_argument("--variant", default="mss", choices=("mss",),
                        help="OceanPlus mask decoder (only the single-stage MSS is trained)")
    parser.add_argument("--steps", type=int, default=1200, help="total optimizer steps")
    parser.add_argument("--backbone", default="efficientnet_lite0",
                        choices=("resnet50", "efficientnet_lite0"),
                        help="trunk (efficientnet_lite0 starts from ImageNet weights)")
    parser.add_argument("--width", type=float, default=0.5, help="channel width multiplier (heads)")
    parser.add_argument("--freeze-blocks", type=int, default=5, metavar="K",
                        help="freeze the stem and the first K backbone blocks (Lite0) / layers")
    parser.add_argument("--backbone-lr", type=float, default=0.1, metavar="SCALE",
                        help="learning-rate scale of the trainable backbone")
    parser.add_argument("--real", type=float, default=0.6, metavar="P",
                        help="share of pairs from ../shared/data/train (never the evaluation set)")
    parser.add_argument("--negative", type=float, default=0.15, metavar="P",
                        help="share of negative pairs (template and search of different objects)")
    parser.add_argument("--batch", type=int, default=8, help="pairs per step")
    parser.add_argument("--lr", type=float, default=1e-3, help="initial learning rate (Adam)")
    parser.add_argument("--final-lr", type=float, default=1e-4, help="learning rate at the end")
    parser.add_argument("--seed", type=int, default=0, help="seed of data and initialisation")
    parser.add_argument("--save-every", type=int, default=100, metavar="K",
                        help="write a resumable checkpoint every K steps")
    parser.add_argument("--resume", metavar="PATH", help="run folder or checkpoint to continue")
    parser.add_argument("--max-minutes", type=float, metavar="M",
                        help="stop (after saving) once M minutes of training have passed")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--eval", type=int, default=0, metavar="N",
                        help="afterwards track N held-out synthetic sequences and report J/F")
    parser.add_argument("--export-fp16", metavar="PATH", help="afterwards save FP16 weights here")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    import torch

    from masktrt.training.train import TrainConfig, train

    if args.tracker == "oceanplus":
        return run_oceanplus(args)
    if args.tracker == "rts":
        return run_rts(args)
    torch.set_num_threads(args.threads)
    config = TrainConfig(steps=args.steps, width=args.width, batch=args.batch, lr=args.lr,
                         final_lr=args.final_lr, seed=args.seed, save_every=args.save_every,
                         backbone=args.backbone, frozen_blocks=args.freeze_blocks,
                         backbone_lr=args.backbone_lr, real=args.real, negative=args.negative)
    max_seconds = None if args.max_minutes is None else 60 * args.max_minutes
    path = train(args.out, config, args.resume, not args.no_progress, max_seconds)
    print(f"checkpoint: {path}")
    if args.export_fp16:
        from masktrt.export.checkpoints import load_checkpoint, save_checkpoint

        print(f"fp16 weights: {save_checkpoint(load_checkpoint(path), args.export_fp16, fp16=True)}")
    if args.eval:
        from masktrt.training.evaluate import evaluate_synthetic

        report = evaluate_synthetic(path, count=args.eval)
        from masktrt.files import write_json

        write_json(Path(args.out) / "eval.json", report)
        print(f"held-out synthetic: mean J {report['mean_j']:.3f}, mean F {report['mean_f']:.3f} "
              f"over {report['count']} sequences")
    return 0


def run_oceanplus(args: argparse.Namespace) -> int:
    """OceanPlus has no synthetic J/F evaluation here (`--eval`); its held-out table is
    `python -m masktrt.training.oceanplus_evaluate`."""
    from masktrt.errors import MasktrtError
    from masktrt.training.oceanplus_train import run_command

    if args.eval:
        raise MasktrtError("--eval is SiamMask's synthetic evaluation",
                           "drop --eval and run python -m masktrt.training.oceanplus_evaluate CKPT")
    return run_command(args)


def run_rts(args: argparse.Namespace) -> int:
    """The RTS episode trainer; its held-out table is `python -m masktrt.training.rts_evaluate`."""
    from pathlib import Path

    import torch

    from masktrt.training.rts_train import RtsTrainConfig, save, train_rts

    torch.set_num_threads(args.threads)
    config = RtsTrainConfig(steps=args.steps, batch=args.batch, lr=args.lr, final_lr=args.final_lr,
                            seed=args.seed, save_every=args.save_every)
    max_seconds = None if args.max_minutes is None else 60 * args.max_minutes
    path = train_rts(args.out, config, not args.no_progress, max_seconds)
    print(f"checkpoint: {path}")
    if args.export_fp16:
        from masktrt.export.models.rts.seeded_partial import load_partial

        model = load_partial(path)
        steps = read_steps(path)
        print(f"fp16 weights: {save(model, Path(args.out), config, steps, True, Path(args.export_fp16))}")
    return 0


def read_steps(path) -> int:
    from masktrt.export.models.rts.seeded_partial import read_metadata

    return int(read_metadata(path).get("steps", 0))
