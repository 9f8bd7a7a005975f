"""Reading and writing checkpoint files of any tracker, with one-line errors.

Accepted: a flat state dict, a `{"state_dict": ...}` / `{"model": ...}` wrapper (official
training snapshots), a `module.` prefix (DataParallel; each tracker's renaming strips it), and
`.safetensors` files (the FP16 demo checkpoints; cast to the model's dtype). Pickles are always
read with `weights_only=True`: a checkpoint is data, never code. Written files carry the sha256
of their tensor bytes, checked on loading. Each tracker's key names, width detection and model
building live in its own `trackers/<name>/export/checkpoint.py`.
"""
from __future__ import annotations

import pickle
import re
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path

import torch

from masktrt.errors import MasktrtError
from masktrt.export.backbones import EFFICIENTNET_LITE0, RESNET50
from masktrt.provenance import sha256_file

# pysot prefix -> official prefix (spec §9); a bijective renaming, all shapes equal.
WRAPPER_KEYS = ("state_dict", "model")
LITE0_KEY = "features.features._conv_stem.weight"  # only an EfficientNet-Lite0 trunk has it
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


CHECKSUM_KEY = "masktrt_data_sha256"  # safetensors metadata: sha256 of the tensor bytes


def safetensors_data(blob: bytes) -> tuple[dict, bytes]:
    """(header, tensor bytes) of a safetensors file; ValueError when its framing is broken."""
    import json

    if len(blob) < 8:
        raise ValueError("shorter than its 8-byte header length")
    size = int.from_bytes(blob[:8], "little")
    if size > len(blob) - 8:
        raise ValueError(f"header of {size} bytes in a file of {len(blob)}")
    header = json.loads(blob[8:8 + size])
    if not isinstance(header, dict):
        raise ValueError("header is not a JSON object")
    return header, blob[8 + size:]


def check_safetensors(path: Path, blob: bytes) -> None:
    """Framing (header within the file, the tensors' bytes exactly fill the rest) and, for files
    masktrt wrote, the tensor bytes' sha256 recorded in the header: flipped bytes in the weights
    change no size and would otherwise load silently."""
    import hashlib

    try:
        header, data = safetensors_data(blob)
        ends = [int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"]
        recorded = (header.get("__metadata__") or {}).get(CHECKSUM_KEY)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, UnicodeDecodeError,
            RecursionError) as exc:
        raise MasktrtError(f"checkpoint '{path}' is not a readable safetensors file ({first_line(exc)})",
                           SAFETENSORS_FIX) from exc
    if max(ends, default=0) != len(data):
        raise MasktrtError(f"checkpoint '{path}' is truncated or padded: its tensors take "
                           f"{max(ends, default=0)} bytes, the file holds {len(data)}", SAFETENSORS_FIX)
    if recorded is not None and hashlib.sha256(data).hexdigest() != recorded:
        raise MasktrtError(f"checkpoint '{path}' is corrupt: its tensor bytes do not match the "
                           "sha256 recorded when it was saved", SAFETENSORS_FIX)


def read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load

    blob = path.read_bytes()
    check_safetensors(path, blob)
    try:
        return load(blob)
    except Exception as exc:
        raise MasktrtError(f"checkpoint '{path}' is not a readable safetensors file ({first_line(exc)})",
                           SAFETENSORS_FIX) from exc


def check_zip(path: Path) -> bool:
    """True for a zip checkpoint (torch.save since PyTorch 1.6), after checking every member's
    CRC-32: torch.load does not, so flipped bytes in the weights would load silently."""
    try:
        if not zipfile.is_zipfile(path):  # itself raises on some damaged end records
            return False
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError,
            NotImplementedError, RuntimeError) as exc:
        raise MasktrtError(f"checkpoint '{path}' is a damaged zip archive ({first_line(exc)})",
                           PICKLE_FIX) from exc
    if bad is not None:
        raise MasktrtError(f"checkpoint '{path}' is corrupt: '{bad}' fails its CRC-32 check",
                           PICKLE_FIX)
    return True


def read_pickle(path: Path) -> object:
    """torch.load with weights_only=True; refusals and corruption become one-line errors.

    A zip checkpoint whose CRCs pass and that torch still refuses with UnpicklingError holds
    objects the weights-only unpickler will not build (code, classes): told apart by type, not
    by torch's wording, which changes between versions. A file that is not a zip archive (a
    legacy or plain pickle, or noise) cannot be checked, and its failures say so.
    """
    is_zip = check_zip(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if is_zip:
            raise refused(path, exc) from exc
        raise MasktrtError(f"checkpoint '{path}' is corrupt or not a PyTorch file "
                           f"({type(exc).__name__})", PICKLE_FIX) from exc
    except Exception as exc:
        raise MasktrtError(f"checkpoint '{path}' is corrupt or not a PyTorch file ({first_line(exc)})",
                           PICKLE_FIX) from exc


def refused(path: Path, exc: BaseException) -> MasktrtError:
    """The one-line refusal of a pickle that holds objects; names the object when torch does."""
    named = re.search(r"GLOBAL (\S+)", f"{exc} {exc.__context__ or ''}")
    what = f" ({named.group(1)})" if named else ""
    return MasktrtError(f"checkpoint '{path}' holds a Python object{what}, not just tensors; "
                        "masktrt does not unpickle code (torch.load weights_only=True)",
                        "re-save just the weights: torch.save(model.state_dict(), path)")


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


def renamed_or_refused(state: Mapping[str, torch.Tensor], path: Path, rename: Callable[[str], str],
                       ours: tuple[str, ...], what: str, fix: str) -> dict[str, torch.Tensor]:
    """Keys renamed to the model's names; a file with no key starting with one of `ours` is
    another network, said in one line with a few of its keys (every tracker's loader)."""
    renamed = {rename(k): v for k, v in state.items()}
    if not any(k.startswith(ours) for k in renamed):
        sample = ", ".join(repr(k) for k in list(state)[:SHOWN])
        raise MasktrtError(f"checkpoint '{path}' is not {what}: none of its {len(state)} keys "
                           f"starts with {', '.join(ours)} (e.g. {sample})", fix)
    return renamed


def read_raw_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Any accepted checkpoint file -> its tensors under the file's own names (any tracker)."""
    path = Path(path)
    if not path.is_file():
        raise MasktrtError(f"checkpoint '{path}' does not exist",
                           "pass the path of a .pth/.pt/.safetensors file")
    return read_safetensors(path) if is_safetensors(path) else unwrap(read_pickle(path), path)


def checkpoint_backbone(state: Mapping[str, torch.Tensor]) -> str:
    """The backbone a state dict was built on, told by its trunk's first conv's name."""
    return EFFICIENTNET_LITE0 if LITE0_KEY in state else RESNET50


def names(keys: list[str]) -> str:
    shown = ", ".join(keys[:SHOWN])
    return f"{len(keys)} ({shown}{', ...' if len(keys) > SHOWN else ''})"


def key_report(expected: Mapping[str, torch.Tensor], state: Mapping[str, torch.Tensor],
               strict: bool) -> list[str]:
    """'missing ...', 'unexpected ...', 'mis-shaped ...' parts, empty when `state` fits (any
    tracker; `num_batches_tracked` may be missing: pre-0.4.1 files lack it, inference ignores it)."""
    missing = [k for k in expected if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in expected]
    misshaped = [f"{k} {list(state[k].shape)} vs {list(expected[k].shape)}"
                 for k in expected if k in state and state[k].shape != expected[k].shape]
    return [f"{label} {names(keys)}" for label, keys in
            (("missing", missing if strict else []), ("unexpected", unexpected if strict else []),
             ("mis-shaped", misshaped)) if keys]


def copy_weights(model: torch.nn.Module, state: Mapping[str, torch.Tensor]) -> torch.nn.Module:
    """Load the keys of `state` the model has, cast to the model's dtypes (any tracker)."""
    expected = model.state_dict()
    cast = {k: v.to(expected[k].dtype) for k, v in state.items() if k in expected}
    model.load_state_dict(cast, strict=False)
    return model


def save_state_dict(model: torch.nn.Module, path: str | Path, metadata: dict[str, str],
                    fp16: bool = False) -> Path:
    """Any model's state dict as safetensors with `metadata`, written atomically, with the sha256
    of its tensor bytes in the header (every tracker's files are checked the same way)."""
    return save_tensors(model.state_dict(), path, metadata, fp16)


def save_tensors(tensors: Mapping[str, torch.Tensor], path: str | Path, metadata: dict[str, str],
                 fp16: bool = False) -> Path:
    """`save_state_dict` for any name -> tensor mapping (e.g. a partial state dict)."""
    import hashlib

    from safetensors.torch import save

    from masktrt.files import write_bytes

    state = {k: (v.half() if fp16 and v.is_floating_point() else v).detach().contiguous().cpu()
             for k, v in tensors.items()}
    metadata = dict(metadata)
    _, data = safetensors_data(save(state, metadata=metadata))  # tensor bytes: metadata-independent
    metadata[CHECKSUM_KEY] = hashlib.sha256(data).hexdigest()
    return write_bytes(path, save(state, metadata=metadata))


def checkpoint_sha256(path: str | Path) -> str:
    """Hex SHA-256 of the file, recorded in deploy.json to tie engines to their weights."""
    return sha256_file(path)


def width_from_fingerprint(state: Mapping[str, torch.Tensor],
                           fingerprint_of: Callable[[float], dict[str, int]]) -> float:
    """The width multiplier a state dict was built with, for any tracker's channel table.

    `fingerprint_of(width)` maps keys to their output channels at that width. Channel counts
    are rounded, so each found/official ratio is a candidate and the first that rebuilds every
    found count wins (SiamMask's `checkpoint_width` adds its own checks); 1.0 without any found key.
    """
    official = fingerprint_of(1.0)
    found = {k: state[k].shape[0] for k in official if k in state and state[k].dim() > 0}
    candidates = [found[k] / official[k] for k in found] or [1.0]
    fits = (w for w in candidates if all(fingerprint_of(w)[k] == c for k, c in found.items()))
    return next(fits, candidates[0])
