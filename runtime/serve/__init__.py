"""The tracking service: per-stream tracker state behind Triton Inference Server (PyTriton).

`protocol` packs requests and responses into the tensors Triton carries, `streams` keeps each
stream's tracker state, `service` answers a batch of requests with one tracker core, and
`triton_server` binds it to PyTriton (imported only there). `loadtest` drives a running server
and checks its answers against the offline loop. Nothing here imports torch or onnx.
"""
