"""Loading SiamMask checkpoints: official and pysot names, width and trunk detection.

pysot's `siammask_r50_l3` names map one-to-one onto the official ones (spec §9); a DataParallel
`module.` prefix is stripped. Missing `num_batches_tracked` buffers are tolerated (PyTorch
0.4.0-era files lack them and they do not affect inference); everything else must match,
reported in one error. File reading and writing is shared (`masktrt.export.checkpoints`).
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch

from masktrt.errors import MasktrtError
from masktrt.export.checkpoints import (LITE0_KEY, checkpoint_backbone, copy_weights, key_report,
                                        read_raw_state_dict, renamed_or_refused, save_state_dict)
from masktrt.trackers.siammask.export.channels import SiamMaskSpec
from masktrt.trackers.siammask.export.network import SiamMask

PYSOT_PREFIXES = (("backbone.", "features.features."), ("neck.downsample.", "features.downsample."),
                  ("rpn_head.", "rpn_model."), ("mask_head.", "mask_model.mask."),
                  ("refine_head.", "refine_model."))
OFFICIAL_PREFIXES = ("features.features.", "features.downsample.", "rpn_model.", "mask_model.",
                     "refine_model.")
WIDTH_KEY = "features.features.conv1.weight"  # its output channels = 64 * width


def official_name(key: str) -> str:
    """Strip DataParallel's `module.` and map pysot names to the official ones."""
    key = key.removeprefix("module.")
    for pysot, official in PYSOT_PREFIXES:
        if key.startswith(pysot):
            return official + key[len(pysot):]
    return key


def normalise(state: Mapping[str, torch.Tensor], path: Path) -> dict[str, torch.Tensor]:
    """Official names; a file with none of them is another architecture, said in one line."""
    return renamed_or_refused(
        state, path, official_name, OFFICIAL_PREFIXES, "a SiamMask checkpoint (official or pysot names)",
        "pass a SiamMask sharp checkpoint (official SiamMask_*.pth or pysot siammask_r50_l3 model.pth)")


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Any accepted checkpoint file -> a state dict with the official key names."""
    return normalise(read_raw_state_dict(path), Path(path))


# spec field -> the keys whose output channels carry it (the width's fingerprint)
WIDTH_FINGERPRINT = {
    "stem": (WIDTH_KEY,),
    "planes": tuple(f"features.features.layer{i}.0.conv1.weight" for i in (1, 2, 3)),
    "adjust": ("features.downsample.downsample.0.weight",),
    "hidden": ("rpn_model.cls.conv_kernel.0.weight",),
    "refine_mid": tuple(f"refine_model.v{i}.0.weight" for i in (0, 1, 2)),
    "refine_out": tuple(f"refine_model.v{i}.2.weight" for i in (0, 1, 2)),
}


def fingerprint(spec: SiamMaskSpec) -> dict[str, int]:
    counts = {}
    for field, keys in WIDTH_FINGERPRINT.items():
        values = getattr(spec, field)
        values = values if isinstance(values, tuple) else (values,)
        counts.update(zip(keys, values))
    return counts


def checkpoint_width(state: Mapping[str, torch.Tensor]) -> float | None:
    """The width multiplier a state dict was built with, None without a stem conv.

    Channel counts are rounded, so stem/64 alone can miss (width 0.3: 19/64 builds 76 adjust
    channels, not 77); candidates from several layers are tried until one rebuilds them all.
    A Lite0 trunk does not scale, so there only the head and Refine layers vote.
    """
    if WIDTH_KEY not in state and LITE0_KEY not in state:
        return None
    official = fingerprint(SiamMaskSpec())
    found = {k: state[k].shape[0] for k in official if k in state and state[k].dim() > 0}
    candidates = [found[k] / official[k] for k in found]
    for width in candidates:
        if all(fingerprint(SiamMaskSpec(width))[k] == c for k, c in found.items()):
            return width
    return candidates[0] if candidates else None


def mismatch_report(model: SiamMask, state: Mapping[str, torch.Tensor], strict: bool) -> str | None:
    """One line listing missing, unexpected and mis-shaped keys, or None when they fit."""
    parts = key_report(model.state_dict(), state, strict)
    if not parts:
        return None
    width = checkpoint_width(state)
    if width is not None and width != model.spec.width:
        parts.insert(0, f"checkpoint width {width:g} but model width {model.spec.width:g}")
    backbone = checkpoint_backbone(state)
    if backbone != model.spec.backbone:
        parts.insert(0, f"checkpoint backbone {backbone} but model backbone {model.spec.backbone}")
    return "; ".join(parts)


def apply_state_dict(model: SiamMask, state: Mapping[str, torch.Tensor], strict: bool = True,
                     source: str = "state dict") -> SiamMask:
    """Copy `state` into `model`, casting floats to the model's dtype (FP16 files -> FP32)."""
    report = mismatch_report(model, state, strict)
    if report:
        raise MasktrtError(f"{source} does not fit SiamMask: {report}",
                           "pass a SiamMask sharp checkpoint of matching width "
                           "(strict=False ignores missing/unexpected keys)")
    return copy_weights(model, state)


def load_checkpoint(path: str | Path, model: SiamMask | None = None, strict: bool = True) -> SiamMask:
    """Read `path` into `model` (built at the checkpoint's detected width and backbone if None),
    in eval()."""
    state = read_state_dict(path)
    if model is None:
        model = SiamMask(width=checkpoint_width(state) or 1.0, backbone=checkpoint_backbone(state))
    return apply_state_dict(model, state, strict, source=f"checkpoint '{path}'").eval()


def save_checkpoint(model: SiamMask, path: str | Path, fp16: bool = False) -> Path:
    """Safetensors file of the official-named state dict (floats optionally FP16), written
    atomically, with the sha256 of its tensor bytes in the header (checked on loading)."""
    metadata = {"format": "pt", "architecture": "siammask_sharp", "width": repr(model.spec.width),
                "backbone": model.spec.backbone}
    return save_state_dict(model, path, metadata, fp16)
