"""OceanPlus checkpoint loading: every accepted format round-trips; every bad input is one line."""
from __future__ import annotations

import argparse

import pytest
import torch

from masktrt.errors import MasktrtError
from masktrt.trackers.siammask.export import SiamMask
from masktrt.trackers.oceanplus.export import OceanPlus
from masktrt.trackers.oceanplus.export.checkpoint import (checkpoint_variant, checkpoint_width,
                                                        load_checkpoint, official_name)

WIDTH = 0.125  # formats and errors do not depend on the width; small files write fast
PREFIXES = ("", "module.", "feature_extractor.", "module.feature_extractor.")


def seeded(variant: str, width: float = WIDTH) -> OceanPlus:
    """A seeded model with non-default BN buffers, so a skipped buffer would be noticed."""
    torch.manual_seed(5)
    model = OceanPlus(variant, width)
    with torch.no_grad():
        for buf in model.buffers():
            if buf.is_floating_point():
                buf.uniform_(0.5, 1.5)
    return model


@pytest.fixture(scope="module", params=("mss", "mms"))
def source(request) -> OceanPlus:
    return seeded(request.param)


def assert_same_weights(a: OceanPlus, b: OceanPlus) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for k in sa:
        if not k.endswith("num_batches_tracked"):
            assert sb[k].dtype == sa[k].dtype and torch.equal(sa[k], sb[k]), k


def prefixed(model: OceanPlus, prefix: str) -> dict[str, torch.Tensor]:
    return {prefix + k: v for k, v in model.state_dict().items()}


@pytest.mark.parametrize("wrapped", (False, True), ids=("flat", "state_dict"))
@pytest.mark.parametrize("prefix", PREFIXES, ids=("bare", "module", "feature_extractor", "both"))
def test_every_format_loads_with_variant_and_width_detected(source, tmp_path, prefix: str,
                                                            wrapped: bool) -> None:
    state = prefixed(source, prefix)
    path = tmp_path / "ckpt.pth"
    torch.save({"epoch": 50, "arch": "OceanPlus", "state_dict": state,
                "optimizer": {"param_groups": [{"lr": 0.005}]}} if wrapped else state, path)
    loaded = load_checkpoint(path)
    assert loaded.variant == source.variant and loaded.channels.width == WIDTH
    assert not loaded.training
    assert_same_weights(source, loaded)


def test_loads_into_a_given_model_and_from_safetensors(tmp_path) -> None:
    from safetensors.torch import save_file

    source = seeded("mss")
    save_file({k: v.contiguous() for k, v in source.state_dict().items()},
              str(tmp_path / "w.safetensors"))
    target = OceanPlus("mss", WIDTH)
    assert load_checkpoint(tmp_path / "w.safetensors", target) is target
    assert_same_weights(source, target)


def test_official_name_strips_module_then_feature_extractor() -> None:
    key = "connect_model.cls_dw.weight"
    assert {official_name(p + key) for p in PREFIXES} == {key}
    assert official_name("feature_extractor.module." + key) == "module." + key  # as TracKit


def test_released_width_and_variant_detected_without_loading() -> None:
    mms = OceanPlus("mms").state_dict()
    assert checkpoint_width(mms) == 1.0 and checkpoint_variant(mms) == "mms"
    assert checkpoint_variant(OceanPlus("mss", 0.3).state_dict()) == "mss"
    assert checkpoint_width(OceanPlus("mss", 0.3).state_dict()) == pytest.approx(0.3, abs=0.01)


@pytest.mark.parametrize("found,model", (("mss", "mms"), ("mms", "mss")))
def test_wrong_variant_is_one_line(tmp_path, found: str, model: str) -> None:
    torch.save(seeded(found).state_dict(), tmp_path / "v.pth")
    with pytest.raises(MasktrtError) as info:
        load_checkpoint(tmp_path / "v.pth", OceanPlus(model, WIDTH))
    text = str(info.value)
    assert f"is the {found.upper()} variant" in text and f"model is {model.upper()}" in text
    assert f"variant='{found}'" in text and "\n" not in text


def test_missing_and_misshaped_keys_are_one_line(tmp_path) -> None:
    state = seeded("mss").state_dict()
    del state["connect_model.bias"]
    state["neck.downsample.0.weight"] = torch.zeros(3, 3, 1, 1)
    state["connect_model.extra"] = torch.zeros(1)
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(MasktrtError) as info:
        load_checkpoint(tmp_path / "bad.pth", OceanPlus("mss", WIDTH))
    text = str(info.value)
    assert "does not fit OceanPlus (MSS)" in text and "\n" not in text
    assert "missing 1 (connect_model.bias)" in text and "unexpected 1 (connect_model.extra)" in text
    assert "mis-shaped 1 (neck.downsample.0.weight [3, 3, 1, 1] vs [32, 128, 1, 1])" in text


def test_width_clash_is_named(tmp_path) -> None:
    torch.save(seeded("mss", 0.25).state_dict(), tmp_path / "w.pth")
    with pytest.raises(MasktrtError, match="checkpoint width 0.25 but model width 0.125"):
        load_checkpoint(tmp_path / "w.pth", OceanPlus("mss", WIDTH))


def test_non_strict_ignores_missing_and_unexpected(tmp_path) -> None:
    source = seeded("mss")
    state = source.state_dict()
    del state["mask_model.b0.0.weight"]  # unused at inference
    state["connect_model.extra"] = torch.zeros(1)
    torch.save(state, tmp_path / "partial.pth")
    loaded = load_checkpoint(tmp_path / "partial.pth", OceanPlus("mss", WIDTH), strict=False)
    assert torch.equal(loaded.connect_model.adjust, source.connect_model.adjust)


def test_siammask_checkpoint_is_not_oceanplus(tmp_path) -> None:
    torch.save(SiamMask(width=WIDTH).state_dict(), tmp_path / "siammask.pth")
    with pytest.raises(MasktrtError) as info:
        load_checkpoint(tmp_path / "siammask.pth")
    text = str(info.value)
    assert "is not an OceanPlus checkpoint" in text and "OceanPlusMSS.pth" in text
    assert "\n" not in text


def test_corrupt_file_is_one_line(tmp_path) -> None:
    (tmp_path / "noise.pth").write_bytes(b"\x80\x02not a checkpoint at all" * 10)
    with pytest.raises(MasktrtError, match="corrupt") as info:
        load_checkpoint(tmp_path / "noise.pth")
    assert "\n" not in str(info.value)


def test_non_checkpoint_pickles_are_one_line(tmp_path) -> None:
    torch.save([1, 2, 3], tmp_path / "list.pth")
    with pytest.raises(MasktrtError, match="holds a list, not a state dict"):
        load_checkpoint(tmp_path / "list.pth")
    torch.save({"epoch": 3, "arch": "OceanPlus"}, tmp_path / "meta.pth")
    with pytest.raises(MasktrtError, match="contains no tensors"):
        load_checkpoint(tmp_path / "meta.pth")


def test_code_in_the_pickle_is_refused(tmp_path) -> None:
    """weights_only=True: an object that would run code on unpickling is never built."""
    state = dict(seeded("mss").state_dict())
    torch.save({"state_dict": state, "args": argparse.Namespace(lr=0.01)}, tmp_path / "code.pth")
    with pytest.raises(MasktrtError, match=r"holds a Python object.*weights_only=True") as info:
        load_checkpoint(tmp_path / "code.pth")
    assert "\n" not in str(info.value)


def test_missing_file_is_one_line(tmp_path) -> None:
    with pytest.raises(MasktrtError, match="does not exist"):
        load_checkpoint(tmp_path / "OceanPlusMSS.pth")
