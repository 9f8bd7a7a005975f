"""The `masktrt` command: one entry point, one module per subcommand.

Each module in `masktrt.commands` defines `HELP` (one line), `add_arguments(parser)` and
`run(args) -> int`, and imports anything heavy (torch, onnxruntime, tensorrt) inside `run` so
that `masktrt --help` stays instant and works on a machine with only the runtime installed.
"""
from __future__ import annotations

import argparse
import importlib
import signal
import sys
import threading

from masktrt import __version__
from masktrt.errors import MasktrtError, MissingDependency
from masktrt.files import is_user_os_error, os_error

# In pipeline order: the order `masktrt --help` lists them.
COMMANDS = [
    "demo", "trackers", "track", "export", "build", "calibrate", "parity", "precision", "deploy",
    "eval", "bench", "train",
    "vot", "vot-workspace", "serve", "loadtest",
]


def _load(name: str):
    module = f"masktrt.commands.{name.replace('-', '_')}"  # vot-workspace -> vot_workspace
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name == module:
            return None  # not shipped in this build
        raise


class Parser(argparse.ArgumentParser):
    """argparse with usage errors on one line, like every other masktrt error (exit code 2)."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"error: {message}. run '{self.prog} --help' for the usage\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
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


# options whose value may start with '-' (a box left of or above the frame: --box -5,10,40,30)
NEGATIVE_VALUE_OPTIONS = ("--box",)


def join_negative_values(argv: list[str]) -> list[str]:
    """'--box -5,...' -> '--box=-5,...': argparse reads a value starting with '-' as an option."""
    out: list[str] = []
    for word in argv:
        if out and out[-1] in NEGATIVE_VALUE_OPTIONS and word[:1] == "-" and word[1:2].isdigit():
            out[-1] = f"{out[-1]}={word}"
        else:
            out.append(word)
    return out


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where the run is so that it ends exactly as Ctrl-C ends it:
    every `with` block closes (outputs cut to whole frames, the MP4 finalised)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _terminate(signum: int, _frame: object) -> None:
    raise Terminated(signum)


def stop_on_signals() -> None:
    """SIGTERM (a service manager, `kill`, a container stop) and SIGHUP (a closed terminal)
    end a run like SIGINT; only the main thread may set handlers (an API caller's thread
    keeps Python's defaults)."""
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, _terminate)


def interrupted(exc: KeyboardInterrupt) -> int:
    """One line and the shell's convention, 128 + the signal's number (130 for Ctrl-C)."""
    signum = getattr(exc, "signum", signal.SIGINT)
    code = 128 + int(signum)
    print(f"interrupted ({signal.Signals(signum).name}, exit code {code})", file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    stop_on_signals()
    parser = build_parser()
    args = parser.parse_args(join_negative_values(sys.argv[1:] if argv is None else list(argv)))
    if not hasattr(args, "_run"):
        parser.print_help()
        return 0
    try:
        return int(args._run(args) or 0)
    except MasktrtError as exc:
        return _fail(exc)
    except ModuleNotFoundError as exc:  # an edge install running a command that needs torch
        if exc.name not in EXPORT_MODULES:
            raise
        return _fail(MissingDependency(exc.name, "export"))
    except OSError as exc:  # disk full, read-only or forbidden folder wherever it happens
        if not is_user_os_error(exc):
            raise
        return _fail(os_error(exc))
    except KeyboardInterrupt as exc:
        return interrupted(exc)


# What the export extra brings: a runtime-only install (docs/edge-install.md) lacks these, and
# export, bench, calibrate and train need them.
EXPORT_MODULES = ("torch", "onnx", "onnxslim", "safetensors", "onnxruntime.quantization")


def _fail(exc: Exception) -> int:
    print(f"error: {exc}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
