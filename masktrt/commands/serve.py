"""Serve tracking over Triton Inference Server (PyTriton), on loopback only.

Requests carry a stream id, a frame number, the frame (encoded image bytes) and, to start a
stream, the target's box (and optionally its mask); a close request ends a stream. The server
keeps each stream's tracker state; Triton's dynamic batcher gathers requests of different
streams into one batch. A bad frame is answered with an error for that request only.
PyTriton needs a Python with a shared libpython: run this from the venv of 'make serve-venv'
(docs/serving.md). `masktrt loadtest` drives a running server.
"""
from __future__ import annotations

import argparse

from masktrt.arg_types import COUNT, NON_NEGATIVE, NON_NEGATIVE_REAL, PORT, POSITIVE
from masktrt.commands import args as common
from masktrt.errors import MasktrtError

HELP = "serve tracking over Triton Inference Server (loopback; per-stream state in the server)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    group = parser.add_argument_group("server")
    group.add_argument("--port", type=PORT, default=8000, help="HTTP port on 127.0.0.1")
    group.add_argument("--grpc-port", type=PORT, default=None, help="gRPC port (default: --port + 1)")
    group.add_argument("--metrics-port", type=PORT, default=None,
                       help="Prometheus metrics port (default: --port + 2)")
    group.add_argument("--max-batch", type=COUNT, default=16,
                       help="most requests the dynamic batcher gathers into one batch")
    group.add_argument("--delay-us", type=NON_NEGATIVE, default=2000,
                       help="longest wait (microseconds) of the batcher for more requests")
    group.add_argument("--max-streams", type=COUNT, default=64, help="most streams open at once")
    group.add_argument("--max-pixels", type=COUNT, default=None,
                       help="most pixels a frame or mask may have, read from its header before "
                            "decoding (default 36,000,000: 8K UHD fits)")
    group.add_argument("--idle-s", type=POSITIVE, default=600.0,
                       help="a stream silent this long (seconds) is closed by the server")
    group.add_argument("--lifetime", type=NON_NEGATIVE_REAL, default=0.0, metavar="S",
                       help="stop by itself after S seconds (0: run until Ctrl-C or SIGTERM)")


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """--onnx DIR | --engines DIR, --provider, --preset: the model served (and checked against)."""
    group = parser.add_argument_group("model").add_mutually_exclusive_group(required=True)
    common.add_onnx_argument(group, "exported graphs, run with ONNX Runtime")
    common.add_engines_argument(group, "built engines, run with TensorRT")
    common.add_provider_argument(parser)
    parser.add_argument("--preset", default=None,
                        help="tracker hyper-parameters (default: the one the graphs record)")


def open_model(args: argparse.Namespace):
    """masktrt.open_tracker over --onnx or --engines (the folder's contract names the tracker)."""
    from masktrt.api import open_tracker

    if args.onnx:
        return open_tracker(args.onnx, "onnxruntime", preset=args.preset, provider=args.provider)
    return open_tracker(args.engines, "tensorrt", preset=args.preset)


def check_options(args: argparse.Namespace) -> None:
    for name in ("port", "max_batch", "max_streams"):
        if getattr(args, name) < 1:
            raise MasktrtError(f"--{name.replace('_', '-')} {getattr(args, name)} is not positive",
                               "give a number >= 1")
    if args.delay_us < 0 or args.idle_s <= 0 or args.lifetime < 0:
        raise MasktrtError("--delay-us, --idle-s or --lifetime is negative",
                           "give --delay-us >= 0, --idle-s > 0, --lifetime >= 0")


def run(args: argparse.Namespace) -> int:
    from masktrt.runtime.serve.protocol import MAX_PIXELS
    from masktrt.runtime.serve.service import TrackingService
    from masktrt.runtime.serve.streams import StreamTable
    from masktrt.runtime.serve.triton_server import ServerOptions, import_pytriton, serve

    check_options(args)
    import_pytriton()  # fail in one line before any model loads
    options = ServerOptions(args.port, args.grpc_port, args.metrics_port, args.max_batch,
                            args.delay_us, args.lifetime)
    with open_model(args) as tracker:
        table = StreamTable(args.max_streams, args.idle_s)
        service = TrackingService(tracker.core, table, args.max_pixels or MAX_PIXELS)
        serve(service, options, ready=lambda line: print(line, flush=True))
        stats = service.stats
    print(f"served {stats.rows} requests in {stats.batches} batches ({stats.errors} errors); "
          f"batch sizes {dict(sorted(stats.sizes.items()))}; {stats.batched_calls} batched track "
          f"calls, {stats.fallbacks} fell back to rows one by one; largest stream state "
          f"{table.largest_state / 1e6:.2f} MB (x --max-streams {args.max_streams} at most)")
    return 0
