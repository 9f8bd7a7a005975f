"""The torch reference backend honours the Backend protocol and the model's numbers."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from masktrt.errors import MasktrtError
from masktrt.export.checkpoints import save_checkpoint
from masktrt.export.models import SiamMask
from masktrt.export.torch_backend import TorchBackend, load_reference
from masktrt.specs.siammask import EXEMPLAR_SIZE, INSTANCE_SIZE

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def model() -> SiamMask:
    torch.manual_seed(0)
    return SiamMask(width=0.125).eval()


def crops(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    z = rng.uniform(0, 255, (1, 3, EXEMPLAR_SIZE, EXEMPLAR_SIZE)).astype(np.float32)
    return z, rng.uniform(0, 255, (1, 3, INSTANCE_SIZE, INSTANCE_SIZE)).astype(np.float32)


def test_backend_matches_model(model) -> None:
    backend = TorchBackend(model)
    z, x = crops()
    kernels = backend.template(z)
    out = backend.search(x, kernels)
    assert out.cls.dtype == np.float32 and out.cls.shape == (1, 10, 25, 25)
    assert out.loc.dtype == np.float32 and out.loc.shape == (1, 20, 25, 25)
    logits = backend.refine(out.features, (3, 21))
    assert logits.dtype == np.float32 and logits.shape == (127, 127)
    with torch.no_grad():
        k = model.template(torch.from_numpy(z))
        cls, _, corr, p0, p1, p2 = model.search(torch.from_numpy(x), *k)
        want = model.refine(p0, p1, p2, corr, torch.tensor([3, 21]))[0, 0].numpy()
    np.testing.assert_array_equal(out.cls, cls.numpy())
    np.testing.assert_array_equal(logits, want)


def test_bad_inputs_are_one_line_errors(model) -> None:
    backend = TorchBackend(model)
    z, x = crops()
    with pytest.raises(MasktrtError, match="template crop has shape"):
        backend.template(x)
    out = backend.search(x, backend.template(z))
    with pytest.raises(MasktrtError, match="outside the 25x25 score map"):
        backend.refine(out.features, (25, 0))


def test_load_reference_from_checkpoint(model, tmp_path) -> None:
    path = save_checkpoint(model, tmp_path / "m.safetensors")
    backend = load_reference(path)
    assert backend.model.spec.width == 0.125 and backend.name == "torch-cpu"
    with pytest.raises(MasktrtError, match="pass one of them"):
        load_reference(path, random_weights_seed=1)
