"""STA, the box-initialisation network (pytracking `STANet` from `ltr.models.lwl.sta_net.
steepest_descent_resnet50`, spec §B1 "STA", §B3 init 1; weights `sta.pth.tar`).

RTS learns from a first-frame mask; when a sequence starts from a box, STA turns the box into
that mask. Its parts are RTS's (network.py) plus one new encoder:

* `feature_extractor`: its own Detectron ResNet-50 (`ResNet50Mrcnn`);
* `target_model`: layer3 -> conv3x3 + InstanceL2Norm features and a learned lambda
  (`SegLearner`); `target_model_segm`: a second lambda only (same features);
* `label_encoder` and `bbox_encoder`: two `BoxEncoder`s (`ResidualDS16FeatSWBox`): the box
  rasterised to a mask, encoded like RTS's label encoder, concatenated with the features;
  the first gives the decoder's box channels, the second the learner's label and weights;
* `segm_encoder`: RTS's `LabelEncoder`, re-encoding the first prediction's probabilities;
* `decoder`: RTS's `Decoder` with 2 x 16 input channels (box encoding, target scores).

`segment(im, box)` is the released forward for one crop: learn a filter on the box labels
(5 closed-form GN steps from zero, `steepest_descent`), decode a coarse mask, re-encode its
sigmoid, learn a second filter on it (5 steps), decode again; the second decoding is the mask.

The constructor is the manifest's inferred one (`sta_state_dict.json`, "kwds_guessed"): its
shapes rule out the listed alternatives (label_encoder_dims (16,32,64,64) makes res3 64 wide,
not 128; use_bn_in_label_enc=True adds 30 segm_encoder BN entries; clf_feat_blocks=1 /
final_conv=False replaces `target_model.feature_extractor.0`), so `state_dict()` equals it key
for key and shape for shape. The box's rasterisation truncates (x, y, w, h) as the release's
`int()`; where the box leaves the crop the release's negative slice start wraps around, this
one clips at the border (a box must exceed 9:1 / 1:28 to leave a scale-4 crop at all).
"""
from __future__ import annotations

import torch
from masktrt.export.backbones.resnet_mrcnn import ResNet50Mrcnn
from masktrt.trackers.rts.export import steepest_descent as sd
from masktrt.trackers.rts.export.decoder import Decoder
from masktrt.trackers.rts.export.label_encoder import LabelEncoder, ResidualBlock, conv_relu
from masktrt.trackers.rts.export.learners import FilterOptimizer, SegLearner
from torch import nn

from masktrt.trackers.rts.spec import (FEATURE_DIM, NUM_FILTERS, PIXEL_MEAN_BGR, SEG_FILTER_SIZE,
                               STA_DECODER_SCORES, STA_ITERS, STA_LABEL_DIMS)


def box_mask(box: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bx4 (x, y, w, h crop px) -> Bx1xHxW float mask, 1 on rows [y, y+h) and columns [x, x+w)
    of the truncated box (`bbox_to_mask`)."""
    x, y, w, h = box.to(torch.int64).to(box.dtype).unbind(dim=1)
    rows = torch.arange(size[0], dtype=box.dtype, device=box.device)[None, :]
    cols = torch.arange(size[1], dtype=box.dtype, device=box.device)[None, :]
    in_rows = (rows >= y[:, None]) & (rows < (y + h)[:, None])
    in_cols = (cols >= x[:, None]) & (cols < (x + w)[:, None])
    return (in_rows[:, :, None] & in_cols[:, None, :]).to(box.dtype)[:, None]


class BoxEncoder(nn.Module):
    """`ResidualDS16FeatSWBox`: box mask -> conv block, pool, two stride-2 residual blocks
    (16 -> 32 -> 64, H/16), concatenated with the 512-ch features -> a residual block (576 ->
    128) -> (label: conv + BN + ReLU, weights: conv initialised to 1), each Bx16xH/16xW/16."""

    def __init__(self, dims: tuple[int, ...] = STA_LABEL_DIMS, feature_dim: int = FEATURE_DIM) -> None:
        super().__init__()
        d0, d1, d2, d3 = dims
        self.conv_block = conv_relu(1, d0, stride=2)
        self.pool = nn.MaxPool2d(3, 2, 1)
        self.res1 = ResidualBlock(d0, d1, 2)
        self.res2 = ResidualBlock(d1, d2, 2)
        self.res3 = ResidualBlock(d2 + feature_dim, d3, 1)
        self.label_pred = nn.Sequential(nn.Conv2d(d3, NUM_FILTERS, 3, 1, 1),
                                        nn.BatchNorm2d(NUM_FILTERS), nn.ReLU(inplace=True))
        self.samp_w_pred = nn.Conv2d(d3, NUM_FILTERS, 3, 1, 1)
        nn.init.zeros_(self.samp_w_pred.weight)  # official init: weights 1 until trained
        nn.init.ones_(self.samp_w_pred.bias)

    def forward(self, mask: torch.Tensor, feat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        encoded = self.res2(self.res1(self.pool(self.conv_block(mask))))
        out = self.res3(torch.cat((encoded, feat), dim=1))
        return self.label_pred(out), self.samp_w_pred(out)


class LambdaOnly(nn.Module):
    """`target_model_segm`: a LinearFilter without features, only its learned lambda."""

    def __init__(self) -> None:
        super().__init__()
        self.filter_optimizer = FilterOptimizer()

    @property
    def reg(self) -> torch.Tensor:
        return self.filter_optimizer.residual_module.filter_reg


class STA(nn.Module):
    """The released STANet (registration order = the checkpoint's key order)."""

    def __init__(self) -> None:
        super().__init__()
        self.feature_extractor = ResNet50Mrcnn()
        self.target_model = SegLearner()
        self.target_model_segm = LambdaOnly()
        self.decoder = Decoder(scores=STA_DECODER_SCORES)
        self.label_encoder = BoxEncoder()
        self.bbox_encoder = BoxEncoder()
        self.segm_encoder = LabelEncoder(downsample=True)
        mean = torch.tensor(PIXEL_MEAN_BGR).reshape(1, 3, 1, 1)
        self.register_buffer("pixel_mean", mean, persistent=False)  # a constant, not a weight

    def learn(self, x: torch.Tensor, y: torch.Tensor, w: torch.Tensor, reg: torch.Tensor,
              ops: sd.Filtering = sd.CONV) -> torch.Tensor:
        """STA_ITERS closed-form GN steps from a zero 16x512x3x3 filter (one sample); the
        filter's shape is constant so the exported learner's convolutions have static kernels."""
        size = (NUM_FILTERS, FEATURE_DIM, SEG_FILTER_SIZE, SEG_FILTER_SIZE)
        zero = torch.zeros(size, dtype=x.dtype, device=x.device)
        return sd.seg_learn(zero, x, y, w, reg, STA_ITERS, ops)

    def decode(self, box_enc: torch.Tensor, x: torch.Tensor, f: torch.Tensor,
               layers: tuple[torch.Tensor, ...], size: tuple[int, int],
               ops: sd.Filtering = sd.CONV) -> torch.Tensor:
        scores = torch.cat((box_enc, ops.apply(x, f)), dim=1)
        return self.decoder(scores, layers, size)

    def segment(self, im: torch.Tensor, box: torch.Tensor,
                ops: sd.Filtering = sd.CONV) -> torch.Tensor:
        """im 1x3xHxW BGR 0..255 (a crop at search-area scale 4), box 1x4 (x, y, w, h crop px)
        -> mask logits 1x1xHxW (the second, re-encoded decoding)."""
        size = (int(im.shape[-2]), int(im.shape[-1]))  # constants: a static box mask and kernels
        layers = self.feature_extractor(im - self.pixel_mean.to(im.dtype))
        x = self.target_model.feature_extractor(layers[2])
        mask = box_mask(box, size)
        box_enc = self.label_encoder(mask, x)[0]
        coarse = self.decode(box_enc, x, self.learn(x, *self.bbox_encoder(mask, x),
                                                    self.target_model.reg, ops), layers, size, ops)
        # the decoder's resizes take traced sizes, so ONNX loses the coarse mask's shape; its
        # constant reshape gives the second learner's in-graph kernels a static shape again
        coarse = coarse.reshape(1, 1, *size)
        label, weight = self.segm_encoder(torch.sigmoid(coarse))
        return self.decode(box_enc, x, self.learn(x, label, weight, self.target_model_segm.reg,
                                                  ops), layers, size, ops)
