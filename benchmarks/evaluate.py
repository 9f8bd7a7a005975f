"""Scoring a tracker's output folder against a sequence's ground truth (DAVIS J/F, OTB AUC, VOT IoU).

The folder is what `masktrt track` writes; its layout, writer and reader live together in
masktrt.runtime.outputs (re-exported here for scoring code). A frame without a mask file counts
as an empty mask. Frame 0 is the initialisation frame and is not scored, as DAVIS and VOT do.
Used by `masktrt eval` and `masktrt demo`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from masktrt.runtime.outputs import Predictions, load_predictions, match_masks

__all__ = ["Predictions", "load_predictions", "match_masks", "evaluate", "summary_rows",
           "write_reports"]

def evaluate(sequence, predictions: Predictions) -> dict:
    """Per-frame and mean metrics over frames 1..N-1; keys absent where the data does not allow."""
    import numpy as np

    from masktrt.benchmarks import metrics
    from masktrt.errors import MasktrtError

    if not sequence.has_groundtruth:
        raise MasktrtError(f"sequence '{sequence.name}' has no ground truth",
                           "pass a folder with groundtruth.txt or masks/")
    scored = np.arange(1, len(sequence))
    per_frame: dict[str, Any] = {"frame": scored}
    box_ious = metrics.box_iou(predictions.boxes[scored], sequence.boxes[scored])
    per_frame["box_iou"] = box_ious
    summary: dict[str, Any] = {
        "box_iou_mean": _mean(box_ious),
        "box_auc": metrics.success_auc(box_ious),
        "box_success_curve": metrics.success_curve(box_ious),
        "success_thresholds": metrics.OTB_THRESHOLDS,
    }
    if sequence.polygons is not None and predictions.polygons is not None:
        h, w = sequence.frame(0).shape[:2]
        ious = np.array([metrics.polygon_iou(predictions.polygons[i], sequence.polygons[i], (w, h))
                         for i in scored])
        per_frame["polygon_iou"] = ious
        summary["polygon_iou_mean"] = _mean(ious)
    if sequence.has_masks and predictions.mask_paths is not None:
        j, f = _mask_scores(sequence, predictions, scored)
        per_frame["J"], per_frame["F"] = j, f
        summary.update(J_mean=_mean(j), J_recall=_mean(j > 0.5), F_mean=_mean(f),
                       F_recall=_mean(f > 0.5), JF_mean=(_mean(j) + _mean(f)) / 2)
    if predictions.scores is not None:
        per_frame["score"] = predictions.scores[scored]
        summary["score_mean"] = _mean(predictions.scores[scored])
    if predictions.flags is not None:
        per_frame["lost"], per_frame["skipped"] = predictions.flags[scored].T
        summary["lost_frames"] = int(predictions.flags[scored, 0].sum())
        summary["undecoded_frames"] = int(predictions.flags[scored, 1].sum())
    if predictions.invalid is not None:
        summary["invalid_frames"] = int(predictions.invalid[scored].sum())
    return {"sequence": sequence.name, "kind": sequence.kind, "frames": len(sequence),
            "evaluated_frames": len(scored), "unscored_frames": [0], "metrics": summary,
            "per_frame": _frame_records(per_frame)}


def _mask_scores(sequence, predictions: Predictions, scored) -> tuple[Any, Any]:
    """J and F per scored frame, reading one predicted and one true mask at a time."""
    import numpy as np

    from masktrt.benchmarks.metrics import boundary_f, region_similarity
    from masktrt.errors import MasktrtError
    from masktrt.runtime.outputs import read_predicted_mask as read_mask

    j, f = [], []
    for i in scored:
        path, gt = predictions.mask_paths[i], sequence.mask(i)
        pred = read_mask(path) if path is not None else np.zeros_like(gt)
        if pred.shape != gt.shape:
            raise MasktrtError(f"mask '{predictions.mask_paths[i]}' is {pred.shape[1]}x{pred.shape[0]} "
                               f"but the frame is {gt.shape[1]}x{gt.shape[0]}",
                               "write full-frame masks (the same size as the frames)")
        j.append(region_similarity(pred, gt))
        f.append(boundary_f(pred, gt))
    return np.array(j), np.array(f)


def _mean(values) -> float:
    import numpy as np

    values = np.asarray(values, dtype=np.float64)
    return float(values.mean()) if values.size else float("nan")


def _frame_records(columns: dict[str, Any]) -> list[dict]:
    names = list(columns)
    integer = {"frame", "lost", "skipped"}
    return [{n: (int(columns[n][k]) if n in integer else float(columns[n][k])) for n in names}
            for k in range(len(columns["frame"]))]


SUMMARY_KEYS = [  # (key, label) in report order
    ("JF_mean", "J&F mean"), ("J_mean", "J mean (region IoU)"), ("J_recall", "J recall (J>0.5)"),
    ("F_mean", "F mean (boundary)"), ("F_recall", "F recall (F>0.5)"),
    ("polygon_iou_mean", "polygon IoU mean (VOT)"), ("box_iou_mean", "box IoU mean"),
    ("box_auc", "box success AUC (OTB)"), ("score_mean", "score mean"),
    ("lost_frames", "frames flagged lost"), ("undecoded_frames", "frames not decoded"),
]


def summary_rows(result: dict) -> list[list[Any]]:
    """(label, value) rows for the metrics this result has."""
    m = result["metrics"]
    return [[label, m[key]] for key, label in SUMMARY_KEYS if key in m]


def write_reports(result: dict, out: str | Path) -> tuple[Path, Path]:
    """eval.json (everything) and eval.md (summary and per-frame tables) in `out`."""
    from masktrt.benchmarks.report import markdown_table, write_json
    from masktrt.files import write_text
    from masktrt.runtime.outputs import EVAL_JSON, EVAL_MD

    out = Path(out)
    json_path = write_json(out / EVAL_JSON, result)
    columns = list(result["per_frame"][0]) if result["per_frame"] else ["frame"]
    lines = [f"# Evaluation: {result['sequence']} ({result['kind']})", "",
             f"{result['evaluated_frames']} of {result['frames']} frames scored; frame 0 "
             "(initialisation) skipped. Box success AUC: OTB thresholds 0..1 step 0.05, IoU > t.",
             "", markdown_table(["metric", "value"], summary_rows(result)),
             "## Per frame", "",
             markdown_table(columns, [[r[c] for c in columns] for r in result["per_frame"]])]
    md_path = out / EVAL_MD
    write_text(md_path, "\n".join(lines))
    return json_path, md_path
