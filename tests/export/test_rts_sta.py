"""STA, RTS's box-initialisation network (spec §B1 "STA", appendix `sta_state_dict.json`): the
state dict equals the manifest, the box rasterisation is the release's, and `sta.pth.tar` loads
through the restricted unpickler with its constructor checked (one-line refusals)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from masktrt.trackers.rts.export import RTS
from masktrt.trackers.rts.export.checkpoint import (load_checkpoint, load_sta, read_sta_checkpoint,
                                                    sta_path)
from masktrt.trackers.rts.export.sta import STA, box_mask

from masktrt.errors import MasktrtError
from masktrt.trackers.rts.spec import (STA_CONSTRUCTOR_FUNCTION, STA_CONSTRUCTOR_KWARGS,
                                       STA_CONSTRUCTOR_MODULE)

MANIFEST = Path("/work/shared/spec/sta_state_dict.json")
torch.set_num_threads(1)


@pytest.fixture(scope="module")
def manifest() -> dict:
    if not MANIFEST.is_file():
        pytest.skip(f"{MANIFEST} is absent (shared spec)")
    return json.loads(MANIFEST.read_text())


@pytest.fixture(scope="module")
def source() -> STA:
    torch.manual_seed(3)
    model = STA()
    with torch.no_grad():
        for buf in model.buffers():
            if buf.is_floating_point():
                buf.uniform_(0.5, 1.5)
        model.target_model_segm.reg.fill_(0.21)
    return model


def test_state_dict_is_the_manifest_key_for_key(manifest) -> None:
    state = STA().state_dict()
    expected = [(e["name"], tuple(e["shape"]), e["dtype"]) for e in manifest["entries"]]
    got = [(k, tuple(v.shape), str(v.dtype).removeprefix("torch.")) for k, v in state.items()]
    assert got == expected  # in order: registration order is the checkpoint's
    params = sum(p.numel() for p in STA().parameters())
    assert params == manifest["summary"]["total_parameter_elements"] == 40_336_931


def test_the_manifest_rules_out_the_listed_constructor_alternatives(manifest) -> None:
    """The kwargs chosen (STA_CONSTRUCTOR_KWARGS) are the manifest's inferred ones; each listed
    alternative changes a shape or a key that STA() has as the manifest says."""
    assert manifest["constructor"]["kwds_guessed"]["label_encoder_dims"] == \
        list(STA_CONSTRUCTOR_KWARGS["label_encoder_dims"])
    state = STA().state_dict()
    alternatives = manifest["constructor"]["alternatives_checked"]
    for name, change in alternatives.items():
        differs = [k for k in change["added_keys"] if k not in state] + \
            [k for k in change["removed_keys"] if k in state] + \
            [k for k, (ours, theirs) in change["changed_shapes"].items()
             if list(state[k].shape) == ours != theirs]
        assert differs, name


def test_box_mask_truncates_as_the_release() -> None:
    mask = box_mask(torch.tensor([[2.7, 1.2, 3.9, 2.5]]), (6, 8))
    expected = torch.zeros(1, 1, 6, 8)
    expected[..., 1:3, 2:5] = 1  # int(2.7)=2, int(3.9)=3 wide; int(1.2)=1, int(2.5)=2 high
    assert torch.equal(mask, expected)
    clipped = box_mask(torch.tensor([[-2.5, 4.0, 4.0, 9.0]]), (6, 8))
    assert clipped[0, 0, 4:, :2].all() and clipped.sum() == 2 * 2  # x in [-2, 2): clipped at 0


def test_segment_gives_crop_size_logits() -> None:
    with torch.no_grad():
        out = STA().eval().segment(torch.rand(1, 3, 64, 96) * 255, torch.tensor([[30., 20., 30., 20.]]))
    assert out.shape == (1, 1, 64, 96) and torch.isfinite(out).all()


def save_sta_pickle(path, state: dict, kwds: dict) -> None:
    from test_rts_checkpoint import fake_ltr, forget_ltr

    constructor = fake_ltr()(kwds)
    constructor.fun_module, constructor.fun_name = STA_CONSTRUCTOR_MODULE, STA_CONSTRUCTOR_FUNCTION
    try:
        torch.save({"epoch": 80, "net": state, "constructor": constructor}, path)
    finally:
        forget_ltr()


def official_kwds() -> dict:
    kwds = {k: (list(v) if isinstance(v, tuple) else v) for k, v in STA_CONSTRUCTOR_KWARGS.items()}
    return {**kwds, "backbone_pretrained": True, "frozen_backbone_layers": ["conv1", "bn1", "layer1"]}


def test_released_sta_layout_loads_through_the_stand_ins(source: STA, tmp_path) -> None:
    save_sta_pickle(tmp_path / "sta.pth.tar", source.state_dict(), official_kwds())
    loaded = load_sta(tmp_path / "sta.pth.tar")
    assert not loaded.training
    a, b = source.state_dict(), loaded.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a if not k.endswith("num_batches_tracked"))


def test_other_sta_constructor_arguments_are_named(tmp_path) -> None:
    kwds = {**official_kwds(), "label_encoder_dims": [16, 32, 64, 64], "optim_iter": 3}
    save_sta_pickle(tmp_path / "sta.pth.tar", {"a": torch.zeros(1)}, kwds)
    with pytest.raises(MasktrtError) as info:
        read_sta_checkpoint(tmp_path / "sta.pth.tar")
    text = str(info.value)
    assert "other constructor arguments" in text and "\n" not in text
    assert "label_encoder_dims: [16, 32, 64, 64] vs (16, 32, 64, 128)" in text
    assert "optim_iter: 3 vs 5" in text


def test_rts_and_sta_files_are_each_refused_by_the_other_loader(source: STA, tmp_path) -> None:
    torch.save(RTS().state_dict(), tmp_path / "rts50.pth")
    with pytest.raises(MasktrtError, match="is the RTS network") as info:
        load_sta(tmp_path / "rts50.pth")
    assert "sta.pth.tar" in str(info.value)
    torch.save(source.state_dict(), tmp_path / "sta.pth.tar")
    with pytest.raises(MasktrtError, match="STA box-initialisation network"):
        load_checkpoint(tmp_path / "sta.pth.tar")


def test_sta_is_found_beside_the_rts_checkpoint(tmp_path) -> None:
    with pytest.raises(MasktrtError, match="no sta.pth.tar beside") as info:
        sta_path(tmp_path / "rts50.pth")
    assert "\n" not in str(info.value)
    (tmp_path / "sta.pth.tar").write_bytes(b"x")
    assert sta_path(tmp_path / "rts50.pth") == tmp_path / "sta.pth.tar"


def test_rts_carries_sta_outside_its_state_dict(source: STA) -> None:
    model = RTS()
    with pytest.raises(MasktrtError, match="no STA network attached"):
        model.box_init(torch.zeros(1, 3, 64, 96), torch.zeros(1, 4))
    model.with_sta(source.train())
    assert list(model.state_dict()) == list(RTS().state_dict())  # rts50's keys only
    model.eval()
    assert not source.training


@pytest.mark.parametrize("content, words", [(b"not a checkpoint", "checkpoint"),
                                            (None, "does not exist")])
def test_a_wrong_rts_checkpoint_is_named_before_sta_is_looked_for(tmp_path, content, words) -> None:
    """No sta.pth.tar beside it either: the error is about the RTS file itself (issue 29.8)."""
    from masktrt.export.model_source import load_tracker_model

    path = tmp_path / "rts50.pth"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(MasktrtError) as info:
        load_tracker_model("rts", path)
    assert words in str(info.value) and "sta.pth.tar" not in str(info.value), str(info.value)
