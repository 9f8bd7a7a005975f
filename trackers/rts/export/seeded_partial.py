"""RTS checkpoints that hold only what training changed; the rest is regenerated from a seed.

Why: the RTS demo model (trackers/rts/training/train.py) trains the classifier's features and initializer
and the decoder's last level on top of a seeded network whose backbone is the ImageNet
EfficientNet-Lite0 trunk (`lite_features.py`). The whole network is 24 M parameters (48 MB in
FP16), over the 20 MB a shipped file may weigh, but its frozen part is a pure function of the
seed and the trunk's registry package: `seeded(seed, backbone)`. So the file keeps the trained
tensors, every BatchNorm tensor (the decoder's statistics were refitted on real crops, which a
seed alone does not reproduce) and lambda_seg; the loader regenerates the rest and checks the
sha256 of what it regenerated against the one recorded at training time, so a PyTorch whose
random generator differs, or other ImageNet weights, fail in one line instead of loading other
weights silently.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path

import torch
from torch import nn

from masktrt.errors import MasktrtError
from masktrt.trackers.rts.export.network import BACKBONES, RESNET50_MRCNN, RTS

KIND = "seeded-partial"  # safetensors metadata `weights` of such a file
SEED_KEY, BASE_KEY, TRAINED_KEY, BACKBONE_KEY = "seed", "base_sha256", "trained", "backbone"
SEG_REG_KEY = "target_model.filter_optimizer.residual_module.filter_reg"


def batchnorm_keys(model: nn.Module) -> set[str]:
    """Every BatchNorm tensor's state-dict key (affine parameters and running statistics)."""
    return {f"{name}.{key}" for name, module in model.named_modules()
            if isinstance(module, nn.BatchNorm2d) for key in module.state_dict()}


def kept_keys(model: RTS, trained: Iterable[str]) -> set[str]:
    """Keys the file holds: those under a `trained` prefix, BatchNorm tensors and lambda_seg."""
    prefixes = tuple(trained)
    return {k for k in model.state_dict() if k.startswith(prefixes)} | batchnorm_keys(model) | {SEG_REG_KEY}


def base_digest(state: Mapping[str, torch.Tensor], keys: Iterable[str]) -> str:
    """sha256 over the regenerated tensors' names and float32 bytes, in key order."""
    digest = hashlib.sha256()
    for key in sorted(keys):
        digest.update(key.encode())
        digest.update(state[key].detach().float().contiguous().numpy().tobytes())
    return digest.hexdigest()


def save_partial(model: RTS, path: str | Path, seed: int, trained: Iterable[str],
                 fp16: bool = True, metadata: Mapping[str, str] | None = None) -> Path:
    """The kept tensors of `model` (whose other tensors must be `seeded_init(RTS(), seed)`'s)."""
    from masktrt.export.checkpoints import save_tensors

    trained = tuple(trained)
    state = model.state_dict()
    kept = kept_keys(model, trained)
    base = base_digest(state, set(state) - kept)
    if base != base_digest(seeded(seed, model.backbone).state_dict(), set(state) - kept):
        raise MasktrtError("the model's untrained tensors are not the seeded ones",
                           f"train from seeded_init(RTS(), {seed}) and keep {trained} trainable only")
    info = {"format": "pt", "architecture": "rts50", "weights": KIND, SEED_KEY: str(seed),
            BACKBONE_KEY: model.backbone, BASE_KEY: base, TRAINED_KEY: ",".join(trained),
            **(metadata or {})}
    return save_tensors({k: state[k] for k in sorted(kept)}, path, info, fp16)


def seeded(seed: int, backbone: str = RESNET50_MRCNN) -> RTS:
    """What the file's untrained tensors are: the seeded network (with the Lite0 trunk's
    ImageNet weights from its package for that backbone)."""
    from masktrt.trackers.rts.export.random_weights import seeded_rts

    return seeded_rts(seed, backbone)


def read_metadata(path: Path) -> dict[str, str]:
    """The safetensors header's metadata ({} for other files)."""
    from masktrt.export.checkpoints import is_safetensors, safetensors_data

    if not path.is_file() or not is_safetensors(path):
        return {}
    try:
        header, _ = safetensors_data(path.read_bytes())
    except ValueError:
        return {}  # the regular loader names the damage
    metadata = header.get("__metadata__") if isinstance(header, dict) else None
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        return {}  # safetensors metadata is str -> str; anything else is no partial file
    return dict(metadata)


def is_partial(path: str | Path) -> bool:
    return read_metadata(Path(path)).get("weights") == KIND


MAX_SEED = 2 ** 63 - 1  # what torch.Generator.manual_seed takes


def partial_header(path: Path) -> tuple[int, str, tuple[str, ...], str]:
    """(seed, backbone, trained prefixes, base digest) from the header, each value checked: the
    tensors' checksum does not cover the header, so a crafted value must end here in one line."""
    info = read_metadata(path)

    def bad(key: str) -> MasktrtError:
        return MasktrtError(f"checkpoint '{path}' has a damaged header: '{key}' is "
                            f"{info.get(key)!r}", "the file was edited: restore it from git")

    seed_text = info.get(SEED_KEY, "")
    if not seed_text.isdigit() or int(seed_text) > MAX_SEED:
        raise bad(SEED_KEY)
    backbone = info.get(BACKBONE_KEY, RESNET50_MRCNN)
    if backbone not in BACKBONES:
        raise bad(BACKBONE_KEY)
    trained = tuple(info.get(TRAINED_KEY, "").split(","))
    if not all(trained):
        raise bad(TRAINED_KEY)
    base = info.get(BASE_KEY, "")
    if len(base) != 64 or any(c not in "0123456789abcdef" for c in base):
        raise bad(BASE_KEY)
    return int(seed_text), backbone, trained, base


def load_partial(path: str | Path) -> RTS:
    """Regenerate the seeded tensors, check their digest, then copy the file's tensors (eval)."""
    from masktrt.export.checkpoints import read_safetensors
    from masktrt.trackers.rts.export.checkpoint import apply_state_dict

    path = Path(path)
    seed, backbone, trained, base = partial_header(path)
    model = seeded(seed, backbone)
    state = model.state_dict()
    kept = kept_keys(model, trained)
    if base_digest(state, set(state) - kept) != base:
        raise MasktrtError(f"checkpoint '{path}' needs the seeded RTS tensors of seed "
                           f"{seed}, and this PyTorch ({torch.__version__}) generates "
                           "others", "load it with the PyTorch its model card names")
    stored = read_safetensors(path)
    if set(stored) != kept:
        raise MasktrtError(f"checkpoint '{path}' does not hold the tensors its header lists",
                           "the file is damaged or was edited: restore it from git")
    return apply_state_dict(model, {**state, **stored}, source=f"checkpoint '{path}'").eval()
