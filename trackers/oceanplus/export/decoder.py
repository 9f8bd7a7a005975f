"""The mask decoders (`mask_model`): MSS (single stage, VOT-RT) and MMS (three stages, VOS).

Spec arn-rts.md §A1 "MSS" / "MMS". Stage 1 fuses the cls correlation map with the
ARN-enhanced neck map at stride 8 (level r4), then climbs the trunk's skips (layer2, layer1,
conv1: levels r3, r2, r1), each a 3x3 conv + ReLU added to the 3x3 conv of the level above,
upsampled bilinearly with corners aligned, ending at the crop's resolution as two logits.
MMS repeats the climb twice on the previous stage's level features, each time weighted by the
previous mask's foreground probability (floored at 0.7), and averages the three logit maps.
Modules that exist only so the released weights load (`b0`, `m1`-`m3`, `iter.sequential`)
are built but never called.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from masktrt.trackers.oceanplus.export.arn import ARN
from masktrt.trackers.oceanplus.export.channels import OceanPlusChannels

LOGITS = 2  # background, foreground
ATTENTION_FLOOR = 0.7  # MMS stages 2-3: features weighted by clamp(fg prob, 0.7, 1)
MMS_RATIOS = (0.33, 0.33, 0.33)  # weights of the three stages' logits (official, not 1/3)
Levels = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]  # r4, r3, r2, r1 features


def conv_relu(cin: int, cout: int) -> nn.Sequential:
    """3x3 pad-1 conv with bias + ReLU (keys `.0.*`); the decoders have no BatchNorm."""
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(inplace=True))


def logits_conv(cin: int) -> nn.Sequential:
    """3x3 pad-1 conv to the two logits, no ReLU (r0; and the unused b0, m1-m3)."""
    return nn.Sequential(nn.Conv2d(cin, LOGITS, 3, padding=1))


def up(x: torch.Tensor, size: tuple[int, int] | torch.Size) -> torch.Tensor:
    """Bilinear resize with corners aligned: every resize of the decoders."""
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=True)


def foreground(logits: torch.Tensor) -> torch.Tensor:
    """Bx1xHxW foreground probability of Bx2xHxW logits."""
    return F.softmax(logits, dim=1)[:, 1:2]


class TopDown(nn.Module):
    """The r3 -> r2 -> r1 -> r0 climb shared by every stage (subclasses build the convs)."""

    def climb(self, r4: torch.Tensor, levels: Levels, size: tuple[int, int]) -> torch.Tensor:
        """Logits at `size` from the fused r4 map and the level features (f4 unused here)."""
        _, f3, f2, f1 = levels
        r3 = up(self.r3(r4) + f3, f2.shape[-2:])
        r2 = up(self.r2(r3) + f2, f1.shape[-2:])
        return self.r0(up(self.r1(r2) + f1, size))


class FirstStage(TopDown):
    """MSS, and stage 1 of MMS: ARN attention, corr + neck fusion, the climb over the trunk."""

    def __init__(self, channels: OceanPlusChannels) -> None:
        super().__init__()
        c4, c3, c2, c1 = channels.skips
        w4, w3, w2, w1 = channels.stage(0)
        self.b4, self.b3 = conv_relu(c4, w4), conv_relu(c3, w3)
        self.b2, self.b1 = conv_relu(c2, w2), conv_relu(c1, w1)
        self.b0 = logits_conv(w1)
        self.rCo = conv_relu(channels.neck, w4)
        self.r3, self.r2, self.r1 = conv_relu(w4, w3), conv_relu(w3, w2), conv_relu(w2, w1)
        self.r0 = logits_conv(w1)
        self.m3, self.m2, self.m1 = logits_conv(w3), logits_conv(w2), logits_conv(w1)
        self.sequential = ARN(channels.neck, channels.embed)

    def stage(self, skips: tuple[torch.Tensor, ...], xf: torch.Tensor, corr: torch.Tensor,
              lut_key: torch.Tensor, lut_value: torch.Tensor, size: tuple[int, int]
              ) -> tuple[torch.Tensor, Levels]:
        """(logits, level features) from trunk skips (b1, b2, b3), neck map and cls corr."""
        b1, b2, b3 = skips
        b4 = xf + self.sequential(xf, lut_key, lut_value)
        r4 = self.rCo(up(corr, b4.shape[-2:])) + self.b4(b4)
        levels = (r4, self.b3(b3), self.b2(b2), self.b1(b1))
        return self.climb(r4, levels, size), levels


class MSS(FirstStage):
    """Multi-resolution single-stage decoder (`OceanPlusMSS.pth`)."""

    def forward(self, skips: tuple[torch.Tensor, ...], xf: torch.Tensor, corr: torch.Tensor,
                lut_key: torch.Tensor, lut_value: torch.Tensor,
                size: tuple[int, int]) -> torch.Tensor:
        return self.stage(skips, xf, corr, lut_key, lut_value, size)[0]


class RefineStage(TopDown):
    """MMS stages 2 (`iter`) and 3 (`iter2`): the climb on mask-weighted level features."""

    def __init__(self, inputs: tuple[int, ...], widths: tuple[int, ...],
                 channels: OceanPlusChannels | None = None) -> None:
        super().__init__()
        p4, p3, p2, p1 = inputs
        w4, w3, w2, w1 = widths
        self.b3, self.b2, self.b1 = conv_relu(p3, w3), conv_relu(p2, w2), conv_relu(p1, w1)
        self.r4, self.r3 = conv_relu(p4, w4), conv_relu(w4, w3)
        self.r2, self.r1 = conv_relu(w3, w2), conv_relu(w2, w1)
        self.r0 = logits_conv(w1)
        self.m3, self.m2, self.m1 = logits_conv(w3), logits_conv(w2), logits_conv(w1)
        if channels is not None:  # stage 2's unused ARN copy, present in the weights
            self.sequential = ARN(channels.neck, channels.embed)

    def forward(self, levels: Levels, previous: torch.Tensor, size: tuple[int, int]
                ) -> tuple[torch.Tensor, Levels]:
        """(logits, this stage's level features) given the previous stage's."""
        att = torch.clamp(foreground(previous), ATTENTION_FLOOR, 1.0)
        f4, f3, f2, f1 = levels
        a4, a2, a1 = up(att, f4.shape[-2:]), up(att, f2.shape[-2:]), up(att, f1.shape[-2:])
        r4 = self.r4(a4 * f4)
        mine = (r4, self.b3(a4 * f3), self.b2(a2 * f2), self.b1(a1 * f1))
        return self.climb(r4, mine, size), mine


class MMS(FirstStage):
    """Multi-resolution multi-stage decoder (`OceanPlusMMS.pth`): three stages averaged."""

    def __init__(self, channels: OceanPlusChannels) -> None:
        super().__init__(channels)
        self.iter = RefineStage(channels.stage(0), channels.stage(1), channels)
        self.iter2 = RefineStage(channels.stage(1), channels.stage(2))

    def forward(self, skips: tuple[torch.Tensor, ...], xf: torch.Tensor, corr: torch.Tensor,
                lut_key: torch.Tensor, lut_value: torch.Tensor,
                size: tuple[int, int]) -> torch.Tensor:
        first, levels = self.stage(skips, xf, corr, lut_key, lut_value, size)
        second, levels = self.iter(levels, first, size)
        third, _ = self.iter2(levels, second, size)
        return MMS_RATIOS[0] * first + MMS_RATIOS[1] * second + MMS_RATIOS[2] * third


DECODERS = {"mss": MSS, "mms": MMS}
