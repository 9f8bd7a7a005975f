"""Serve a masktrt tracker over TraX: the process the VOT toolkit starts for each sequence.

Any registered tracker on any backend (--tracker, --preset, --backend with --onnx/--engines,
--checkpoint). The toolkit sends frames by path and the initial region (rectangle, polygon or
mask); the replies are masks, polygons or rectangles (--region) with the frame's score as the
`confidence` property. `masktrt vot-workspace` writes a workspace whose trackers.ini starts this
command; typed into a terminal it refuses, since it would only wait for a TraX client. Needs
the `vot` extra (pip install 'masktrt[vot]': vot-toolkit and vot-trax).
"""
from __future__ import annotations

import argparse
from typing import Any

from masktrt.commands import args as common

HELP = "serve a tracker to the VOT toolkit over TraX (trackers.ini of 'masktrt vot-workspace')"
REGIONS = ("mask", "polygon", "rectangle")  # = runtime.trax_server.OUTPUTS (numpy-free here)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common.add_tracker_arguments(parser)
    common.add_weights_arguments(parser)
    common.add_backend_arguments(parser)
    add_region_argument(parser)


def add_region_argument(parser: argparse.ArgumentParser) -> None:
    """--region: what the tracker replies (and so which initial regions it is sent as is)."""
    parser.add_argument("--region", default="mask", choices=REGIONS,
                        help="reply format: mask (the tracker's mask), polygon (its rotated box) "
                             "or rectangle (its axis-aligned box)")


def run(args: argparse.Namespace) -> int:
    from masktrt.runtime.trax_server import Session, check_started_by_client, open_server, serve

    check_started_by_client()
    tracker = open_core(args)
    try:
        serve(Session(tracker.core, args.region), open_server(args.region, args.tracker))
    finally:
        tracker.close()
    return 0


def open_core(args: argparse.Namespace) -> Any:
    """The tracker the arguments name, as a runtime.session.Tracker (it owns and closes the
    runner): the runner's recorded tracker and preset win unless --preset is given, as in
    `masktrt track`."""
    from masktrt.runtime.session import bind

    common.check_weights_unused(args)
    preset = common.preset_of(args) if args.preset is not None else None
    return bind(common.open_runner_for(args), args.tracker, preset,
                explicit=getattr(args, "tracker_given", False))
