"""Loading SiamMask checkpoints in every form they come in, with one-line errors.

Accepted: a flat state dict, a `{"state_dict": ...}` / `{"model": ...}` wrapper (official
training snapshots), a `module.` prefix (DataParallel), pysot's `siammask_r50_l3` names
(spec §9), and `.safetensors` files (the FP16 demo checkpoint; cast to the model's dtype).
Pickles are always read with `weights_only=True`: a checkpoint is data, never code.
Missing `num_batches_tracked` buffers are tolerated (PyTorch 0.4.0-era files lack them and
they do not affect inference); everything else must match, reported in one error.
"""
from __future__ import annotations

import pickle
import re
from collections.abc import Mapping
from pathlib import Path

import torch

from masktrt.errors import MasktrtError
from masktrt.export.models import SiamMask
from masktrt.export.models.siammask.channels import SiamMaskSpec
from masktrt.provenance import sha256_file

# pysot prefix -> official prefix (spec §9); a bijective renaming, all shapes equal.
PYSOT_PREFIXES = (("backbone.", "features.features."), ("neck.downsample.", "features.downsample."),
                  ("rpn_head.", "rpn_model."), ("mask_head.", "mask_model.mask."),
                  ("refine_head.", "refine_model."))
OFFICIAL_PREFIXES = ("features.features.", "features.downsample.", "rpn_model.", "mask_model.",
                     "refine_model.")
WRAPPER_KEYS = ("state_dict", "model")
WIDTH_KEY = "features.features.conv1.weight"  # its output channels = 64 * width
SHOWN = 3  # how many names of each kind an error lists
SAFETENSORS_FIX = "re-export it with masktrt (save_checkpoint) or re-download it"
PICKLE_FIX = "check the path, or re-download the checkpoint"


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:160]}" if text else type(exc).__name__


def is_safetensors(path: Path) -> bool:
    """By suffix, or by content: an 8-byte header length followed by a JSON object."""
    if path.suffix == ".safetensors":
        return True
    with path.open("rb") as f:
        head = f.read(9)
    return len(head) == 9 and head[8:9] == b"{"


def read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    try:
        return load_file(str(path), device="cpu")
    except Exception as exc:
        raise MasktrtError(f"checkpoint '{path}' is not a readable safetensors file ({first_line(exc)})",
                           SAFETENSORS_FIX) from exc


def read_pickle(path: Path) -> object:
    """torch.load with weights_only=True; refusals and corruption become one-line errors."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        refused = re.search(r"GLOBAL (\S+) was not an allowed global", str(exc))
        if refused:
            raise MasktrtError(
                f"checkpoint '{path}' holds a Python object ({refused.group(1)}), not just tensors; "
                "masktrt does not unpickle code (torch.load weights_only=True)",
                "re-save just the weights: torch.save(model.state_dict(), path)") from exc
        # torch's own text here is a paragraph about the weights_only default: not the problem
        raise MasktrtError(f"checkpoint '{path}' is corrupt or not a PyTorch file "
                           f"({type(exc).__name__})", PICKLE_FIX) from exc
    except Exception as exc:
        raise MasktrtError(f"checkpoint '{path}' is corrupt or not a PyTorch file ({first_line(exc)})",
                           PICKLE_FIX) from exc


def unwrap(obj: object, path: Path) -> dict[str, torch.Tensor]:
    """The tensor mapping inside a loaded file (flat, or under 'state_dict' / 'model')."""
    if not isinstance(obj, Mapping):
        raise MasktrtError(f"checkpoint '{path}' holds a {type(obj).__name__}, not a state dict",
                           "pass a file saved with torch.save(model.state_dict(), path)")
    for key in WRAPPER_KEYS:
        if isinstance(obj.get(key), Mapping):
            obj = obj[key]
            break
    tensors = {str(k): v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        keys = ", ".join(repr(k) for k in list(obj)[:SHOWN]) or "none"
        raise MasktrtError(f"checkpoint '{path}' contains no tensors (top-level keys: {keys})",
                           "pass a state dict, or a dict with the weights under 'state_dict'")
    return tensors


def official_name(key: str) -> str:
    """Strip DataParallel's `module.` and map pysot names to the official ones."""
    key = key.removeprefix("module.")
    for pysot, official in PYSOT_PREFIXES:
        if key.startswith(pysot):
            return official + key[len(pysot):]
    return key


def normalise(state: Mapping[str, torch.Tensor], path: Path) -> dict[str, torch.Tensor]:
    """Official names; a file with none of them is another architecture, said in one line."""
    renamed = {official_name(k): v for k, v in state.items()}
    if not any(k.startswith(OFFICIAL_PREFIXES) for k in renamed):
        sample = ", ".join(repr(k) for k in list(state)[:SHOWN])
        raise MasktrtError(
            f"checkpoint '{path}' is not a SiamMask checkpoint: none of its {len(state)} keys has "
            f"official or pysot SiamMask names (e.g. {sample})",
            "pass a SiamMask sharp checkpoint (official SiamMask_*.pth or pysot siammask_r50_l3 model.pth)")
    return renamed


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Any accepted checkpoint file -> a state dict with the official key names."""
    path = Path(path)
    if not path.is_file():
        raise MasktrtError(f"checkpoint '{path}' does not exist",
                           "pass the path of a .pth/.pt/.safetensors file")
    raw = read_safetensors(path) if is_safetensors(path) else unwrap(read_pickle(path), path)
    return normalise(raw, path)


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
    """
    if WIDTH_KEY not in state:
        return None
    official = fingerprint(SiamMaskSpec())
    found = {k: state[k].shape[0] for k in official if k in state and state[k].dim() > 0}
    candidates = [found[k] / official[k] for k in found]
    for width in candidates:
        if all(fingerprint(SiamMaskSpec(width))[k] == c for k, c in found.items()):
            return width
    return candidates[0]


def names(keys: list[str]) -> str:
    shown = ", ".join(keys[:SHOWN])
    return f"{len(keys)} ({shown}{', ...' if len(keys) > SHOWN else ''})"


def mismatch_report(model: SiamMask, state: Mapping[str, torch.Tensor], strict: bool) -> str | None:
    """One line listing missing, unexpected and mis-shaped keys, or None when they fit."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in expected]
    misshaped = [f"{k} {list(state[k].shape)} vs {list(expected[k].shape)}"
                 for k in expected if k in state and state[k].shape != expected[k].shape]
    parts = [f"{label} {names(keys)}" for label, keys in
             (("missing", missing if strict else []), ("unexpected", unexpected if strict else []),
              ("mis-shaped", misshaped)) if keys]
    if not parts:
        return None
    width = checkpoint_width(state)
    if width is not None and width != model.spec.width:
        parts.insert(0, f"checkpoint width {width:g} but model width {model.spec.width:g}")
    return "; ".join(parts)


def apply_state_dict(model: SiamMask, state: Mapping[str, torch.Tensor], strict: bool = True,
                     source: str = "state dict") -> SiamMask:
    """Copy `state` into `model`, casting floats to the model's dtype (FP16 files -> FP32)."""
    report = mismatch_report(model, state, strict)
    if report:
        raise MasktrtError(f"{source} does not fit SiamMask: {report}",
                           "pass a SiamMask sharp checkpoint of matching width "
                           "(strict=False ignores missing/unexpected keys)")
    expected = model.state_dict()
    cast = {k: v.to(expected[k].dtype) for k, v in state.items() if k in expected}
    model.load_state_dict(cast, strict=False)
    return model


def load_checkpoint(path: str | Path, model: SiamMask | None = None, strict: bool = True) -> SiamMask:
    """Read `path` into `model` (built at the checkpoint's detected width if None), in eval()."""
    state = read_state_dict(path)
    if model is None:
        model = SiamMask(width=checkpoint_width(state) or 1.0)
    return apply_state_dict(model, state, strict, source=f"checkpoint '{path}'").eval()


def save_checkpoint(model: SiamMask, path: str | Path, fp16: bool = False) -> Path:
    """Safetensors file of the official-named state dict (floats optionally FP16)."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: (v.half() if fp16 and v.is_floating_point() else v).detach().contiguous().cpu()
             for k, v in model.state_dict().items()}
    save_file(state, str(path), metadata={"format": "pt", "architecture": "siammask_sharp",
                                          "width": repr(model.spec.width)})
    return path


def checkpoint_sha256(path: str | Path) -> str:
    """Hex SHA-256 of the file, recorded in deploy.json to tie engines to their weights."""
    return sha256_file(path)
