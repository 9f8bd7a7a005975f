"""RTS (pytracking `RTSNet` as `steepest_descent_resnet50_with_clf_encoder`), spec §B1-B2, §B6.

The module tree reproduces the checkpoint's names (`target_model`, `label_encoder`,
`clf_encoder`, `classifier`, `feature_extractor`, `decoder`), so `state_dict()` equals the
rts50 manifest key for key. Nothing is cached on the model: filters and memories are the
tracker's state, passed in and returned. The entry points are split along what the
deployment runs, and how often (each is one graph of `masktrt.trackers.rts.spec`):

* `features(im)`            every frame: backbone + both learners' features (one pass; the
                            pixel mean is subtracted inside so every crop stays BGR 0..255);
* `clf_init_features(im5)`  once: the 5 augmented crops' clf features and the initializer's
                            conv output; PrRoIPool is left to the host (`clf_init_filter` here
                            is the reference), because no ONNX op exists for it;
* `head(...)`               every frame: both filters applied, scores encoded and fused, decoded;
                            the filters are inputs because they change after every update;
* `encode_label(mask)`      once per memory insert: a pure function of the mask, so the tracker
                            caches (label, weight) per slot instead of re-encoding 32 masks per
                            update as the release does;
* `seg_learn` / `clf_learn` init and updates: a fixed number of closed-form GN steps, a pure
                            function of (filter, memory). `seg_step` / `clf_step` are one step,
                            for a runtime that prefers looping one graph.
* `box_init(im, box)`       once, for a box-only start: the STA network (sta.py) predicts the
                            first-frame mask. STA is a separate checkpoint (`sta.pth.tar`), so it
                            is attached (`with_sta`) outside the module tree: `state_dict()`
                            stays rts50's, and each network loads from its own file.
Learning is split from the head because it runs on a schedule (every frame before frame 100,
then every 20th) while the head runs every frame, and its memory inputs are 100+ MB.
"""
from __future__ import annotations

import torch
from masktrt.export.backbones.resnet_mrcnn import ResNet50Mrcnn
from masktrt.trackers.rts.export import steepest_descent as sd
from masktrt.trackers.rts.export.decoder import Decoder, resize
from masktrt.trackers.rts.export.label_encoder import LabelEncoder
from masktrt.trackers.rts.export.learners import Classifier, SegLearner
from masktrt.trackers.rts.export.lite_features import Lite0Features
from torch import nn

from masktrt.errors import MasktrtError
from masktrt.trackers.rts.spec import CLF_REG, PIXEL_MEAN_BGR, SEG_STRIDE

Features = tuple[torch.Tensor, ...]  # l1, l2, l3, l4, seg_x, clf_x
RESNET50_MRCNN = "resnet50_mrcnn"  # the release's
EFFICIENTNET_LITE0 = "efficientnet_lite0"  # the demo weights' (lite_features.py)
BACKBONES = (RESNET50_MRCNN, EFFICIENTNET_LITE0)


def check_backbone(name: str) -> str:
    if name not in BACKBONES:
        raise MasktrtError(f"RTS has no backbone '{name}'", f"choose one of {', '.join(BACKBONES)}")
    return name


class RTS(nn.Module):
    """The released rts50 network with pure inference entry points."""

    def __init__(self, backbone: str = RESNET50_MRCNN) -> None:
        super().__init__()
        self.backbone = check_backbone(backbone)
        self.target_model = SegLearner()
        self.label_encoder = LabelEncoder(downsample=True)
        self.clf_encoder = LabelEncoder(downsample=False)
        self.classifier = Classifier()
        self.feature_extractor = ResNet50Mrcnn() if backbone == RESNET50_MRCNN else Lite0Features()
        self.decoder = Decoder()
        mean = torch.tensor(PIXEL_MEAN_BGR).reshape(1, 3, 1, 1)
        self.register_buffer("pixel_mean", mean, persistent=False)  # a constant, not a weight

    # -- the attached STA network (not a submodule: its weights are another checkpoint's) -------
    @property
    def sta(self) -> nn.Module:
        sta = self.__dict__.get("_sta")
        if sta is None:
            raise MasktrtError("this RTS model has no STA network attached (box-only init)",
                               "load sta.pth.tar (trackers.rts.export.checkpoint.load_sta) and "
                               "call model.with_sta(sta)")
        return sta

    def with_sta(self, sta: nn.Module) -> "RTS":
        """Attach STA in this model's mode; train()/eval()/to() then follow to it."""
        self.__dict__["_sta"] = sta.train(self.training)
        return self

    def train(self, mode: bool = True) -> "RTS":
        super().train(mode)
        if self.__dict__.get("_sta") is not None:
            self.__dict__["_sta"].train(mode)
        return self

    def _apply(self, fn, *args, **kwargs):  # .to(), .float(), .half() reach STA too
        if self.__dict__.get("_sta") is not None:
            self.__dict__["_sta"]._apply(fn, *args, **kwargs)
        return super()._apply(fn, *args, **kwargs)

    # -- per frame -----------------------------------------------------------------------------
    def features(self, im: torch.Tensor) -> Features:
        """im Bx3x480x832 BGR 0..255 -> (l1, l2, l3, l4, seg_x Bx512x30x52, clf_x Bx512x15x26)."""
        mean_free = im - self.pixel_mean.to(im.dtype) if self.backbone == RESNET50_MRCNN else im
        layers = self.feature_extractor(mean_free)  # Lite0 normalises inside
        l3 = layers[2]
        seg_x = self.target_model.feature_extractor(l3)
        return (*layers, seg_x, self.classifier.feature_extractor(l3))

    def classify(self, clf_x: torch.Tensor, clf_filter: torch.Tensor,
                 ops: sd.Filtering = sd.CONV) -> torch.Tensor:
        """clf scores 1x1x16x27 (raw: the hinge activation only shapes the learner's loss)."""
        return ops.apply(clf_x, clf_filter)

    def fuse(self, seg_x: torch.Tensor, seg_filter: torch.Tensor, clf_scores: torch.Tensor,
             ops: sd.Filtering = sd.CONV) -> torch.Tensor:
        """Mask encoding 1x16x30x52 plus the encoded clf scores resized to it (LearnersFusion add)."""
        encoding = ops.apply(seg_x, seg_filter)
        encoded_scores = self.clf_encoder(clf_scores)[0]
        return encoding + resize(encoded_scores, encoding.shape[-2:])

    def head(self, l1: torch.Tensor, l2: torch.Tensor, l3: torch.Tensor, l4: torch.Tensor,
             seg_x: torch.Tensor, clf_x: torch.Tensor, seg_filter: torch.Tensor,
             clf_filter: torch.Tensor, ops: sd.Filtering = sd.CONV
             ) -> tuple[torch.Tensor, torch.Tensor]:
        """-> (mask_logits 1x1x480x832, clf_scores 1x1x16x27)."""
        clf_scores = self.classify(clf_x, clf_filter, ops)
        fused = self.fuse(seg_x, seg_filter, clf_scores, ops)
        size = (seg_x.shape[-2] * SEG_STRIDE, seg_x.shape[-1] * SEG_STRIDE)
        return self.decoder(fused, (l1, l2, l3, l4), size), clf_scores

    # -- memories and learners -----------------------------------------------------------------
    def encode_label(self, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """mask Bx1x480x832 (soft or binary) -> (label, spatial weight), each Bx16x30x52."""
        return self.label_encoder(mask)

    def seg_step(self, seg_filter: torch.Tensor, x: torch.Tensor, y: torch.Tensor,
                 w: torch.Tensor) -> torch.Tensor:
        """One GN step; w = spatial weight x temporal sample weight (0 in empty slots)."""
        return sd.seg_step(seg_filter, x, y, w, self.target_model.reg)

    def seg_learn(self, seg_filter: torch.Tensor, x: torch.Tensor, y: torch.Tensor,
                  w: torch.Tensor, iters: int, ops: sd.Filtering = sd.CONV) -> torch.Tensor:
        """`iters` steps from `seg_filter` (zeros at init: `target_model.initial_filter`)."""
        return sd.seg_learn(seg_filter, x, y, w, self.target_model.reg, iters, ops)

    def clf_step(self, clf_filter: torch.Tensor, x: torch.Tensor, y: torch.Tensor,
                 sw: torch.Tensor) -> torch.Tensor:
        """One hinge GN step; sw M sample weights (1/5 each at init, 0 in empty slots)."""
        return sd.clf_step(clf_filter, x, y, sw, CLF_REG)

    def clf_learn(self, clf_filter: torch.Tensor, x: torch.Tensor, y: torch.Tensor,
                  sw: torch.Tensor, iters: int, ops: sd.Filtering = sd.CONV) -> torch.Tensor:
        return sd.clf_learn(clf_filter, x, y, sw, CLF_REG, iters, ops)

    # -- box-only initialisation ---------------------------------------------------------------
    def box_init(self, im: torch.Tensor, box: torch.Tensor) -> torch.Tensor:
        """STA: im 1x3xHxW (a crop at search-area scale 4), box 1x4 crop px -> logits 1x1xHxW."""
        return self.sta.segment(im, box)

    # -- classifier initialisation -------------------------------------------------------------
    def clf_init_features(self, im5: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """im5 5x3x480x832 -> (clf_x5, clf_pool_in5 = the initializer's conv of clf_x5)."""
        clf_x = self.features(im5)[-1]  # layer4 and seg_x are unused: the exporter prunes them
        return clf_x, self.classifier.filter_initializer.filter_conv(clf_x)

    def clf_init_filter(self, clf_pool_in: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        """The reference initial filter 1x512x4x4 (the deployment pools on the host)."""
        return self.classifier.filter_initializer.pool(clf_pool_in, boxes)
