"""RTS's default model without a checkpoint: seeded random weights with re-estimated BatchNorm.

As for SiamMask (export/random_weights.py): raw 0..255 crops through random weights give
activations that make parity budgets and FP16 checks describe the weights, not the pipeline, so
the weights stay random but every BatchNorm's running statistics (backbone and the decoder's
RRBs) are refitted on real crops (`masktrt.export.batchnorm`), cut at RTS's geometry: the target
centred, the crop side search_area_scale (6) times the target's, with jitter. The decoder is fed
what a converged segmentation filter produces, the label encoding of the target's mask, plus the
encoded Gaussian classifier scores (the learners are too slow to run per BN batch). Crops are
always full size (480x832): the statistics must not depend on the size tests trace at. Cached
as safetensors keyed by everything the result depends on; written atomically.

The STA box-initialisation network (sta.py) gets the same treatment (`random_sta`): seeded
init, then every BatchNorm (its backbone, both decoder passes' RRBs, the box encoders' label
heads) refitted by running its own forward on crops cut at STA's search-area scale 4 around
the target box, one crop per forward (the learners solve per crop). The sign of random logits
is arbitrary, so the final conv's bias is then shifted by the median logit inside the box on
those crops: about half the box becomes the predicted mask, and a box-only start gives RTS a
non-empty mask to learn from (an empty one would only test the lost logic). Cached separately.
"""
from __future__ import annotations

import hashlib
import json
import math
import sys
import time
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from torch import nn

from masktrt.export.batchnorm import fit_batchnorm_statistics
from masktrt.trackers.rts.export.crops import rts_crop
from masktrt.trackers.rts.export.decoder import resize
from masktrt.trackers.rts.export.inputs import clf_label, soft_mask, target_box
from masktrt.trackers.rts.export.network import EFFICIENTNET_LITE0, RESNET50_MRCNN, RTS
from masktrt.trackers.rts.export.sta import STA
from masktrt.export.random_weights import data_source, sequence_boxes, synthetic_frame
from masktrt.paths import cache_dir, shared_data_dir
from masktrt.trackers.rts.spec import CROP_HW, TrackerConfig

CODE_VERSION = 1  # bump whenever the init, the sampling or the re-estimation changes
DEFAULT_CROPS = 16  # ~10 s once on 2 CPU cores at 480x832
STA_CROPS = 4  # two full STA forwards each (~8 s each on 2 CPU cores at 480x832)
STA_CODE_VERSION = 2  # bump whenever STA's init, sampling, re-estimation or bias shift changes
BATCH = 4
SAMPLE_WEIGHT_GAIN = 0.1  # label encoders' weight heads: near 1 but not constant (see below)

Box = tuple[float, float, float, float]  # cx, cy, w, h


# --- initialisation ---------------------------------------------------------------------------

def he_normal(conv: nn.Conv2d, gen: torch.Generator, gain: float = 1.0) -> None:
    """pytracking's init: N(0, sqrt(2 / (k*k*out))); biases uniform(+-1/sqrt(fan_in))."""
    k, out = conv.kernel_size, conv.out_channels
    nn.init.normal_(conv.weight, 0.0, gain * math.sqrt(2.0 / (k[0] * k[1] * out)), generator=gen)
    if conv.bias is not None:
        bound = 1.0 / math.sqrt(conv.weight[0].numel())
        nn.init.uniform_(conv.bias, -bound, bound, generator=gen)


def weight_heads(model: nn.Module) -> set[nn.Module]:
    """Every label encoder's sample-weight head (RTS: 2, STA: 3)."""
    return {m.samp_w_pred for m in model.modules() if hasattr(m, "samp_w_pred")}


def seeded_init(model: RTS | STA, seed: int) -> RTS | STA:
    """Deterministic init. The sample-weight heads start at weight 0 / bias 1 in the release
    (constant weights 1 until trained); here they get small random weights around bias 1 so
    that parity sees a varying weight map."""
    gen = torch.Generator().manual_seed(seed)
    heads = weight_heads(model)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.reset_parameters()
            elif isinstance(module, nn.Conv2d):
                he_normal(module, gen, SAMPLE_WEIGHT_GAIN if module in heads else 1.0)
        for head in heads:
            nn.init.ones_(head.bias)
    return model


def seeded_rts(seed: int, backbone: str = RESNET50_MRCNN) -> RTS:
    """`seeded_init(RTS(backbone))`; the Lite0 trunk then gets its ImageNet weights (its
    adapters and everything after stay seeded)."""
    model = seeded_init(RTS(backbone), seed)
    if backbone == EFFICIENTNET_LITE0:
        from masktrt.export.backbones.imagenet import load_lite0_imagenet

        load_lite0_imagenet(model.feature_extractor.trunk)
    return model


# --- calibration crops --------------------------------------------------------------------------

def real_crops(root: Path, count: int, rng: np.random.Generator,
               area_scale: float | None = None) -> np.ndarray | None:
    """Crops of random frames of the sequences in ../shared/data, in turn."""
    from masktrt.runtime.sequences import load_sequence

    folders = sorted(p for p in root.iterdir() if (p / "groundtruth.txt").is_file())
    seqs = [(s, b) for s, b in ((s, sequence_boxes(s)) for s in map(load_sequence, folders))
            if any(x is not None for x in b)]
    crops: list[np.ndarray] = []
    while seqs and len(crops) < count:
        seq, boxes = seqs[len(crops) % len(seqs)]
        t = int(rng.integers(len(seq)))
        if boxes[t] is not None:
            crops.append(rts_crop(seq.frame(t), boxes[t], rng, area_scale=area_scale))
    return np.concatenate(crops) if crops else None


def synthetic_crops(count: int, rng: np.random.Generator,
                    area_scale: float | None = None) -> np.ndarray:
    """Fallback where ../shared/data is absent: textured frames with an ellipse target."""
    return np.concatenate([rts_crop(*synthetic_frame(rng), rng, area_scale=area_scale)
                           for _ in range(count)])


def calibration_crops(count: int, seed: int, use_shared_data: bool = True,
                      area_scale: float | None = None) -> np.ndarray:
    rng = np.random.default_rng(seed)
    root = shared_data_dir() if use_shared_data else None
    crops = real_crops(root, count, rng, area_scale) if root is not None else None
    return crops if crops is not None else synthetic_crops(count, rng, area_scale)


# --- BatchNorm re-estimation -----------------------------------------------------------------

def decoder_input(model: RTS, batch: int) -> torch.Tensor:
    """What the decoder sees with converged learners: the target mask's label encoding plus the
    encoded Gaussian classifier scores (as `RTS.fuse` adds them)."""
    box = target_box(CROP_HW)
    label = model.encode_label(torch.from_numpy(soft_mask(CROP_HW, box)))[0]
    scores = model.clf_encoder(torch.from_numpy(clf_label(box, CROP_HW)))[0]
    return (label + resize(scores, label.shape[-2:])).expand(batch, -1, -1, -1)


def bn_batches(model: RTS, crops: np.ndarray, batch: int) -> Iterator:
    """One forward per batch: backbone BNs see the crops, the decoder's RRB BNs its input."""
    def forward(x: torch.Tensor) -> torch.Tensor:
        layers = model.features(x)[:4]
        return model.decoder(decoder_input(model, len(x)), layers, tuple(x.shape[-2:]))

    for start in range(0, len(crops), batch):
        yield lambda x=torch.from_numpy(crops[start:start + batch]): forward(x)


def reestimate_batchnorm(model: RTS, crops: np.ndarray, batch: int = BATCH) -> RTS:
    """Every BatchNorm of a seeded ResNet-50 RTS; with the ImageNet Lite0 trunk only the
    decoder's (the trunk's statistics are ImageNet's)."""
    fitted = model.decoder if model.backbone == EFFICIENTNET_LITE0 else model
    fit_batchnorm_statistics(fitted, bn_batches(model.eval(), crops, batch))
    return model.eval()


# --- the cached default model ------------------------------------------------------------------

def cache_path(seed: int, source: str, count: int, network: str = "rts",
               backbone: str = RESNET50_MRCNN) -> Path:
    key = json.dumps({"tracker": "rts", "seed": seed, "width": 1.0, "source": source,
                      "crops": count, "code": CODE_VERSION,
                      **({"network": network, "sta_code": STA_CODE_VERSION}
                         if network != "rts" else {}),
                      **({"backbone": backbone} if backbone != RESNET50_MRCNN else {})},
                     sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return cache_dir("weights") / f"{network}_random_seed{seed}_{digest}.safetensors"


def compute_random_model(seed: int = 0, count: int = DEFAULT_CROPS, use_shared_data: bool = True,
                         backbone: str = RESNET50_MRCNN) -> RTS:
    """Init + BN re-estimation, uncached; prints a one-line note with the time it took."""
    started = time.perf_counter()
    model = seeded_rts(seed, backbone)
    crops = calibration_crops(count, seed, use_shared_data)
    print(f"masktrt: fitting BatchNorm statistics of the random RTS (seed {seed}) on {count} "
          f"crops ...", file=sys.stderr, end="", flush=True)
    reestimate_batchnorm(model, crops)
    print(f" done in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return model


def save_weights(model: RTS | STA, path: Path) -> Path:
    """Safetensors with the tensor bytes' sha256 in its header (checked on loading); atomic."""
    from safetensors.torch import save

    from masktrt.export.checkpoints import CHECKSUM_KEY, safetensors_data
    from masktrt.files import write_bytes

    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    architecture = "sta" if isinstance(model, STA) else "rts50"
    metadata = {"format": "pt", "architecture": architecture, "weights": "random"}
    _, data = safetensors_data(save(state, metadata=metadata))
    metadata[CHECKSUM_KEY] = hashlib.sha256(data).hexdigest()
    return write_bytes(path, save(state, metadata=metadata))


def random_model(seed: int = 0, count: int = DEFAULT_CROPS, use_shared_data: bool = True,
                 cache: bool = True, backbone: str = RESNET50_MRCNN) -> RTS:
    """The default seeded random RTS (eval mode), computed once and then read from the cache.
    `backbone` efficientnet_lite0: the demo weights' starting point (ImageNet trunk)."""
    from masktrt.trackers.rts.export.checkpoint import load_checkpoint

    path = cache_path(seed, data_source(use_shared_data), count, backbone=backbone)
    if cache and path.is_file():
        return load_checkpoint(path, RTS(backbone))
    model = compute_random_model(seed, count, use_shared_data, backbone)
    if cache:
        save_weights(model, path)
    return model.eval()


# --- the STA box-initialisation network ---------------------------------------------------------

def sta_box() -> torch.Tensor:
    """The centred target's box (1x4, crop px) at STA's search-area scale."""
    return torch.from_numpy(target_box(CROP_HW, TrackerConfig().sta_search_area_scale)[None])


def sta_batches(model: STA, crops: np.ndarray) -> Iterator:
    """One STA forward per crop, on the centred target's box."""
    for i in range(len(crops)):
        yield lambda x=torch.from_numpy(crops[i:i + 1]): model.segment(x, sta_box())


def center_box_logits(model: STA, crops: np.ndarray) -> torch.Tensor:
    """Every crop's final logits inside the box, in eval mode."""
    from masktrt.trackers.rts.export.sta import box_mask

    inside = box_mask(sta_box(), CROP_HW)[0, 0] > 0
    with torch.no_grad():
        return torch.cat([model.segment(torch.from_numpy(crops[i:i + 1]), sta_box())[0, 0][inside]
                          for i in range(len(crops))])


def centre_logits(model: STA, crops: np.ndarray) -> STA:
    """Shift the last conv's bias by the median logit inside the box (docstring)."""
    median = center_box_logits(model.eval(), crops).median()
    with torch.no_grad():
        model.decoder.project.conv2.bias -= median
    return model


def compute_random_sta(seed: int = 0, count: int = STA_CROPS, use_shared_data: bool = True) -> STA:
    """Init + BN re-estimation of STA, uncached; prints a one-line note with the time it took."""
    started = time.perf_counter()
    model = seeded_init(STA(), seed)
    area = TrackerConfig().sta_search_area_scale
    crops = calibration_crops(count, seed, use_shared_data, area_scale=area)
    print(f"masktrt: fitting BatchNorm statistics of the random STA (seed {seed}) on {count} "
          f"crops ...", file=sys.stderr, end="", flush=True)
    fit_batchnorm_statistics(model, sta_batches(model, crops))
    centre_logits(model, crops)
    print(f" done in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return model


def random_sta(seed: int = 0, count: int = STA_CROPS, use_shared_data: bool = True,
               cache: bool = True) -> STA:
    """The default seeded random STA (eval mode), computed once and then read from the cache."""
    from masktrt.trackers.rts.export.checkpoint import load_sta

    path = cache_path(seed, data_source(use_shared_data), count, network="sta")
    if cache and path.is_file():
        return load_sta(path)
    model = compute_random_sta(seed, count, use_shared_data)
    if cache:
        save_weights(model, path)
    return model.eval()
