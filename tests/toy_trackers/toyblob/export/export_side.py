"""The toy tracker's torch side: a few layers, its graph modules and their reference run."""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ..spec import CODE, HEAT_SIDE, PATCH, SPEC, WINDOW


class ToyExport:
    """The torch side: a few layers, graph modules, their reference run."""

    spec = SPEC

    def load_model(self, checkpoint: Any, seed: int = 0, width: float = 1.0, pairs: Any = None):
        import torch

        torch.manual_seed(seed)
        return _model().eval(), {"kind": "random", "seed": int(seed), "sha256": f"random:{seed}"}

    def model_record(self, model: Any) -> dict:
        return {"name": "toyblob", "width": 1.0}

    def check_options(self, options: Mapping[str, Any]) -> None:
        pass

    def trace_setup(self, model: Any, options: Mapping[str, Any]):
        rng = np.random.default_rng(0)
        patch = rng.uniform(0, 255, (1, 3, PATCH, PATCH)).astype(np.float32)
        window = rng.uniform(0, 255, (1, 3, WINDOW, WINDOW)).astype(np.float32)
        import torch

        code = model.embed(torch.from_numpy(patch)).numpy()
        return ({"embed": _Entry(model, "embed"), "locate": _Entry(model, "locate")},
                {"embed": {"patch": patch}, "locate": {"window": window, "code": code}})

    def run_graph(self, model: Any, graph: str, feeds: Mapping[str, Any],
                  options: Mapping[str, Any] | None = None) -> dict:
        inputs, outputs = SPEC.io_names(graph)
        return {outputs[0]: getattr(model, graph)(*(feeds[n] for n in inputs))}


def _model():
    import torch
    from torch import nn

    class ToyBlob(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = nn.Conv2d(3, CODE, 3, padding=1)
            self.pool = nn.AvgPool2d(WINDOW // HEAT_SIDE)
            with torch.no_grad():  # brightness filters plus a little seeded noise
                self.features.weight.copy_(1 / 27 + 0.01 * torch.randn_like(self.features.weight))
                self.features.bias.zero_()

        def embed(self, patch):
            return self.features(patch / 255).mean(dim=(2, 3))

        def locate(self, window, code):
            heat = self.pool(self.features(window / 255)) * code[:, :, None, None]
            return heat.sum(dim=1, keepdim=True)

    return ToyBlob()


def _entry_class():
    from torch import nn

    class Entry(nn.Module):
        def __init__(self, model, graph: str) -> None:
            super().__init__()
            self.model, self.graph = model, graph

        def forward(self, *args):
            return getattr(self.model, self.graph)(*args)

    return Entry


def _Entry(model, graph):
    return _entry_class()(model, graph)


EXPORT = ToyExport()
