"""Run by the slow serve test with the serving venv's Python (it has tritonclient):

    python tests/serve/bad_frame_client.py ONNX_DIR URL SEQUENCE_DIR FRAMES

While stream 'good' is driven through FRAMES frames (its own thread), stream 'bad' is opened on
the same sequence and sent an undecodable frame and a frame of another size, then its real
frames. Prints one JSON line: the errors 'bad' got, and the load-test check of both streams
against the offline loop (both must be complete and identical: the bad frames changed nothing).
"""
from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np

from masktrt.api import open_tracker
from masktrt.runtime.sequences import load_sequence
from masktrt.runtime.serve import loadtest as lt
from masktrt.runtime.serve import protocol as p
from masktrt.runtime.serve.client import TrackingClient


def bad_stream(url: str, plan: lt.StreamPlan) -> tuple[lt.StreamLog, list[str]]:
    client, log = TrackingClient(url), lt.StreamLog(plan)
    requests = lt.requests_of(plan)
    small = cv2.imencode(".png", np.zeros((16, 16, 3), np.uint8))[1].tobytes()
    try:
        lt.send_timed(client, requests[0], log)
        errors = [client.send(p.Request(plan.stream, p.TRACK, 1, data)).error
                  for data in (b"\xff\xd8 not a jpeg", small)]
        for request in requests[1:]:
            lt.send_timed(client, request, log)
        client.send(p.Request(plan.stream, p.CLOSE, len(requests)))
    finally:
        client.close()
    return log, errors


def main(onnx: str, url: str, sequence: str, frames: str) -> None:
    seq = load_sequence(Path(sequence))
    good, bad = (lt.plan_streams([seq], 1, int(frames), prefix=name)[0] for name in ("good", "bad"))
    logs: list[lt.StreamLog] = []
    thread = threading.Thread(target=lambda: logs.append(
        lt.drive(good, lambda: TrackingClient(url), 0.0, time.monotonic() + 300)))
    thread.start()
    bad_log, errors = bad_stream(url, bad)
    thread.join(timeout=300)
    with open_tracker(onnx, "onnxruntime") as tracker:
        checked = lt.check([*logs, bad_log], lt.References(tracker.core))
    print(json.dumps({"errors": errors, "streams": len(logs) + 1, "frames": checked.frames,
                      "dropped": checked.dropped, "mismatches": checked.mismatches,
                      "details": checked.details}))


if __name__ == "__main__":
    main(*sys.argv[1:])
