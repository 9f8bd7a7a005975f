"""The `masktrt` command: one entry point, one module per subcommand.

Each module in `masktrt.commands` defines `HELP` (one line), `add_arguments(parser)` and
`run(args) -> int`, and imports anything heavy (torch, onnxruntime, tensorrt) inside `run` so
that `masktrt --help` stays instant and works on a machine with only the runtime installed.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from masktrt import __version__
from masktrt.errors import MasktrtError

# In pipeline order: the order `masktrt --help` lists them.
COMMANDS = [
    "demo", "trackers", "track", "export", "build", "calibrate", "parity", "eval", "bench", "train",
]


def _load(name: str):
    try:
        return importlib.import_module(f"masktrt.commands.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"masktrt.commands.{name}":
            return None  # not shipped in this build
        raise


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="masktrt",
        description="Deploy pixel-wise trackers (SiamMask and friends): export ONNX subgraphs, build TensorRT engines, track, "
        "check parity with the PyTorch reference and benchmark. "
        "Run 'masktrt demo' for a first look; 'masktrt COMMAND --help' for details.",
    )
    parser.add_argument("--version", action="version", version=f"masktrt {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = _load(name)
        if module is None:
            continue
        p = sub.add_parser(name, help=module.HELP, description=module.__doc__,
                           formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "_run"):
        parser.print_help()
        return 0
    try:
        return int(args._run(args) or 0)
    except MasktrtError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
