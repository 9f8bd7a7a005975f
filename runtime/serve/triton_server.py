"""The tracking service on Triton Inference Server, through PyTriton (imported only here).

PyTriton starts a real `tritonserver` whose Python backend forwards each batch to an infer
function in this process; Triton's dynamic batcher gathers requests of different streams into one
batch (up to `max_batch`, waiting at most `delay_us` for more). One model instance, so batches
are answered one after another and the stream table needs no more than its lock.

Every endpoint binds 127.0.0.1 only: the service has no authentication, and serving beyond this
machine is a deployment decision (docs/serving.md: a GPU server, a load balancer).
PyTriton needs a Python with a shared libpython: run it from `scripts/serve_venv.sh`'s venv.
"""
from __future__ import annotations

import signal
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from masktrt.errors import MasktrtError
from masktrt.runtime.serve import protocol as p
from masktrt.runtime.serve.service import TrackingService

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class ServerOptions:
    """Ports (HTTP; gRPC and metrics default to the next two), batching, and a lifetime bound."""

    port: int = 8000
    grpc_port: int | None = None
    metrics_port: int | None = None
    max_batch: int = 16
    delay_us: int = 2000
    lifetime_s: float = 0.0  # 0: until interrupted (Ctrl-C, SIGTERM)

    def ports(self) -> tuple[int, int, int]:
        grpc = self.grpc_port if self.grpc_port is not None else self.port + 1
        metrics = self.metrics_port if self.metrics_port is not None else self.port + 2
        return self.port, grpc, metrics


def import_pytriton() -> Any:
    """pytriton.triton, or a one-line error naming the serving venv."""
    try:
        import pytriton.triton as triton
    except ImportError as exc:
        raise MasktrtError(f"PyTriton is not importable here ({exc})",
                           "run 'make serve-venv' and start the server with that venv's "
                           "masktrt (docs/serving.md)") from exc
    return triton


def tensors(spec: dict[str, tuple[Any, tuple[int, ...]]]) -> list[Any]:
    from pytriton.model_config import Tensor

    return [Tensor(name=name, dtype=dtype, shape=shape) for name, (dtype, shape) in spec.items()]


def triton_config(options: ServerOptions) -> Any:
    http, grpc, metrics = options.ports()
    from pytriton.triton import TritonConfig

    return TritonConfig(http_address=LOOPBACK, http_port=http, grpc_address=LOOPBACK,
                        grpc_port=grpc, metrics_address=LOOPBACK, metrics_port=metrics,
                        allow_sagemaker=False, allow_vertex_ai=False)


def model_config(options: ServerOptions) -> Any:
    from pytriton.model_config import DynamicBatcher, ModelConfig

    batcher = DynamicBatcher(max_queue_delay_microseconds=options.delay_us)
    return ModelConfig(batching=True, max_batch_size=options.max_batch, batcher=batcher)


def infer_function(service: TrackingService) -> Callable[..., dict[str, np.ndarray]]:
    """The service's infer, wrapped in PyTriton's @batch (requests -> stacked tensors)."""
    from pytriton.decorators import batch

    @batch
    def infer(**inputs: np.ndarray) -> dict[str, np.ndarray]:
        return service.infer(**inputs)

    return infer


def serve(service: TrackingService, options: ServerOptions,
          ready: Callable[[str], None] = print) -> None:
    """Start Triton with the tracker model bound, announce the URL, and serve until the
    lifetime ends or the process is interrupted; Triton is always stopped on the way out."""
    triton_module = import_pytriton()
    with triton_module.Triton(config=triton_config(options)) as triton:
        triton.bind(model_name=p.MODEL_NAME, infer_func=infer_function(service),
                    inputs=tensors(p.INPUTS), outputs=tensors(p.OUTPUTS),
                    config=model_config(options), strict=True)
        triton.run()
        mode = "streams batched in one track_many call" if service.batched else "rows one by one"
        ready(f"serving model '{p.MODEL_NAME}' on http://{LOOPBACK}:{options.port} "
              f"(gRPC {LOOPBACK}:{options.ports()[1]}; {mode})")
        wait(options.lifetime_s)


def wait(lifetime_s: float) -> None:
    """Block until SIGTERM/SIGINT or `lifetime_s` seconds (0: no limit), polling once a second."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    deadline = time.monotonic() + lifetime_s if lifetime_s > 0 else float("inf")
    try:
        while not stop.is_set() and time.monotonic() < deadline:
            stop.wait(min(1.0, max(0.0, deadline - time.monotonic())))
    except KeyboardInterrupt:
        pass
