"""A loopback client of the tracking service (tritonclient over HTTP, imported only here).

One client per stream thread: a stream's frames go one at a time (frame t+1 tracks from the
state frame t left), while the threads of several streams let Triton's batcher gather them.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import numpy as np

from masktrt.errors import MasktrtError
from masktrt.runtime.serve import protocol as p

# the stream id as an HTTP header too: a load balancer can route on it (docs/serving.md)
STREAM_HEADER = "x-masktrt-stream"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
TRITON_TYPES = {bytes: "BYTES", np.int32: "INT32", np.int64: "INT64", np.float64: "FP64",
                np.float32: "FP32"}


def loopback_url(url: str) -> str:
    """'host:port' of a loopback URL; any other host is refused (the load test stays local)."""
    parts = urlsplit(url if "//" in url else f"//{url}")
    if parts.hostname not in LOOPBACK_HOSTS or parts.port is None:
        raise MasktrtError(f"--url {url} is not a loopback address with a port",
                           "give 127.0.0.1:PORT (the server listens on loopback only)")
    return f"{parts.hostname}:{parts.port}"


def import_client() -> Any:
    """tritonclient.http, or a one-line error naming the serving venv."""
    try:
        import tritonclient.http as http
    except ImportError as exc:
        raise MasktrtError(f"tritonclient is not importable here ({exc})",
                           "run the load test from the venv of 'make serve-venv' (docs/"
                           "serving.md), or pip install 'tritonclient[http]'") from exc
    return http


class TrackingClient:
    """Sends Requests, returns Responses; `timeout_s` bounds every connection and call."""

    def __init__(self, url: str, timeout_s: float = 60.0) -> None:
        http = import_client()
        self.http = http
        self.client = http.InferenceServerClient(url=loopback_url(url), connection_timeout=timeout_s,
                                                 network_timeout=timeout_s)

    def send(self, request: p.Request) -> p.Response:
        arrays = p.request_arrays(request)
        inputs = [self._input(name, arrays[name]) for name in p.INPUTS]
        outputs = [self.http.InferRequestedOutput(name, binary_data=True) for name in p.OUTPUTS]
        result = self.client.infer(p.MODEL_NAME, inputs, outputs=outputs,
                                   headers={STREAM_HEADER: request.stream})
        return p.response_from_arrays({name: result.as_numpy(name) for name in p.OUTPUTS})

    def _input(self, name: str, array: np.ndarray) -> Any:
        tensor = self.http.InferInput(name, list(array.shape), TRITON_TYPES[p.INPUTS[name][0]])
        tensor.set_data_from_numpy(array, binary_data=True)
        return tensor

    def ready(self) -> bool:
        try:
            return bool(self.client.is_model_ready(p.MODEL_NAME))
        except Exception:  # not up yet: connection refused, 400 while loading
            return False

    def close(self) -> None:
        self.client.close()


def wait_ready(url: str, timeout_s: float = 120.0, poll_s: float = 0.5) -> bool:
    """True once the model answers ready; False after `timeout_s` (bounded polling)."""
    import time

    client, deadline = TrackingClient(url, timeout_s=5.0), time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            if client.ready():
                return True
            time.sleep(poll_s)
        return False
    finally:
        client.close()
