"""The tracking service for real: the serving venv, a PyTriton server, the load test.

1. Make (or reuse) the serving venv with scripts/serve_venv.sh (system python3 with a shared
   libpython, runtime extras + nvidia-pytriton + tritonclient, no torch); skip with the reason
   where it cannot be made (no /usr/bin/python3, no package index).
2. Export the small random SiamMask (width 0.125) with this interpreter (it has torch), once
   as it is (batch 1: rows one by one) and once with `--batch dynamic --xcorr unrolled` (the
   track rows of a batch's streams in one `track_many` call).
3. Start `masktrt serve` from the venv on free loopback ports (bounded by --lifetime).
4. `masktrt loadtest` with 1 and 4 streams (batched: 4, staggered) over 10 frames of real
   sequences: every frame answered, in order, identical to the offline loop (dropped == 0,
   mismatches == 0).
5. A stream sent an undecodable frame and a resized one gets errors for those requests only,
   while another stream runs; both then match the offline loop frame for frame.
The server is stopped with SIGTERM (killed if it does not stop within 60 s); the batched
server's closing line must count batched calls.
"""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from masktrt.paths import REPO_ROOT, cache_dir
from masktrt.runtime.serve.protocol import MODEL_NAME
from tests.conftest import real_sequence

pytestmark = [pytest.mark.slow, pytest.mark.data]
SERVE_PYTHON = os.environ.get("SERVE_PYTHON", "/usr/bin/python3")


def serve_venv() -> Path:
    """The venv of scripts/serve_venv.sh ($MASKTRT_SERVE_VENV, else the cache's), or skip."""
    if not Path(SERVE_PYTHON).is_file():
        pytest.skip(f"no {SERVE_PYTHON}: the serving venv needs a Python with a shared libpython "
                    "(set SERVE_PYTHON)")
    venv = Path(os.environ.get("MASKTRT_SERVE_VENV") or cache_dir("serve-venv"))
    proc = subprocess.run(["bash", str(REPO_ROOT / "scripts" / "serve_venv.sh"), str(venv)],
                          capture_output=True, text=True, timeout=1200, check=False)
    if proc.returncode != 0:
        pytest.skip(f"the serving venv could not be made (scripts/serve_venv.sh exited "
                    f"{proc.returncode}): {proc.stderr.strip().splitlines()[-1:]}")
    return venv


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/models/{MODEL_NAME}/ready",
                                    timeout=2) as reply:
            return reply.status == 200
    except OSError:
        return False


def wait_ready(server: subprocess.Popen, port: int, log: Path, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and server.poll() is None:
        if ready(port):
            return
        time.sleep(0.5)
    pytest.fail(f"the server did not become ready in {timeout_s} s:\n{log.read_text()[-3000:]}")


def stop(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=60)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(timeout=30)


EXPORTS = {"batch-1": (), "batched": ("--batch", "dynamic", "--xcorr", "unrolled")}
STREAMS = {"batch-1": "1,4", "batched": "4"}


@pytest.fixture(scope="module", params=sorted(EXPORTS))
def served(request, tmp_path_factory):
    """(venv, onnx dir, url, server log, export kind) with a server running for the module's
    tests, once per export kind."""
    venv, tmp = serve_venv(), tmp_path_factory.mktemp(f"serve-{request.param}")
    onnx = tmp / "onnx"
    subprocess.run([sys.executable, "-m", "masktrt.cli", "export", "--random-weights", "--width",
                    "0.125", *EXPORTS[request.param], "--out", str(onnx)], check=True,
                   capture_output=True, timeout=600)
    port, log = free_port(), tmp / "server.log"
    command = [str(venv / "bin" / "masktrt"), "serve", "--onnx", str(onnx), "--port", str(port),
               "--grpc-port", str(free_port()), "--metrics-port", str(free_port()), "--lifetime", "900"]
    with log.open("w") as out:
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_ready(server, port, log)
        yield venv, onnx, f"127.0.0.1:{port}", log, request.param
    finally:
        stop(server)
    if request.param == "batched":
        assert_batched(log.read_text())


def assert_batched(text: str) -> None:
    """The batched server said so at start and made batched calls (more than one row each)."""
    assert "streams batched in one track_many call" in text, text[-3000:]
    calls = re.search(r"(\d+) batched track calls, (\d+) fell back", text)
    assert calls and int(calls.group(1)) > 0, text[-3000:]


def in_venv(venv: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(venv / "bin" / args[0]), *args[1:]], capture_output=True, text=True,
                          timeout=900, check=False, cwd=REPO_ROOT)


def test_load_test_drops_nothing_and_matches_offline(served, tmp_path) -> None:
    venv, onnx, url, _, kind = served
    report = tmp_path / "loadtest.json"
    sequences = [str(real_sequence(n)) for n in ("davis-blackswan", "vot-bag")]
    proc = in_venv(venv, "masktrt", "loadtest", "--onnx", str(onnx), "--url", url, "--streams",
                   STREAMS[kind], "--frames-per-stream", "10", "--timeout", "300", "--stagger", "5",
                   "--json", str(report), "--sequence", *sequences)
    print(proc.stdout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = json.loads(report.read_text())["rows"]
    assert [r["streams"] for r in rows] == [int(n) for n in STREAMS[kind].split(",")]
    for row in rows:
        assert row["dropped"] == 0 and row["mismatches"] == 0, row
        assert row["answered"] == row["frames"] == 10 * row["streams"]


def test_a_bad_frame_errors_for_its_request_only(served) -> None:
    venv, onnx, url, _, _ = served
    script = REPO_ROOT / "tests" / "serve" / "bad_frame_client.py"
    proc = in_venv(venv, "python", str(script), str(onnx), url, str(real_sequence("davis-blackswan")), "8")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "not a decodable image" in got["errors"][0] and "frame size changed" in got["errors"][1]
    assert (got["streams"], got["frames"], got["dropped"], got["mismatches"]) == (2, 16, 0, 0), got
