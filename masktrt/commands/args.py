"""Argument groups the commands share, and the few helpers that turn them into objects.

Each flag is defined once (name, default, help), so `track`, `demo`, `export`, `parity`,
`bench` and `calibrate` spell it alike; a command adds only the groups it needs. Nothing heavy
is imported here: `masktrt --help` stays instant on a runtime-only install.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from masktrt.arg_types import COUNT, NON_NEGATIVE, POSITIVE
from masktrt.errors import MasktrtError
from masktrt.registry import DEFAULT_TRACKER

Box = tuple[float, float, float, float]


# ---------------------------------------------------------------- model
def _registered() -> tuple[str, ...]:
    from masktrt import registry

    return registry.names()


def _all_presets() -> list[str]:
    from masktrt import registry

    return sorted({p for name in registry.names() for p in registry.spec(name).presets})


class _Given(argparse.Action):
    """Stores the value and records that the user gave it (`tracker_given`): a --tracker left at
    its default defers to a contract's, one given explicitly must agree with it."""

    def __call__(self, parser: Any, namespace: Any, value: Any, option_string: Any = None) -> None:
        setattr(namespace, self.dest, value)
        setattr(namespace, f"{self.dest}_given", True)


def add_tracker_arguments(parser: argparse.ArgumentParser, preset: bool = True,
                          preset_choices: bool = False) -> None:
    """--tracker (a registered name) and, with `preset`, --preset (default: the tracker's)."""
    group = parser.add_argument_group("tracker")
    group.add_argument("--tracker", default=DEFAULT_TRACKER, choices=_registered(), action=_Given,
                       help="registered tracker ('masktrt trackers' lists them); with --onnx or "
                            "--engines the one they were exported for (a different one is refused)")
    if preset:
        group.add_argument("--preset", default=None,
                           choices=_all_presets() if preset_choices else None,
                           help="tracker hyper-parameters, e.g. davis, vot, vot18 for siammask "
                                "(None: the preset recorded in deploy.json / the engines, else "
                                "the tracker's default, davis for siammask)")


def add_weights_arguments(parser: argparse.ArgumentParser, width: bool = False) -> None:
    """--checkpoint | --random-weights, --seed (and --width for commands that build the model)."""
    group = parser.add_argument_group("weights")
    choice = group.add_mutually_exclusive_group()
    choice.add_argument("--checkpoint", metavar="PATH",
                        help="tracker weights (.pth official/pysot naming, or .safetensors); "
                             "default: the shipped demo checkpoint")
    choice.add_argument("--random-weights", action="store_true",
                        help="seeded random weights (official init, BatchNorm statistics "
                             "re-estimated on real crops) instead of the demo checkpoint")
    group.add_argument("--seed", type=NON_NEGATIVE, default=0, help="seed of the random weights")
    if width:
        group.add_argument("--width", type=POSITIVE, default=1.0,
                           help="channel-width multiplier of the random model (1.0 = official)")
    group.add_argument("--variant", default=None,
                       help="model variant of trackers released in several (oceanplus: mss for "
                            "VOT, mms for DAVIS); default: detected from the checkpoint, else "
                            "the tracker's first ('masktrt trackers' lists them)")


def tracker_of(args: argparse.Namespace) -> str:
    return getattr(args, "tracker", DEFAULT_TRACKER)


def weights_of(args: argparse.Namespace) -> Path | None:
    """The checkpoint path --checkpoint/--random-weights name for --tracker (None: random)."""
    from masktrt.paths import resolve_weights

    return resolve_weights(args.checkpoint, getattr(args, "random_weights", False), tracker_of(args))


def load_model(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """(torch model, source record) of --tracker from the weights arguments (needs torch)."""
    from masktrt.export.model_source import load_tracker_model

    return load_tracker_model(tracker_of(args), weights_of(args), seed=args.seed,
                              width=getattr(args, "width", 1.0), variant=getattr(args, "variant", None))


def preset_of(args: argparse.Namespace) -> Any:
    """The preset object --tracker/--preset name (a bad name is a one-line error)."""
    from masktrt import registry

    return registry.spec(getattr(args, "tracker", DEFAULT_TRACKER)).preset(getattr(args, "preset", None))


def preset_name(args: argparse.Namespace) -> str:
    """--preset, or the tracker's default preset's name."""
    return preset_of(args).name


# ---------------------------------------------------------------- export options
def add_xcorr_argument(parser: Any, refit: bool = False, when: str = "") -> None:
    """--xcorr: the Siamese trackers' `correlation` export option under its short name (the
    same as --option correlation=...; `export_options` merges it). `refit` only where the
    command can export refittable graphs (masktrt export)."""
    from masktrt.specs.base import CORRELATIONS

    choices = [c for c in CORRELATIONS if refit or c != "refit"]
    parser.add_argument("--xcorr", default="dynamic", choices=choices,
                        help="correlation of the Siamese trackers' exported graphs: dynamic-weight "
                             "conv, unrolled Slice/Mul/Add (any TensorRT)"
                             + (", or refit (kernels as refittable conv weights)" if refit else "")
                             + when)


def add_option_argument(parser: Any) -> None:
    """--option KEY=VALUE (repeatable): a tracker's own export option, checked by its export side."""
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="tracker export option, repeatable; e.g. --option sizes=128x224/4/8 "
                             "(rts: crop HxW / seg / clf memory slots traced; default the "
                             "deployment's 480x832/32/50), --option filtering=matmul (rts: "
                             "apply input filters by MatMul + shifts instead of Conv)")


def parse_options(pairs: list[str]) -> dict[str, str]:
    """['k=v', ...] -> {k: v}; anything without '=' is a one-line error."""
    options = {}
    for pair in pairs or []:
        key, sep, value = str(pair).partition("=")
        if not sep or not key.strip():
            raise MasktrtError(f"--option '{pair}' is not KEY=VALUE",
                               "write e.g. --option sizes=128x224/4/8")
        options[key.strip()] = value.strip()
    return options


def export_options(args: argparse.Namespace) -> dict[str, Any]:
    """The tracker's export options: --xcorr where its spec declares `correlation` (Siamese
    trackers), then --option pairs (which win); the export side validates them."""
    from masktrt import registry

    declared = registry.spec(tracker_of(args)).options
    xcorr = getattr(args, "xcorr", None)
    correlation = {"correlation": xcorr} if xcorr is not None and "correlation" in declared else {}
    return {**correlation, **parse_options(getattr(args, "option", None) or [])}


# ---------------------------------------------------------------- backend
def add_backend_arguments(parser: argparse.ArgumentParser) -> None:
    """--backend, --onnx, --engines: which graph runner tracks, and its files."""
    group = parser.add_argument_group("backend")
    group.add_argument("--backend", default="torch",
                       help="network backend: torch, onnxruntime, tensorrt")
    add_onnx_argument(group, "exported graphs for --backend onnxruntime (from 'masktrt export')")
    add_engines_argument(group, "built engines for --backend tensorrt (from 'masktrt build')")
    add_provider_argument(group, "ONNX Runtime provider for --backend onnxruntime: auto (CUDA "
                                 "when onnxruntime-gpu and a GPU are present), cpu, cuda")


def add_onnx_argument(parser: Any, help: str, required: bool = False, type: Any = None) -> None:
    parser.add_argument("--onnx", metavar="DIR", required=required, type=type, help=help)


def add_engines_argument(parser: Any, help: str) -> None:
    parser.add_argument("--engines", metavar="DIR", help=help)


def add_provider_argument(parser: Any, help: str = "ONNX Runtime provider: auto, cpu, cuda") -> None:
    parser.add_argument("--provider", default="auto", help=help)


WEIGHT_FLAGS = (("checkpoint", "--checkpoint"), ("random_weights", "--random-weights"))


def check_weights_unused(args: argparse.Namespace) -> None:
    """Graphs and engines carry their weights: --checkpoint/--random-weights would be ignored."""
    given = [flag for attr, flag in WEIGHT_FLAGS if getattr(args, attr, None)]
    if given and args.backend != "torch":
        verb = "mean" if len(given) > 1 else "means"
        raise MasktrtError(f"{' and '.join(given)} {verb} nothing with --backend {args.backend}: "
                           "the weights are inside the exported graphs",
                           "drop them, or export those weights first: masktrt export "
                           f"{given[0]}{' PATH' if given[0] == '--checkpoint' else ''} --out DIR")


def backend_options(args: argparse.Namespace) -> dict[str, Any]:
    """Keyword arguments for open_runner, per backend: each factory takes only its own."""
    check_weights_unused(args)
    if args.backend == "onnxruntime":
        if not getattr(args, "onnx", None):
            raise MasktrtError("--backend onnxruntime needs the exported graphs",
                               "pass --onnx DIR (made by 'masktrt export --out DIR')")
        check_no_options(args)
        return {"onnx_dir": args.onnx, "provider": getattr(args, "provider", "auto")}
    if args.backend == "tensorrt":
        check_no_options(args)
        if not getattr(args, "engines", None):
            raise MasktrtError("--backend tensorrt needs built engines",
                               "pass --engines DIR (made by 'masktrt build')")
        return {"engine_dir": args.engines}
    return torch_options(weights_of(args), args.seed, tracker_of(args), getattr(args, "variant", None),
                         parse_options(getattr(args, "option", None) or []))


def check_no_options(args: argparse.Namespace) -> None:
    """Graphs and engines carry the options they were exported with (deploy.json)."""
    if getattr(args, "option", None):
        raise MasktrtError(f"--option is for --backend torch; {args.backend} runs graphs "
                           "exported with their options", "pass --option to 'masktrt export'")


def torch_options(checkpoint: Path | None, seed: int, tracker: str,
                  variant: str | None = None, options: dict[str, Any] | None = None
                  ) -> dict[str, Any]:
    """open_runner('torch', ...) keywords; `options`: the export options the reference means."""
    variant_option = {"variant": variant} if variant is not None else {}
    tracker_options = {"options": options} if options else {}
    return {"checkpoint": checkpoint, "seed": seed, "tracker": tracker, **variant_option,
            **tracker_options}


def open_runner_for(args: argparse.Namespace) -> Any:
    """The runner the backend and weights arguments name (runtime.backends.open_runner),
    with a warning first when the torch weights are random."""
    from masktrt.runtime.backends import open_runner

    options = backend_options(args)
    if options.get("checkpoint", "n/a") is None:
        print(f"warning: using seeded random weights (seed {options.get('seed')}): the masks and "
              "boxes are meaningless; pass --checkpoint PATH", file=sys.stderr)
    return open_runner(args.backend, **options)


# ---------------------------------------------------------------- sequence / source
def add_source_arguments(parser: argparse.ArgumentParser) -> None:
    """--frames | --video | --camera, and --box on the first frame."""
    source = parser.add_argument_group("source").add_mutually_exclusive_group(required=True)
    source.add_argument("--frames", metavar="DIR", help="folder of images, sorted by name")
    source.add_argument("--video", metavar="FILE", help="video file")
    source.add_argument("--camera", metavar="INDEX", type=NON_NEGATIVE, help="camera index (cv2.VideoCapture)")
    parser.add_argument("--box", required=True, metavar="X,Y,W,H",
                        help="target on the first frame: top-left corner, width, height (pixels); "
                             "a negative x or y is fine (--box -5,10,40,30 or --box=-5,10,40,30)")
    parser.add_argument("--mask", metavar="PNG", default=None,
                        help="the target's mask on the first frame (nonzero = target, the frame's "
                             "size): trackers that start from a mask use it (oceanplus; without "
                             "it, it starts from the box by cyclic initialisation); siammask "
                             "starts from the box")


def add_sequence_argument(parser: Any, help: str, many: bool = False, required: bool = False,
                          type: Any = None) -> None:
    """--sequence DIR (or several): a folder with frames/ and ground truth."""
    parser.add_argument("--sequence", metavar="DIR", nargs="+" if many else None,
                        required=required, type=type, help=help)


def add_max_frames_argument(parser: Any, help: str) -> None:
    parser.add_argument("--max-frames", type=COUNT, default=None, metavar="N", help=help)


def parse_box(text: str) -> Box:
    """'x,y,w,h' -> four floats; anything else is a one-line error."""
    parts = [p.strip() for p in str(text).split(",")]
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 4:
        raise MasktrtError(f"--box '{text}' is not x,y,w,h",
                           "give four comma-separated numbers, e.g. --box 205,151,17,50")
    return values  # type: ignore[return-value]


def check_max_frames(max_frames: int | None) -> None:
    if max_frames is not None and max_frames < 1:
        raise MasktrtError(f"--max-frames {max_frames} is not positive", "give N >= 1")


# ---------------------------------------------------------------- output
def add_output_arguments(parser: argparse.ArgumentParser, help: str, default: str | None = None,
                         video: bool = False, formats: bool = False) -> None:
    """--out (required unless `default`), for tracking commands --no-video and --overwrite, and
    with `formats` --format (how masks are written: plain, or the DAVIS/YouTube-VOS layout)."""
    group = parser.add_argument_group("output")
    group.add_argument("--out", required=default is None, default=default, metavar="DIR", help=help)
    if video:
        group.add_argument("--no-video", action="store_true", help="do not write track.mp4")
        group.add_argument("--overwrite", action="store_true",
                           help="replace the outputs of an earlier run in --out (masktrt's own "
                                "files only); without it such a folder is refused, so old and new "
                                "per-frame files never mix")
    if formats:
        group.add_argument("--format", default="plain", choices=("plain", "davis", "ytvos"),  # = outputs.FORMATS (numpy-free here)
                           help="masks as masks/<frame>.png 0/255 (plain), or as indexed PNGs "
                                "(object id 1, DAVIS palette) in <out>/<sequence>/ named 00000.png... "
                                "(davis) or like the frames (ytvos), as the official evaluations read")
