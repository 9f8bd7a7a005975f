"""Does the tracker's score mean something? Separation of on- and off-target frames by score,
and the lost threshold that follows from it. NumPy only.

A frame is on target when its box IoU with the ground truth exceeds 0.5 (OTB's success
threshold). The separation is the ROC AUC of the score as a detector of on-target frames (the
probability that a random on-target frame scores higher than a random off-target one: 0.5 is
chance, 1.0 perfect). The lost threshold is the score that maximises Youden's J (true-positive
rate minus false-positive rate), i.e. the best balance of missed losses and false alarms.
"""
from __future__ import annotations

import numpy as np

ON_TARGET_IOU = 0.5
MAX_ON_TARGET_FLAGGED = 0.10  # the operating point: flag at most 10 % of the frames on target


def roc_auc(scores: np.ndarray, positive: np.ndarray) -> float | None:
    """Mann-Whitney AUC (ties count half); None when one class is empty."""
    scores, positive = np.asarray(scores, dtype=np.float64), np.asarray(positive, dtype=bool)
    pos, neg = scores[positive], scores[~positive]
    if len(pos) == 0 or len(neg) == 0:
        return None
    greater = (pos[:, None] > neg[None, :]).sum()
    ties = (pos[:, None] == neg[None, :]).sum()
    return float((greater + 0.5 * ties) / (len(pos) * len(neg)))


def youden_threshold(scores: np.ndarray, positive: np.ndarray) -> float | None:
    """The threshold t (frames with score < t flagged lost) maximising TPR - FPR; None when
    one class is empty. Midway between the two scores it separates, so it is not fitted to
    one frame's exact value."""
    scores, positive = np.asarray(scores, dtype=np.float64), np.asarray(positive, dtype=bool)
    if positive.all() or not positive.any():
        return None
    values = np.unique(scores)
    cuts = np.concatenate([[values[0]], (values[1:] + values[:-1]) / 2, [values[-1] + 1e-6]])
    youden = [np.mean(scores[positive] >= t) - np.mean(scores[~positive] >= t) for t in cuts]
    return float(cuts[int(np.argmax(youden))])


def flag_rates(scores: np.ndarray, positive: np.ndarray, threshold: float) -> dict:
    """What a lost flag (score < threshold) does: the share of on-target frames it flags (false
    alarms) and of off-target frames it catches; None for an empty class."""
    scores, positive = np.asarray(scores, dtype=np.float64), np.asarray(positive, dtype=bool)
    flagged = scores < threshold
    return {"threshold": float(threshold),
            "on_flagged": float(flagged[positive].mean()) if positive.any() else None,
            "off_caught": float(flagged[~positive].mean()) if (~positive).any() else None}


def operating_threshold(scores: np.ndarray, positive: np.ndarray,
                        max_on_flagged: float = MAX_ON_TARGET_FLAGGED) -> float | None:
    """The highest threshold that flags at most `max_on_flagged` of the on-target frames (so it
    catches as many off-target ones as that budget allows); None without on-target frames."""
    if not 0.0 <= max_on_flagged < 1.0:
        raise ValueError(f"max_on_flagged {max_on_flagged} is not a share in [0, 1)")
    scores, positive = np.asarray(scores, dtype=np.float64), np.asarray(positive, dtype=bool)
    if not positive.any():
        return None
    on = np.sort(scores[positive])
    allowed = int(np.floor(max_on_flagged * len(on)))  # on-target frames that may fall below
    return float(on[allowed])  # score < this flags exactly the `allowed` lowest (ties: fewer)


def roc_points(scores: np.ndarray, positive: np.ndarray) -> dict | None:
    """The lost flag's trade-off at every distinct cut t (flag frames with score < t): the
    share of on-target frames it flags and of off-target frames it catches (the ROC curve of
    the score as a detector of lost frames); None when one class is empty."""
    scores, positive = np.asarray(scores, dtype=np.float64), np.asarray(positive, dtype=bool)
    if positive.all() or not positive.any():
        return None
    values = np.unique(scores)
    cuts = np.concatenate([[values[0]], (values[1:] + values[:-1]) / 2, [values[-1] + 1e-6]])
    flagged = scores[None, :] < cuts[:, None]
    return {"thresholds": cuts.tolist(),
            "on_flagged": flagged[:, positive].mean(axis=1).tolist(),
            "off_caught": flagged[:, ~positive].mean(axis=1).tolist()}


def separation(scores: np.ndarray, ious: np.ndarray) -> dict:
    """AUC, chosen threshold and class counts for per-frame scores and box IoUs."""
    positive = np.asarray(ious) > ON_TARGET_IOU
    return {"frames": int(len(positive)), "on_target": int(positive.sum()),
            "auc": roc_auc(scores, positive), "threshold": youden_threshold(scores, positive),
            "score_on_mean": float(np.mean(np.asarray(scores)[positive])) if positive.any() else None,
            "score_off_mean": float(np.mean(np.asarray(scores)[~positive])) if (~positive).any() else None,
            "operating_point": _operating_point(scores, positive),
            "roc": roc_points(scores, positive)}


def _operating_point(scores: np.ndarray, positive: np.ndarray) -> dict | None:
    """The rates at the threshold that flags at most MAX_ON_TARGET_FLAGGED of on-target frames."""
    threshold = operating_threshold(scores, positive)
    if threshold is None:
        return None
    return {"max_on_flagged": MAX_ON_TARGET_FLAGGED, **flag_rates(scores, positive, threshold)}
