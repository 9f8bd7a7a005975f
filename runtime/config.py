"""The one source of truth for SiamMask's tracker geometry and hyper-parameters.

Values are those of the official tracker (spec siammask.md §3.1-3.3). Every module, exporter and
test imports them from here; nothing else writes 127, 255, 25 or 0.39 again.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

EXEMPLAR_SIZE = 127  # template crop side (pixels)
INSTANCE_SIZE = 255  # search crop side (pixels)
TOTAL_STRIDE = 8  # network stride
BASE_SIZE = 8
SCORE_SIZE = (INSTANCE_SIZE - EXEMPLAR_SIZE) // TOTAL_STRIDE + 1 + BASE_SIZE  # 25
ANCHOR_RATIOS = (0.33, 0.5, 1.0, 2.0, 3.0)
ANCHOR_SCALES = (8,)
ANCHOR_NUM = len(ANCHOR_RATIOS) * len(ANCHOR_SCALES)  # 5
CONTEXT_AMOUNT = 0.5
MASK_OUT_SIZE = 127  # Refine output side ("sharp" model)
MIN_CONTOUR_AREA = 100.0  # px^2: below this the polygon falls back to the box (spec §3.8.7)
MIN_TARGET_SIZE = 10.0  # clipping floor for w and h (spec §3.7.14)


@dataclass(frozen=True)
class TrackerConfig:
    """Per-dataset hyper-parameters (spec §3.2) plus the documented lost threshold.

    `lost_score`: a frame is flagged lost when the selected candidate's foreground probability
    is below it. 0.3 is our choice, not the official code's (it has no such flag): it sits well
    under the scores of confidently tracked frames and above those of a target that has left.
    """

    name: str
    seg_thr: float
    penalty_k: float
    window_influence: float
    lr: float
    lost_score: float = 0.3

    def to_dict(self) -> dict:
        return asdict(self)


PRESETS: dict[str, TrackerConfig] = {
    "davis": TrackerConfig("davis", seg_thr=0.35, penalty_k=0.04, window_influence=0.40, lr=1.0),
    "vot": TrackerConfig("vot", seg_thr=0.30, penalty_k=0.04, window_influence=0.42, lr=0.25),
    "vot18": TrackerConfig("vot18", seg_thr=0.15, penalty_k=0.10, window_influence=0.41, lr=0.32),
}
DEFAULT_PRESET = "davis"  # the official demo's config


def preset(name: str, **overrides: float) -> TrackerConfig:
    """Look up a preset by name; unknown names fail with the list of valid ones."""
    from masktrt.errors import MasktrtError

    if name not in PRESETS:
        raise MasktrtError(f"unknown preset '{name}'", f"choose one of: {', '.join(PRESETS)}")
    return replace(PRESETS[name], **overrides) if overrides else PRESETS[name]
