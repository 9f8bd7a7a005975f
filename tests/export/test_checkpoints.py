"""Checkpoint loading: every accepted format round-trips; every bad input is one clear error."""
from __future__ import annotations

import argparse
import hashlib
import json
import pickle

import pytest
import torch

from masktrt.errors import MasktrtError
from masktrt.export.checkpoints import checkpoint_sha256
from masktrt.trackers.siammask.export.checkpoint import (checkpoint_width, load_checkpoint,
                                                         official_name, read_state_dict,
                                                         save_checkpoint)
from masktrt.trackers.siammask.export import SiamMask
from masktrt.paths import REPO_ROOT

WIDTH = 0.125
PYSOT_MANIFEST = REPO_ROOT.parent / "shared" / "spec" / "pysot_siammask_r50_l3_state_dict.json"


@pytest.fixture(scope="module")
def source() -> SiamMask:
    torch.manual_seed(3)
    model = SiamMask(width=WIDTH)
    with torch.no_grad():  # non-default BN buffers so a skipped buffer would be noticed
        for name, buf in model.named_buffers():
            if buf.is_floating_point():
                buf.uniform_(0.5, 1.5)
    return model


def assert_same_weights(a: SiamMask, b: SiamMask, atol: float = 0.0) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for k in sa:
        if k.endswith("num_batches_tracked"):
            continue
        assert sb[k].dtype == sa[k].dtype, k
        assert torch.allclose(sa[k], sb[k], atol=atol, rtol=0), k


def test_flat_dict_width_detected(source, tmp_path) -> None:
    path = tmp_path / "flat.pth"
    torch.save(source.state_dict(), path)
    loaded = load_checkpoint(path)
    assert loaded.spec.width == WIDTH and not loaded.training
    assert_same_weights(source, loaded)


def test_training_snapshot_with_module_prefix(source, tmp_path) -> None:
    state = {f"module.{k}": v for k, v in source.state_dict().items()}
    snapshot = {"epoch": 20, "arch": "Custom", "state_dict": state, "best_acc": 0.5,
                "optimizer": {"param_groups": [{"lr": 0.01}]}, "anchor_cfg": {"stride": 8}}
    torch.save(snapshot, tmp_path / "snap.pth")
    assert_same_weights(source, load_checkpoint(tmp_path / "snap.pth"))
    torch.save({"model": source.state_dict()}, tmp_path / "model.pth")
    assert_same_weights(source, load_checkpoint(tmp_path / "model.pth"))


def test_pysot_names_map_to_official() -> None:
    if not PYSOT_MANIFEST.is_file():
        pytest.skip("pysot manifest not found: needs ../shared/spec")
    entries = json.loads(PYSOT_MANIFEST.read_text())["entries"]
    assert len(entries) == 356
    assert all(official_name(e["name"]) == e["official_siammask_name"] for e in entries)
    official = SiamMask().state_dict()
    assert all(list(official[e["official_siammask_name"]].shape) == e["shape"] for e in entries)


def test_pysot_file_loads(source, tmp_path) -> None:
    pysot = {"features.features.": "backbone.", "features.downsample.": "neck.downsample.",
             "rpn_model.": "rpn_head.", "mask_model.mask.": "mask_head.", "refine_model.": "refine_head."}
    state = {}
    for k, v in source.state_dict().items():
        prefix = next(p for p in pysot if k.startswith(p))
        state[pysot[prefix] + k[len(prefix):]] = v
    torch.save(state, tmp_path / "pysot.pth")
    assert_same_weights(source, load_checkpoint(tmp_path / "pysot.pth"))


def test_fp16_safetensors_cast_to_model_dtype(source, tmp_path) -> None:
    path = save_checkpoint(source, tmp_path / "demo.safetensors", fp16=True)
    loaded = load_checkpoint(path)
    assert loaded.features.features.conv1.weight.dtype == torch.float32
    assert_same_weights(source, loaded, atol=2e-3)
    assert not torch.equal(loaded.features.features.conv1.weight, source.features.features.conv1.weight)
    fp32 = load_checkpoint(save_checkpoint(source, tmp_path / "fp32.safetensors"))
    assert_same_weights(source, fp32)


def test_missing_num_batches_tracked_is_tolerated(source, tmp_path) -> None:
    state = {k: v for k, v in source.state_dict().items() if not k.endswith("num_batches_tracked")}
    torch.save(state, tmp_path / "old.pth")
    assert_same_weights(source, load_checkpoint(tmp_path / "old.pth"))


def test_strict_reports_everything_in_one_error(source, tmp_path) -> None:
    state = dict(source.state_dict())
    del state["rpn_model.cls.head.3.bias"], state["refine_model.post2.bias"]
    state["rpn_model.extra.weight"] = torch.zeros(1)
    state["refine_model.post2.weight"] = torch.zeros(1, 4, 5, 5)
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(MasktrtError) as err:
        load_checkpoint(tmp_path / "bad.pth")
    msg = str(err.value)
    assert "\n" not in msg
    assert "missing 2 (rpn_model.cls.head.3.bias, refine_model.post2.bias)" in msg
    assert "unexpected 1 (rpn_model.extra.weight)" in msg
    assert "mis-shaped 1 (refine_model.post2.weight [1, 4, 5, 5] vs [1, 4, 3, 3])" in msg
    del state["refine_model.post2.weight"]
    torch.save(state, tmp_path / "partial.pth")
    loaded = load_checkpoint(tmp_path / "partial.pth", strict=False)
    assert torch.equal(loaded.features.features.conv1.weight, source.features.features.conv1.weight)


def one_line_error(path) -> str:
    with pytest.raises(MasktrtError) as err:
        load_checkpoint(path)
    msg = str(err.value)
    assert "\n" not in msg and str(path) in msg
    return msg


def test_corrupt_files(source, tmp_path) -> None:
    torch.save(source.state_dict(), tmp_path / "full.pth")
    data = (tmp_path / "full.pth").read_bytes()
    (tmp_path / "truncated.pth").write_bytes(data[: len(data) // 2])
    assert "corrupt" in one_line_error(tmp_path / "truncated.pth")
    (tmp_path / "noise.pth").write_bytes(bytes(range(256)))
    assert "corrupt" in one_line_error(tmp_path / "noise.pth")
    (tmp_path / "bad.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    assert "safetensors" in one_line_error(tmp_path / "bad.safetensors")
    assert "does not exist" in one_line_error(tmp_path / "absent.pth")


def test_non_checkpoint_pickles(tmp_path) -> None:
    torch.save(argparse.Namespace(lr=0.1), tmp_path / "object.pth")
    assert "argparse.Namespace" in one_line_error(tmp_path / "object.pth")
    (tmp_path / "plain.pkl").write_bytes(pickle.dumps(argparse.Namespace(lr=0.1)))
    assert "corrupt or not a PyTorch file" in one_line_error(tmp_path / "plain.pkl")
    torch.save(["a", "b"], tmp_path / "list.pth")
    assert "holds a list" in one_line_error(tmp_path / "list.pth")
    torch.save("hello", tmp_path / "str.pth")
    assert "holds a str" in one_line_error(tmp_path / "str.pth")
    torch.save({"epoch": 3}, tmp_path / "notensors.pth")
    assert "no tensors" in one_line_error(tmp_path / "notensors.pth")


def test_wrong_architecture(source, tmp_path) -> None:
    resnet18 = {"conv1.weight": torch.zeros(64, 3, 7, 7), "bn1.weight": torch.ones(64),
                "layer1.0.conv1.weight": torch.zeros(64, 64, 3, 3), "fc.weight": torch.zeros(1000, 512)}
    torch.save(resnet18, tmp_path / "resnet18.pth")
    assert "not a SiamMask checkpoint" in one_line_error(tmp_path / "resnet18.pth")
    torch.save(source.state_dict(), tmp_path / "narrow.pth")
    with pytest.raises(MasktrtError, match="checkpoint width 0.125 but model width 1"):
        load_checkpoint(tmp_path / "narrow.pth", model=SiamMask())


def test_width_and_sha256(source, tmp_path) -> None:
    path = save_checkpoint(source, tmp_path / "w.safetensors")
    assert checkpoint_width(read_state_dict(path)) == WIDTH
    assert checkpoint_sha256(path) == hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("width", [0.3, 0.5])
def test_width_detected_despite_rounding(width) -> None:
    state = SiamMask(width=width).state_dict()
    rebuilt = SiamMask(width=checkpoint_width(state)).state_dict()
    assert {k: v.shape for k, v in rebuilt.items()} == {k: v.shape for k, v in state.items()}
