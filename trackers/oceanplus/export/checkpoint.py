"""Loading OceanPlus checkpoints in every form they come in, with one-line errors.

Accepted (spec arn-rts.md §A5 and appendix 4): a flat state dict or a `{"state_dict": ...}`
wrapper (TracKit's training snapshots), keys with or without a leading `module.` and then a
`feature_extractor.` prefix (all four combinations; TracKit's `load_pretrain` strips both, in
that order), and `.safetensors` files. Reading, unwrapping and the key report are the shared
machinery of `masktrt.export.checkpoints` (pickles always with `weights_only=True`); this module
adds OceanPlus's names, its width fingerprint, the backbone (told by the trunk's first conv's
name, as for SiamMask) and the MSS/MMS variant check, so a file written by `save_checkpoint`
(training) rebuilds its own network. Unlike TracKit's non-strict load, every key must fit
unless `strict=False`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

import torch

from masktrt.errors import MasktrtError
from masktrt.export.checkpoints import (checkpoint_backbone, copy_weights, key_report,
                                        read_raw_state_dict, renamed_or_refused, save_state_dict,
                                        width_from_fingerprint)
from masktrt.trackers.oceanplus.export.channels import OceanPlusChannels
from masktrt.trackers.oceanplus.export.network import OceanPlus

PREFIXES = ("module.", "feature_extractor.")  # stripped in this order, each where present
ARN_PREFIX = "mask_model.sequential."  # only an OceanPlus (ARN) checkpoint has these keys
MMS_PREFIX = "mask_model.iter."  # only the multi-stage decoder has stages 2-3
RELEASED = {"mss": "OceanPlusMSS.pth", "mms": "OceanPlusMMS.pth"}
SHOWN = 3


def official_name(key: str) -> str:
    """A checkpoint key as the model names it: `module.` then `feature_extractor.` removed."""
    for prefix in PREFIXES:
        key = key.removeprefix(prefix)
    return key


def normalise(state: Mapping[str, torch.Tensor], path: Path) -> dict[str, torch.Tensor]:
    """Official names; a file without the ARN's keys is another network, said in one line."""
    return renamed_or_refused(state, path, official_name, (ARN_PREFIX,),
                              "an OceanPlus checkpoint (no ARN key)",
                              f"pass TracKit's {RELEASED['mss']} or {RELEASED['mms']}")


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Any accepted checkpoint file -> a state dict with the model's key names."""
    return normalise(read_raw_state_dict(path), Path(path))


def checkpoint_variant(state: Mapping[str, torch.Tensor]) -> str:
    """'mms' when the multi-stage decoder's stages are present, else 'mss'."""
    return "mms" if any(k.startswith(MMS_PREFIX) for k in state) else "mss"


def fingerprint(channels: OceanPlusChannels) -> dict[str, int]:
    """Keys whose output channels reveal the width, with their counts at `channels`."""
    t, first = channels.trunk, channels.stage(0)
    return {"features.features.conv1.weight": t.stem,
            **{f"features.features.layer{i + 1}.0.conv1.weight": c for i, c in enumerate(t.planes)},
            "neck.downsample.0.weight": channels.neck, f"{ARN_PREFIX}s_embed.weight": channels.embed,
            "mask_model.b4.0.weight": first[0], "mask_model.b3.0.weight": first[1],
            "mask_model.b2.0.weight": first[2]}


def checkpoint_width(state: Mapping[str, torch.Tensor]) -> float:
    """The width multiplier a state dict was built with (1.0 for the released files)."""
    return width_from_fingerprint(state, lambda width: fingerprint(OceanPlusChannels(width)))


def check_variant(model: OceanPlus, state: Mapping[str, torch.Tensor], source: str) -> None:
    """MSS weights into an MMS model (or the reverse) is a one-line error naming both."""
    found = checkpoint_variant(state)
    if found != model.variant:
        raise MasktrtError(
            f"{source} is the {found.upper()} variant ({RELEASED[found]}) but the model is "
            f"{model.variant.upper()}",
            f"build OceanPlus(variant='{found}'), or pass {RELEASED[model.variant]}")


def mismatch_report(model: OceanPlus, state: Mapping[str, torch.Tensor], strict: bool) -> str | None:
    """One line listing missing, unexpected and mis-shaped keys (and a width clash), or None."""
    parts = key_report(model.state_dict(), state, strict)
    if not parts:
        return None
    width = checkpoint_width(state)
    if width != model.channels.width:
        parts.insert(0, f"checkpoint width {width:g} but model width {model.channels.width:g}")
    backbone = checkpoint_backbone(state)
    if backbone != model.channels.backbone:
        parts.insert(0, f"checkpoint backbone {backbone} but model backbone {model.channels.backbone}")
    return "; ".join(parts)


def apply_state_dict(model: OceanPlus, state: Mapping[str, torch.Tensor], strict: bool = True,
                     source: str = "state dict") -> OceanPlus:
    """Copy `state` into `model` (floats cast to its dtype) after the variant and key checks."""
    check_variant(model, state, source)
    report = mismatch_report(model, state, strict)
    if report:
        raise MasktrtError(f"{source} does not fit OceanPlus ({model.variant.upper()}): {report}",
                           "pass an OceanPlus checkpoint of matching variant and width "
                           "(strict=False ignores missing/unexpected keys)")
    return copy_weights(model, state)


def load_checkpoint(path: str | Path, model: OceanPlus | None = None,
                    strict: bool = True) -> OceanPlus:
    """Read `path` into `model` (built at the file's variant, width and backbone if None), in
    eval()."""
    state = read_state_dict(path)
    if model is None:
        model = OceanPlus(checkpoint_variant(state), checkpoint_width(state),
                          checkpoint_backbone(state))
    return apply_state_dict(model, state, strict, source=f"checkpoint '{path}'").eval()


def save_checkpoint(model: OceanPlus, path: str | Path, fp16: bool = False) -> Path:
    """Safetensors of the model's state dict (floats optionally FP16), written atomically with
    its checksum; the metadata repeats variant, width and backbone for readers of the header
    (loading detects all three from the keys and shapes)."""
    metadata = {"format": "pt", "architecture": "oceanplus", "variant": model.variant,
                "width": repr(model.channels.width), "backbone": model.channels.backbone}
    return save_state_dict(model, path, metadata, fp16)
