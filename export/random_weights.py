"""What every tracker's seeded random model is made of: a deterministic init and the crops its
BatchNorm statistics are fitted on.

Plain random init fed raw 0..255 BGR crops gives activations in the thousands, which would make
parity budgets and FP16/INT8 behaviour meaningless. So each tracker's `random_weights` module
(trackers/<name>/export/) initialises its network with `seeded_init` and re-estimates every
BatchNorm's running statistics on the template/search crop pairs cut here by the Siamese crop
rule (real frames from the shared data where present, synthetic ones otherwise). The weights stay
random; only the BN statistics are fitted.
"""
from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import cv2
import numpy as np
import torch
from torch import nn

from masktrt.geometry import EXEMPLAR_SIZE, INSTANCE_SIZE, context_size
from masktrt.paths import shared_data_dir
from masktrt.runtime.crop import crop_subwindow

DEFAULT_PAIRS = 100  # template+search pairs = 200 crops: ~1 min once at full width on 2 CPU cores
BATCH = 16
MAX_FRAME_GAP = 5  # search frame = template frame + 0..5, like a tracker a few frames on
CENTER_JITTER = 0.25  # search centre shift, fraction of the target size (uniform, each axis)
SCALE_JITTER = 0.15  # search size factor exp(uniform(-0.15, 0.15))
SYNTHETIC_HW = (360, 480)

Box = tuple[float, float, float, float]  # cx, cy, w, h


# --- initialisation ---------------------------------------------------------------------------

def default_bias(conv: nn.Module, gen: torch.Generator) -> None:
    """PyTorch's default bias init, uniform(+-1/sqrt(fan_in)), drawn from our generator."""
    if conv.bias is not None:
        bound = 1.0 / math.sqrt(conv.weight[0].numel())
        nn.init.uniform_(conv.bias, -bound, bound, generator=gen)


def seeded_init(model: nn.Module, seed: int, uniform: Iterable[nn.Module] = ()) -> nn.Module:
    """The Siamese trackers' init recipe, every draw from one generator in module order: convs
    N(0, sqrt(2/(k*k*out))) except those in `uniform` (refinement decoders without BatchNorm:
    kaiming-uniform(a=1)), BN 1/0, deconvs PyTorch's default; biases PyTorch's default."""
    gen = torch.Generator().manual_seed(seed)
    refine = set(uniform)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.reset_parameters()
            elif isinstance(module, nn.ConvTranspose2d):
                nn.init.kaiming_uniform_(module.weight, a=math.sqrt(5), generator=gen)
                default_bias(module, gen)
            elif isinstance(module, nn.Conv2d) and module in refine:
                nn.init.kaiming_uniform_(module.weight, a=1, generator=gen)
                default_bias(module, gen)
            elif isinstance(module, nn.Conv2d):
                k, out = module.kernel_size, module.out_channels
                nn.init.normal_(module.weight, 0.0, math.sqrt(2.0 / (k[0] * k[1] * out)), generator=gen)
                default_bias(module, gen)
    return model


# --- calibration crops --------------------------------------------------------------------------

@dataclass(frozen=True)
class Crops:
    """Paired crops, uint8 NCHW (float32 only per batch, to keep memory small)."""

    templates: np.ndarray  # N x 3 x 127 x 127
    searches: np.ndarray  # N x 3 x 255 x 255
    source: str
    # N x 2: the template target's (w, h) in exemplar-crop pixels (centred); for trackers whose
    # template also takes the target's mask (OceanPlus builds a box mask from it)
    target_sizes: np.ndarray | None = None


def exemplar_target_size(box: Box) -> tuple[float, float]:
    """(w, h) of the target in its exemplar crop: the crop side round(s_z) maps to 127."""
    w, h = box[2], box[3]
    scale = EXEMPLAR_SIZE / round(context_size((w, h)))
    return w * scale, h * scale


def crop_pair(template_frame: np.ndarray, template_box: Box, search_frame: np.ndarray,
              search_box: Box, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The tracker's exemplar crop (s_z, spec §3.6) and a jittered search crop (s_x, spec §3.7)."""
    cx, cy, w, h = template_box
    avg = template_frame.mean(axis=(0, 1))
    s = context_size((w, h))
    z = crop_subwindow(template_frame, (cx, cy), EXEMPLAR_SIZE, round(s), avg)
    shift = rng.uniform(-CENTER_JITTER, CENTER_JITTER, 2) * (w, h)
    s_x = s * INSTANCE_SIZE / EXEMPLAR_SIZE * math.exp(rng.uniform(-SCALE_JITTER, SCALE_JITTER))
    center = (search_box[0] + shift[0], search_box[1] + shift[1])
    x = crop_subwindow(search_frame, center, INSTANCE_SIZE, round(s_x), avg)
    return z[0].astype(np.uint8), x[0].astype(np.uint8)


def sequence_boxes(seq) -> list[Box | None]:
    """(cx, cy, w, h) per frame, None where the target is absent (empty mask, NaN)."""
    from masktrt.runtime.sequences import axis_aligned_box

    if seq.polygons is not None:
        boxes = [axis_aligned_box(p) for p in seq.polygons]
    else:
        boxes = [(x + w / 2, y + h / 2, w, h) for x, y, w, h in seq.boxes]
    return [b if all(np.isfinite(b)) and b[2] > 1 and b[3] > 1 else None for b in boxes]


def shared_source(root: Path) -> str:
    """Identity of the data folder for the cache key: its checksum list, else its listing."""
    sums = root / "SHA256SUMS"
    blob = sums.read_bytes() if sums.is_file() else "\n".join(sorted(os.listdir(root))).encode()
    return f"shared:{hashlib.sha256(blob).hexdigest()[:16]}"


def real_crops(root: Path, n_pairs: int, rng: np.random.Generator) -> Crops | None:
    """Pairs from ../shared/data: sequences in turn, random frame t, search frame t+0..5."""
    from masktrt.runtime.sequences import load_sequence

    folders = sorted(p for p in root.iterdir() if (p / "groundtruth.txt").is_file())
    seqs = [(s, sequence_boxes(s)) for s in map(load_sequence, folders)]
    seqs = [(s, b) for s, b in seqs if any(x is not None for x in b)]
    if not seqs:
        return None
    zs, xs, sizes = [], [], []
    while len(zs) < n_pairs:
        seq, boxes = seqs[len(zs) % len(seqs)]
        t = int(rng.integers(len(seq)))
        u = min(len(seq) - 1, t + int(rng.integers(MAX_FRAME_GAP + 1)))
        if boxes[t] is None or boxes[u] is None:
            continue
        z, x = crop_pair(seq.frame(t), boxes[t], seq.frame(u), boxes[u], rng)
        zs.append(z)
        xs.append(x)
        sizes.append(exemplar_target_size(boxes[t]))
    return Crops(np.stack(zs), np.stack(xs), shared_source(root), np.array(sizes))


def synthetic_frame(rng: np.random.Generator) -> tuple[np.ndarray, Box]:
    """A textured background with a few filled shapes; the last ellipse is the target."""
    h, w = SYNTHETIC_HW
    coarse = rng.integers(0, 256, (h // 24 + 1, w // 24 + 1, 3)).astype(np.uint8)
    frame = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    frame = np.clip(frame + rng.normal(0, 12, frame.shape), 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(2, 5))):
        x0, y0 = int(rng.integers(0, w - 40)), int(rng.integers(0, h - 40))
        x1, y1 = x0 + int(rng.integers(20, 120)), y0 + int(rng.integers(20, 120))
        cv2.rectangle(frame, (x0, y0), (x1, y1), rng.integers(0, 256, 3).tolist(), -1)
    bw, bh = float(rng.uniform(30, 140)), float(rng.uniform(30, 140))
    cx, cy = float(rng.uniform(bw / 2, w - bw / 2)), float(rng.uniform(bh / 2, h - bh / 2))
    cv2.ellipse(frame, (int(cx), int(cy)), (int(bw / 2), int(bh / 2)), 0, 0, 360,
                rng.integers(0, 256, 3).tolist(), -1)
    return frame, (cx, cy, bw, bh)


def synthetic_crops(n_pairs: int, rng: np.random.Generator) -> Crops:
    """Fallback where ../shared/data is absent; template and search come from the same frame."""
    pairs, sizes = [], []
    for _ in range(n_pairs):  # frame and crop draws interleaved: the rng order is the model's
        frame, box = synthetic_frame(rng)
        pairs.append(crop_pair(frame, box, frame, box, rng))
        sizes.append(exemplar_target_size(box))
    return Crops(np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs]), "synthetic",
                 np.array(sizes))


def calibration_crops(n_pairs: int, seed: int, use_shared_data: bool = True) -> Crops:
    rng = np.random.default_rng(seed)
    root = shared_data_dir() if use_shared_data else None
    crops = real_crops(root, n_pairs, rng) if root is not None else None
    return crops if crops is not None else synthetic_crops(n_pairs, rng)


def data_source(use_shared_data: bool) -> str:
    root = shared_data_dir() if use_shared_data else None
    return shared_source(root) if root is not None else "synthetic"
