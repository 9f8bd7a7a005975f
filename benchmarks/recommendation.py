"""Which measured configuration a deployment should run: the fastest one whose accuracy verdict
passes. Written next to the graphs (`recommended.json`) so that `masktrt.open_tracker(DIR)` on a
`masktrt deploy` folder runs it without being told.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from masktrt.errors import MasktrtError

RECOMMENDED = "recommended.json"


@dataclass(frozen=True)
class Recommendation:
    backend: str  # onnxruntime | tensorrt (the library, runtime.backends)
    precision: str
    folder: str  # relative to the deployment folder
    ms_median: float | None
    why: str


PRECISION_ORDER = ("fp32", "fp16", "int8")  # most accuracy margin first
SAME_SPEED = 0.05  # medians within 5 % of the fastest count as equally fast (timing noise)


def choose(candidates: list[dict[str, Any]]) -> Recommendation | None:
    """The fastest passing candidate by median ms/frame; among those within SAME_SPEED of it,
    the highest precision (more accuracy margin for no measurable speed). Candidates:
    {backend, precision, folder, passed, ms_median}; None when none passed."""
    passing = [c for c in candidates if c["passed"] and c["ms_median"] is not None]
    if not passing:
        return None
    fastest = min(c["ms_median"] for c in passing)
    close = [c for c in passing if c["ms_median"] <= fastest * (1 + SAME_SPEED)]
    best = min(close, key=lambda c: (_rank(c["precision"]), c["ms_median"]))
    others = ", ".join(f"{c['backend']} {c['precision']} {c['ms_median']:.1f} ms"
                       for c in passing if c is not best) or "no other passing configuration"
    why = (f"fastest configuration whose accuracy verdict passes (within {SAME_SPEED:.0%}, the "
           f"highest precision): {best['ms_median']:.1f} ms/frame median (vs {others})")
    return Recommendation(best["backend"], best["precision"], best["folder"], best["ms_median"], why)


def _rank(precision: str) -> int:
    return PRECISION_ORDER.index(precision) if precision in PRECISION_ORDER else len(PRECISION_ORDER)


def write(folder: Path, recommendation: Recommendation) -> Path:
    from masktrt.files import write_json

    return write_json(folder / RECOMMENDED, asdict(recommendation))


def read(folder: Path) -> Recommendation | None:
    """The folder's recommendation (None: not a deployment folder); a damaged file or one that
    points outside the folder is a one-line error."""
    path = Path(folder) / RECOMMENDED
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
        recommendation = Recommendation(**data)
    except (ValueError, TypeError) as exc:
        raise MasktrtError(f"'{path}' is not a masktrt recommendation ({exc})",
                           "run 'masktrt deploy' again into this folder") from exc
    target = (Path(folder) / recommendation.folder).resolve()
    if not target.is_relative_to(Path(folder).resolve()):
        raise MasktrtError(f"'{path}' points outside its folder ({recommendation.folder})",
                           "run 'masktrt deploy' again into this folder")
    return recommendation
