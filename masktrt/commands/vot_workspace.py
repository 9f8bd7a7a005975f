"""Write a VOT toolkit workspace that evaluates a masktrt tracker offline on local sequences.

--out WS gets config.yaml (the --stack, default davis2017val: one unsupervised run per sequence
scored with J, F and J&F; the toolkit ships it), trackers.ini (one tracker whose command is
`<this python> -m masktrt.cli vot` with the tracker, weights, backend and --region options
given here, paths made absolute) and sequences/ in the toolkit's layout (frames symlinked, or
copied with --copy; DAVIS masks as VOT mask regions, VOT polygons, OTB rectangles). Then:

    vot evaluate --workspace WS masktrt_siammask
    vot analysis --workspace WS masktrt_siammask     # WS/analysis/<date>.json

With sequences/list.txt present the toolkit downloads nothing (see runtime/vot_workspace.py).
"""
from __future__ import annotations

import argparse
import re
import shlex
import sys
from pathlib import Path
from typing import Any

from masktrt.commands import args as common
from masktrt.commands.vot import add_region_argument
from masktrt.errors import MasktrtError

HELP = "write a VOT toolkit workspace (config.yaml, trackers.ini, sequences) for a tracker"
DEFAULT_STACK = "davis2017val"
IDENTIFIER = re.compile(r"^[a-zA-Z0-9_-]+$")  # the toolkit's VALID_IDENTIFIER


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sequences", nargs="+", required=True, metavar="DIR",
                        help="sequence folders (frames/ plus groundtruth.txt and/or masks/)")
    common.add_tracker_arguments(parser)
    common.add_weights_arguments(parser)
    common.add_backend_arguments(parser)
    add_region_argument(parser)
    common.add_max_frames_argument(parser, "keep only the first N frames of each sequence")
    add_workspace_arguments(parser)


def add_workspace_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("workspace")
    group.add_argument("--out", required=True, type=Path, metavar="WS", help="workspace folder")
    group.add_argument("--stack", default=DEFAULT_STACK,
                       help="a stack the toolkit ships (unsupervised ones run offline: "
                            "davis2017val, otb100, otb50) or a stack file's path")
    group.add_argument("--name", default=None,
                       help="tracker identifier in trackers.ini (default masktrt_<tracker>)")
    group.add_argument("--copy", action="store_true", help="copy the frames instead of symlinking")
    group.add_argument("--overwrite", action="store_true",
                       help="replace a workspace in --out: its config, trackers, sequences and "
                            "the toolkit's results, analysis, reports, cache and logs")


def run(args: argparse.Namespace) -> int:
    from masktrt.runtime.vot_workspace import TrackerEntry, write_workspace

    common.check_max_frames(args.max_frames)
    common.backend_options(args)  # a missing --onnx or stray --checkpoint fails here, not in vot
    identifier = tracker_identifier(args)
    entry = TrackerEntry(identifier, f"masktrt {args.tracker} ({args.backend})",
                         shlex.join(server_command(args)))
    names = write_workspace(args.out, load_sequences(args), entry, args.stack, args.copy,
                            args.overwrite)
    print_next_steps(args.out, identifier, names)
    return 0


def tracker_identifier(args: argparse.Namespace) -> str:
    name = args.name or f"masktrt_{args.tracker}"
    if not IDENTIFIER.match(name):
        raise MasktrtError(f"--name '{name}' is not a toolkit tracker identifier",
                           "use letters, digits, '_' and '-' only")
    return name


def load_sequences(args: argparse.Namespace) -> list[Any]:
    """The --sequences folders, each cut to --max-frames when it is longer."""
    from masktrt.runtime.sequences import load_sequence

    sequences = [load_sequence(path) for path in args.sequences]
    limit = args.max_frames
    return [s.head(limit) if limit is not None and len(s) > limit else s for s in sequences]


def server_command(args: argparse.Namespace) -> list[str]:
    """`masktrt vot` with this command's options, runnable from any folder (the toolkit starts
    trackers in a temporary one): the absolute interpreter and absolute paths."""
    words = [sys.executable, "-m", "masktrt.cli", "vot", "--tracker", args.tracker]
    words += _option("--preset", args.preset)
    words += _option("--checkpoint", _absolute(args.checkpoint))
    words += ["--random-weights"] if args.random_weights else []
    words += ["--seed", str(args.seed)] + _option("--variant", args.variant)
    words += ["--backend", args.backend, "--provider", args.provider]
    words += _option("--onnx", _absolute(args.onnx)) + _option("--engines", _absolute(args.engines))
    return words + ["--region", args.region]


def _option(flag: str, value: Any) -> list[str]:
    return [] if value is None else [flag, str(value)]


def _absolute(path: str | None) -> str | None:
    return None if path is None else str(Path(path).resolve())


def print_next_steps(out: Path, identifier: str, names: list[str]) -> None:
    ws = shlex.quote(str(out))
    print(f"wrote VOT workspace {out}: {len(names)} sequence(s) ({', '.join(names)}), "
          f"tracker {identifier}")
    print(f"next: vot evaluate --workspace {ws} {identifier} && "
          f"vot analysis --workspace {ws} {identifier}")
