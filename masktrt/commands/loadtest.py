"""Load-test a running `masktrt serve`: N streams of real sequences, checked against offline.

For each stream count in --streams, that many streams (threads, one loopback client each) send
the first --frames-per-stream frames of the --sequence folders (round-robin; init on the ground-truth box of
frame 0) at --rate frames/s per stream (all at once, or --stagger MS apart), then close. Reports throughput, p50/p99 latency per
request and the batcher's mean batch, then runs every sequence offline with the same graphs
(sequentially, through masktrt's one sequence loop) and checks that every frame of every stream
came back, in order, identical: dropped and mismatches must be 0 and some frame compared (exit
code 1 otherwise).
Bounded: --frames-per-stream, at most 64 streams, --timeout per run; loopback addresses only.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from masktrt.arg_types import COUNT, NON_NEGATIVE_REAL, POSITIVE
from masktrt.commands import args as common
from masktrt.commands.serve import add_model_arguments, open_model
from masktrt.errors import MasktrtError

HELP = "drive a running 'masktrt serve' with N streams; throughput, latency, identical results"
DEFAULT_SEQUENCES = ("davis-blackswan", "davis-dog", "vot-bag", "otb-crossing")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    parser.add_argument("--url", default="127.0.0.1:8000", help="the server (loopback only)")
    common.add_sequence_argument(parser, "sequence folders or names in ../shared/data "
                                 f"(default: {' '.join(DEFAULT_SEQUENCES)})", many=True)
    parser.add_argument("--streams", default="1,4,16", help="stream counts, one run each")
    parser.add_argument("--frames-per-stream", type=COUNT, default=30, help="frames per stream (incl. the first)")
    parser.add_argument("--rate", type=NON_NEGATIVE_REAL, default=0.0,
                        help="frames/s per stream (0: each stream sends its next frame at once)")
    parser.add_argument("--stagger", type=NON_NEGATIVE_REAL, default=0.0, metavar="MS",
                        help="start stream i i*MS ms after stream 0, wrapped into one frame "
                        "period when paced (e.g. 1000/(rate*streams)); 0: all at once")
    parser.add_argument("--timeout", type=POSITIVE, default=300.0,
                        help="seconds per run; frames not sent by then count as dropped")
    parser.add_argument("--init-mask", action="store_true",
                        help="send the first-frame mask of DAVIS sequences with the init box")
    parser.add_argument("--json", metavar="PATH", default="out/loadtest/loadtest.json",
                        help="where the report is written")


def stream_counts(text: str) -> list[int]:
    try:
        counts = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1 or max(counts) > 64:
        raise MasktrtError(f"--streams '{text}' is not a list of counts from 1 to 64",
                           "give e.g. --streams 1,4,16")
    return counts


def sequences(names: list[str] | None) -> list:
    from masktrt.paths import shared_sequence
    from masktrt.runtime.sequences import load_sequence

    paths = [Path(n) if Path(n).is_dir() else shared_sequence(n) for n in names or DEFAULT_SEQUENCES]
    missing = [n for n, path in zip(names or DEFAULT_SEQUENCES, paths) if path is None]
    if missing:
        raise MasktrtError(f"sequence '{missing[0]}' not found",
                           "give a sequence folder, or a name under ../shared/data ($MASKTRT_DATA)")
    return [load_sequence(path) for path in paths]


def check_options(args: argparse.Namespace) -> None:
    from masktrt.runtime.serve import loadtest as lt
    from masktrt.runtime.serve.client import loopback_url

    loopback_url(args.url)
    if args.frames_per_stream < 1 or args.rate < 0 or args.timeout <= 0:
        raise MasktrtError("--frames-per-stream, --rate or --timeout is out of range",
                           "give --frames-per-stream >= 1, --rate >= 0, --timeout > 0")
    lt.start_offsets(1, args.stagger / 1000.0, args.rate)  # bounds of --stagger, before any run


def run(args: argparse.Namespace) -> int:
    from masktrt.runtime.serve import loadtest as lt
    from masktrt.runtime.serve.client import TrackingClient, wait_ready

    check_options(args)
    counts, seqs = stream_counts(args.streams), sequences(args.sequence)
    if not wait_ready(args.url, timeout_s=min(args.timeout, 60.0)):
        raise MasktrtError(f"no tracking server answers at {args.url}",
                           "start one: masktrt serve --onnx DIR --port PORT")
    rows = []
    with open_model(args) as tracker:
        references = lt.References(tracker.core)
        for run_index, count in enumerate(counts):
            plans = lt.plan_streams(seqs, count, args.frames_per_stream, f"r{run_index}s", args.init_mask)
            logs, wall = lt.run_streams(plans, lambda: TrackingClient(args.url), args.rate,
                                        args.timeout, args.stagger / 1000.0)
            rows.append(lt.summary_row(count, logs, wall, lt.check(logs, references)))
            print(lt.table(rows[-1:]).splitlines()[-1], flush=True)
    return report(args, rows, seqs)


def report(args: argparse.Namespace, rows: list, seqs: list) -> int:
    from masktrt.runtime.serve import loadtest as lt

    env = lt.environment()
    print(f"\n{lt.table(rows)}\n\nrate {args.rate or 'unpaced'} frames/s per stream, "
          f"stagger {args.stagger:g} ms, "
          f"{args.frames_per_stream} frames per stream, {env['cpus']} CPUs, load average {env['loadavg_1_5_15']}")
    for row in rows:
        for line in row["failures"] + row["details"]:
            print(f"  {row['streams']} streams: {line}")
    lt.write_json(Path(args.json), {"rows": rows, "environment": env, "url": args.url,
                                    "model": args.onnx or args.engines, "rate": args.rate,
                                    "stagger_ms": args.stagger,
                                    "frames": args.frames_per_stream, "sequences": [str(s.root) for s in seqs]})
    print(f"report in {args.json}")
    if not lt.rows_passed(rows):
        print("FAIL: " + ("no frame was compared" if not any(r["frames"] for r in rows)
                          else "frames dropped or different from the offline tracker"))
        return 1
    return 0
