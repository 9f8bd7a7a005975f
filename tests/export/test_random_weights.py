"""The default random model: deterministic, sane activation scale, cached."""
from __future__ import annotations

import pytest
import torch

from masktrt.trackers.siammask.export import SiamMask
from masktrt.export.random_weights import calibration_crops
from masktrt.trackers.siammask.export.random_weights import (compute_random_model, official_init,
                                                             random_model)

WIDTH = 0.125
PAIRS = 8

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MASKTRT_CACHE", str(tmp_path / "cache"))


def states_equal(a: SiamMask, b: SiamMask) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return list(sa) == list(sb) and all(torch.equal(sa[k], sb[k]) for k in sa)


def adjusted_search_map(model: SiamMask) -> torch.Tensor:
    """The adjust layer's output on crops the statistics were NOT estimated on."""
    crops = calibration_crops(4, seed=99)
    with torch.no_grad():
        return model.features(torch.from_numpy(crops.searches).float())[1]


def test_deterministic_and_seeded() -> None:
    a = compute_random_model(seed=1, width=WIDTH, n_pairs=PAIRS)
    b = compute_random_model(seed=1, width=WIDTH, n_pairs=PAIRS)
    c = compute_random_model(seed=2, width=WIDTH, n_pairs=PAIRS)
    assert states_equal(a, b)
    assert not torch.equal(a.features.features.conv1.weight, c.features.features.conv1.weight)
    assert not a.training


def test_activation_scale_is_sane() -> None:
    raw = adjusted_search_map(official_init(SiamMask(width=WIDTH), 0).eval())
    assert raw.std() > 100  # what raw 0..255 input does to an un-fitted network
    fitted = adjusted_search_map(compute_random_model(seed=0, width=WIDTH, n_pairs=PAIRS))
    channel_means = fitted.mean(dim=(0, 2, 3))
    assert channel_means.abs().max() < 1.0
    assert 0.3 < fitted.std() < 3.0
    with torch.no_grad():
        model = compute_random_model(seed=0, width=WIDTH, n_pairs=PAIRS)
        crops = calibration_crops(1, seed=7)
        kernels = model.template(torch.from_numpy(crops.templates).float())
        cls, loc, corr = model.search(torch.from_numpy(crops.searches).float(), *kernels)[:3]
    for out in (cls, loc, corr):
        assert torch.isfinite(out).all() and out.abs().max() < 1e3


def test_cache_hit_returns_identical_weights(capsys) -> None:
    first = random_model(seed=0, width=WIDTH, n_pairs=PAIRS)
    assert "fitting BatchNorm statistics" in capsys.readouterr().err
    second = random_model(seed=0, width=WIDTH, n_pairs=PAIRS)
    assert capsys.readouterr().err == ""
    assert states_equal(first, second)


def test_synthetic_fallback() -> None:
    crops = calibration_crops(3, seed=0, use_shared_data=False)
    assert crops.source == "synthetic"
    assert crops.templates.shape == (3, 3, 127, 127) and crops.searches.shape == (3, 3, 255, 255)
    assert crops.searches.std() > 10  # textured, not blank
    model = compute_random_model(seed=0, width=WIDTH, n_pairs=4, use_shared_data=False)
    assert 0.3 < adjusted_search_map(model).std() < 3.0
