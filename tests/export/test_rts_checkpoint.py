"""RTS checkpoint loading: pytracking's pickled dict through the restricted unpickler, plain
formats, constructor checks, and one-line refusals (a malicious pickle runs nothing)."""
from __future__ import annotations

import os
import sys
import types

import pytest
import torch
from masktrt.trackers.rts.export import RTS
from masktrt.trackers.rts.export.checkpoint import load_checkpoint, read_checkpoint

from masktrt.errors import MasktrtError
from masktrt.trackers.rts.spec import (
    CONSTRUCTOR_FUNCTION,
    CONSTRUCTOR_KWARGS,
    CONSTRUCTOR_MODULE,
)

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def source() -> RTS:
    """A seeded model with non-default BN buffers, so a skipped buffer would be noticed."""
    torch.manual_seed(7)
    model = RTS()
    with torch.no_grad():
        for buf in model.buffers():
            if buf.is_floating_point():
                buf.uniform_(0.5, 1.5)
        model.target_model.reg.fill_(0.37)
    return model


def fake_ltr() -> type:
    """Install a throwaway `ltr.admin.model_constructor` so torch.save pickles its name."""
    module = types.ModuleType("ltr.admin.model_constructor")

    class NetConstructor:
        def __init__(self, kwds: dict) -> None:
            self.fun_name, self.fun_module = CONSTRUCTOR_FUNCTION, CONSTRUCTOR_MODULE
            self.args, self.kwds = (), kwds

        def get(self):  # the real one builds the network: a stand-in must never have it
            raise AssertionError("never called")

    NetConstructor.__module__, NetConstructor.__qualname__ = module.__name__, "NetConstructor"
    module.NetConstructor = NetConstructor
    sys.modules.update({"ltr": types.ModuleType("ltr"), "ltr.admin": types.ModuleType("ltr.admin"),
                        module.__name__: module})
    return NetConstructor


def forget_ltr() -> None:
    for name in ("ltr.admin.model_constructor", "ltr.admin", "ltr"):
        sys.modules.pop(name, None)


def save_pytracking(path, state: dict, kwds: dict, extra: object = None) -> None:
    """The released layout (base_trainer.save_checkpoint), with the optimizer/stats stripped."""
    constructor = fake_ltr()({**kwds, "optim_iter": 5, "backbone_pretrained": True,
                              "frozen_backbone_layers": ["conv1", "bn1", "layer1"]})
    try:
        torch.save({"epoch": 150, "actor_type": "RTSActor", "net_type": "RTSNet", "net": state,
                    "net_info": None, "constructor": constructor, "extra": extra}, path)
    finally:
        forget_ltr()


def assert_same_weights(a: RTS, b: RTS) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    assert all(torch.equal(sa[k], sb[k]) for k in sa if not k.endswith("num_batches_tracked"))


def official_kwds() -> dict:
    kwds = {k: (list(v) if isinstance(v, tuple) else v) for k, v in CONSTRUCTOR_KWARGS.items()}
    kwds["clf_filter_size"] = 3  # the training script's value; the parameter file overrides it
    del kwds["fusion_type"]  # not saved at training time (a load override)
    return kwds


def test_released_layout_loads_through_the_stand_ins(source: RTS, tmp_path) -> None:
    path = tmp_path / "rts50.pth"
    save_pytracking(path, source.state_dict(), official_kwds())
    assert "ltr" not in sys.modules
    loaded = load_checkpoint(path)
    assert not loaded.training and float(loaded.target_model.reg.detach()) == pytest.approx(0.37)
    assert_same_weights(source, loaded)
    assert "ltr" not in sys.modules  # nothing was imported to read it


@pytest.mark.parametrize("layout", ("flat", "state_dict", "module"))
def test_plain_layouts_load(source: RTS, tmp_path, layout: str) -> None:
    state = source.state_dict()
    obj = {"module." + k: v for k, v in state.items()} if layout == "module" else state
    torch.save({"state_dict": obj} if layout == "state_dict" else obj, tmp_path / "w.pth")
    target = RTS()
    assert load_checkpoint(tmp_path / "w.pth", target) is target
    assert_same_weights(source, target)


def test_safetensors_loads(source: RTS, tmp_path) -> None:
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in source.state_dict().items()},
              str(tmp_path / "w.safetensors"))
    assert_same_weights(source, load_checkpoint(tmp_path / "w.safetensors"))


def test_other_constructor_arguments_are_named(source: RTS, tmp_path) -> None:
    kwds = {**official_kwds(), "clf_hinge_threshold": 0.5, "num_filters": 8}
    save_pytracking(tmp_path / "other.pth", {"a": torch.zeros(1)}, kwds)
    with pytest.raises(MasktrtError) as info:
        read_checkpoint(tmp_path / "other.pth")
    text = str(info.value)
    assert "other constructor arguments" in text and "\n" not in text
    assert "clf_hinge_threshold: 0.5 vs 0.05" in text and "num_filters: 8 vs 16" in text


class Payload:
    """Unpickling this would run a shell command (the classic malicious pickle)."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_malicious_pickle_runs_nothing(source: RTS, tmp_path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    save_pytracking(path, {"x": torch.zeros(1)}, official_kwds(), extra=Payload(str(marker)))
    with pytest.raises(MasktrtError, match=r"holds a Python object.*weights_only=True") as info:
        load_checkpoint(path)
    assert "\n" not in str(info.value) and not marker.exists()


def test_unlisted_ltr_class_is_refused(tmp_path) -> None:
    module = types.ModuleType("ltr.admin.loading")

    class Loader:
        pass

    Loader.__module__, Loader.__qualname__ = module.__name__, "Loader"
    module.Loader = Loader
    sys.modules.update({"ltr": types.ModuleType("ltr"), module.__name__: module})
    try:
        torch.save({"net": {"x": torch.zeros(1)}, "loader": Loader()}, tmp_path / "l.pth")
    finally:
        for name in (module.__name__, "ltr"):
            sys.modules.pop(name, None)
    with pytest.raises(MasktrtError, match="holds a Python object"):
        read_checkpoint(tmp_path / "l.pth")


def test_wrong_and_misshaped_keys_are_one_line(source: RTS, tmp_path) -> None:
    state = dict(source.state_dict())
    del state["decoder.project.conv2.bias"]
    state["classifier.feature_extractor.0.weight"] = torch.zeros(3, 3, 3, 3)
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(MasktrtError) as info:
        load_checkpoint(tmp_path / "bad.pth", RTS())
    text = str(info.value)
    assert "does not fit RTS" in text and "missing 1 (decoder.project.conv2.bias)" in text
    assert "mis-shaped 1 (classifier.feature_extractor.0.weight [3, 3, 3, 3]" in text
    assert "\n" not in text


def test_sta_and_foreign_checkpoints_are_named(tmp_path) -> None:
    torch.save({"target_model_segm.x": torch.zeros(1)}, tmp_path / "sta.pth.tar")
    with pytest.raises(MasktrtError, match="STA box-initialisation network"):
        read_checkpoint(tmp_path / "sta.pth.tar")
    torch.save({"features.features.conv1.weight": torch.zeros(1)}, tmp_path / "siam.pth")
    with pytest.raises(MasktrtError, match="is not an RTS checkpoint"):
        read_checkpoint(tmp_path / "siam.pth")


def test_missing_file_is_one_line(tmp_path) -> None:
    with pytest.raises(MasktrtError, match="does not exist"):
        load_checkpoint(tmp_path / "rts50.pth")


@pytest.mark.parametrize("kwds", [[1, 2], "abc", 5, [("a",)], {"num_filters": torch.zeros(3)}],
                         ids=["list", "string", "int", "short-pairs", "tensor-value"])
def test_crafted_constructor_arguments_are_one_line(tmp_path, kwds) -> None:
    """Issue 29.3: a pickled settings object's values are type-checked; kwds that are not a
    mapping, or a value that cannot be compared (a tensor against a list), name the problem
    instead of a TypeError/ValueError/RuntimeError traceback."""
    constructor = fake_ltr()(kwds)
    try:
        torch.save({"net": {"a": torch.zeros(1)}, "constructor": constructor}, tmp_path / "c.pth")
    finally:
        forget_ltr()
    with pytest.raises(MasktrtError, match="other constructor arguments") as info:
        read_checkpoint(tmp_path / "c.pth")
    assert "\n" not in str(info.value)
