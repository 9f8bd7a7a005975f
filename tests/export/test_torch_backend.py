"""The torch reference runner honours the GraphRunner contract and the model's numbers."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from masktrt.errors import MasktrtError
from masktrt.trackers.siammask.export.checkpoint import save_checkpoint
from masktrt.trackers.siammask.export import SiamMask
from masktrt.export.torch_backend import TorchRunner, load_reference
from masktrt.trackers.siammask.spec import EXEMPLAR_SIZE, INSTANCE_SIZE

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def model() -> SiamMask:
    torch.manual_seed(0)
    return SiamMask(width=0.125).eval()


def crops(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    z = rng.uniform(0, 255, (1, 3, EXEMPLAR_SIZE, EXEMPLAR_SIZE)).astype(np.float32)
    return z, rng.uniform(0, 255, (1, 3, INSTANCE_SIZE, INSTANCE_SIZE)).astype(np.float32)


FEATURES = ("p0", "p1", "p2", "corr")


def refine(runner: TorchRunner, out: dict, pos: tuple[int, int]) -> np.ndarray:
    feeds = {**{n: out[n] for n in FEATURES}, "pos": np.asarray(pos, np.int64)}
    return runner.run("refine", feeds)["mask"]


def test_backend_matches_model(model) -> None:
    backend = TorchRunner(model)
    z, x = crops()
    kernels = backend.run("template", {"z": z}, keep_on_device=("k_cls", "k_loc", "k_mask"))
    assert all(isinstance(k, torch.Tensor) for k in kernels.values())
    out = backend.run("search", {"x": x, **kernels}, keep_on_device=FEATURES)
    assert out["cls"].dtype == np.float32 and out["cls"].shape == (1, 10, 25, 25)
    assert out["loc"].dtype == np.float32 and out["loc"].shape == (1, 20, 25, 25)
    assert isinstance(out["p0"], torch.Tensor) and isinstance(out["corr"], torch.Tensor)
    logits = refine(backend, out, (3, 21))[0, 0]
    assert logits.dtype == np.float32 and logits.shape == (127, 127)
    with torch.no_grad():
        k = model.template(torch.from_numpy(z))
        cls, _, corr, p0, p1, p2 = model.search(torch.from_numpy(x), *k)
        want = model.refine(p0, p1, p2, corr, torch.tensor([3, 21]))[0, 0].numpy()
    np.testing.assert_array_equal(out["cls"], cls.numpy())
    np.testing.assert_array_equal(logits, want)


def test_bad_inputs_are_one_line_errors(model) -> None:
    backend = TorchRunner(model)
    z, x = crops()
    with pytest.raises(MasktrtError, match="template crop has shape"):
        backend.run("template", {"z": x})
    with pytest.raises(MasktrtError, match=r"without inputs \['z'\]"):
        backend.run("template", {"x": x})
    out = backend.run("search", {"x": x, **backend.run("template", {"z": z})}, keep_on_device=FEATURES)
    with pytest.raises(MasktrtError, match="outside the 25x25 score map"):
        refine(backend, out, (25, 0))


def test_runner_closes_and_works_as_a_context_manager(model) -> None:
    with TorchRunner(model) as runner:
        assert runner.run("template", {"z": crops()[0]})["k_cls"].dtype == np.float32
    assert runner.closed and runner.model is None


def test_load_reference_from_checkpoint(model, tmp_path) -> None:
    path = save_checkpoint(model, tmp_path / "m.safetensors")
    backend = load_reference(path)
    assert backend.model.spec.width == 0.125 and backend.name == "torch-cpu"
    with pytest.raises(MasktrtError, match="pass one of them"):
        load_reference(path, random_weights_seed=1)
