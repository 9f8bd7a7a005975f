"""The kernels' test cases and checks, shared by the CPU execution layer and the GPU tests.

One module, so a kernel checked on the CPU (test_cpu_kernels.py, kernels/host_module.py) is
checked with the very same inputs and budgets on a GPU (test_gpu.py, tests/runtime/
test_gpu_ops_gpu.py). Inputs are generated from fixed seeds; `tier` "fast" is what every CI run
executes, "slow" adds 1080p and 4K (pytest -m slow).

Budgets: crop+resize bit-identical to crop_subwindow and to its NumPy twin; paste mask identical
except pixels whose official probability lies within PROB_TIE of seg_thr; MBR: the official
found/fallback decision and contour area exactly, the NumPy twin's component (root) exactly and
its corners within TWIN_CORNER_TOL, and the official rectangle's area within mbr_cases.AREA_TOL
(corners are compared with the twin, not OpenCV, because equal-area rectangles tie: issue 21).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Iterator

import cv2
import numpy as np

from masktrt.kernels.crop_reference import CropParams, crop_params, crop_resize_reference
from masktrt.kernels.mbr_reference import MbrResult, largest_component_mbr
from masktrt.kernels.paste_reference import PROB_TIE, PasteParams, paste_params
from masktrt.runtime.crop import crop_subwindow
from masktrt.runtime.mask import binarize, largest_contour, paste_back, sigmoid
from masktrt.trackers.siammask.spec import EXEMPLAR_SIZE, INSTANCE_SIZE

from tests.helpers.mbr_cases import AREA_TOL, degenerate_masks, official, polygon_area, random_masks

TWIN_CORNER_TOL = 1e-3  # px: same algorithm in double precision, summation order may differ
TIE_REL = 1e-6  # relative area difference below which two rectangles tie (float32 corners)
FRAME_SIZES = {"fast": [(480, 854), (720, 1280), (37, 53)], "slow": [(1080, 1920), (2160, 3840)]}
RUN_LOG: Counter = Counter()  # cases checked per kernel source, printed by conftest's summary


# ---------------------------------------------------------------- crop + resize
@dataclass(frozen=True)
class CropCase:
    frame: np.ndarray
    center: tuple[float, float]
    model: int
    source: int
    avg: np.ndarray

    @property
    def params(self) -> CropParams:
        return crop_params(self.center, self.model, self.source, self.avg)


def crop_cases(tier: str = "fast", count: int = 20, seed: int = 0) -> Iterator[CropCase]:
    """Random geometry, centres up to 60 px outside the frame (borders, padding), both model sizes."""
    rng = np.random.default_rng(seed)
    sizes = FRAME_SIZES[tier]
    for i in range(count):
        h, w = sizes[i % len(sizes)]
        frame = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        center = (float(rng.uniform(-60, w + 60)), float(rng.uniform(-60, h + 60)))
        yield CropCase(frame, center, (EXEMPLAR_SIZE, INSTANCE_SIZE)[i % 2], int(rng.integers(30, 900)),
                       frame.reshape(-1, 3).mean(0))


def special_scale_cases() -> Iterator[CropCase]:
    """Identity, halving and upscaling sources (tests/kernels/test_crop_reference.py)."""
    for source in (63, 126, 127, 128, 254, 255, 256, 510, 511, 1021):
        frame = np.random.default_rng(source).integers(0, 256, (300, 400, 3), dtype=np.uint8)
        for model in (EXEMPLAR_SIZE, INSTANCE_SIZE):
            yield CropCase(frame, (200.5, 150.5), model, source, np.array([12.9, 200.2, 99.99]))


def check_crop(case: CropCase, got: np.ndarray, half: bool) -> None:
    """Bit-identical to the official crop and to the NumPy twin."""
    want = crop_subwindow(case.frame, case.center, case.model, case.source, case.avg)
    np.testing.assert_array_equal(got.astype(np.float32), want)
    twin = crop_resize_reference(case.frame, case.params, np.float16 if half else np.float32)
    np.testing.assert_array_equal(got, twin)
    RUN_LOG["crop_resize"] += 1


# ---------------------------------------------------------------- paste-back + threshold
@dataclass(frozen=True)
class PasteCase:
    logits: np.ndarray
    crop: tuple[float, float, float, float]
    pos: tuple[int, int]
    hw: tuple[int, int]
    thr: float

    @property
    def params(self) -> PasteParams:
        return paste_params(self.crop, self.pos, self.hw)


def paste_sequence(hw: tuple[int, int] = (720, 1280), count: int = 25, seed: int = 5) -> list[PasteCase]:
    """Consecutive frames into one mask: each call must also clear the previous call's region."""
    rng = np.random.default_rng(seed)
    h, w = hw
    out = []
    for _ in range(count):
        logits = rng.normal(0, 4, (127, 127)).astype(np.float32)
        side = float(round(rng.uniform(80, 900)))
        crop = (float(rng.uniform(-side, w)), float(rng.uniform(-side, h)), side, side)
        out.append(PasteCase(logits, crop, (int(rng.integers(0, 25)), int(rng.integers(0, 25))), hw, 0.35))
    return out


def check_paste(case: PasteCase, got: np.ndarray) -> None:
    """Equal to binarize(paste_back(sigmoid)) except ties within PROB_TIE of the threshold."""
    warped = paste_back(sigmoid(case.logits), case.crop, case.pos, case.hw)
    diff = got != binarize(warped, case.thr)
    assert np.all(np.abs(warped[diff] - case.thr) < PROB_TIE), (case.crop, int(diff.sum()))
    RUN_LOG["paste_mask"] += 1


# ---------------------------------------------------------------- minimum-area rectangle
def mbr_masks(tier: str = "fast") -> list[np.ndarray]:
    """The GPU test's masks (random blobs up to 480x640, degenerate shapes); slow: 1080p and 4K."""
    if tier == "fast":
        masks = random_masks(11, 80, [(64, 64), (240, 320), (480, 640)])
        for hw in [(7, 9), (101, 67), (480, 640)]:
            masks += list(degenerate_masks(*hw).values())
        return masks
    masks = random_masks(12, 6, [(1080, 1920), (2160, 3840)])
    for hw in [(1080, 1920), (2160, 3840)]:
        masks += list(degenerate_masks(*hw).values())
    return masks


def _corner_sets_close(a: np.ndarray, b: np.ndarray, tol: float) -> bool:
    d = np.linalg.norm(a[:, None, :].astype(np.float64) - b[None, :, :].astype(np.float64), axis=-1)
    return len(set(d.argmin(axis=1).tolist())) == 4 and float(d.min(axis=1).max()) <= tol


def check_mbr(mask: np.ndarray, got: MbrResult, offset: tuple[int, int] = (0, 0)) -> None:
    """Official decision and contour area; the twin's component and corners; the official area.

    `mask` is the region the kernel searched; `offset` its top-left corner in the frame.
    """
    found, area, ref = official(mask)
    twin = largest_component_mbr(mask)
    assert got.found == found and got.contour_area == area, (got.found, found, got.contour_area, area)
    assert got.root == twin.root, (got.root, twin.root)
    if found:
        corners = got.corners - np.array(offset, np.float32)
        same = _corner_sets_close(twin.corners, corners, TWIN_CORNER_TOL)
        assert same or tied_rectangle(mask, twin.corners, corners), (corners.tolist(), twin.corners.tolist())
        ra, ga = polygon_area(ref), polygon_area(corners)
        assert abs(ra - ga) <= AREA_TOL * max(ra, 1e-9), (ga, ra)
    RUN_LOG["mbr"] += 1


def tied_rectangle(mask: np.ndarray, twin: np.ndarray, got: np.ndarray) -> bool:
    """Another minimum rectangle of the same area (mirror images tie, e.g. the ring mask): accepted
    when its area equals the twin's to float32 precision and it encloses the official contour."""
    if abs(polygon_area(got) - polygon_area(twin)) > TIE_REL * polygon_area(twin):
        return False
    contour, _ = largest_contour(mask)
    box = got.astype(np.float32).reshape(-1, 1, 2)
    inside = [cv2.pointPolygonTest(box, (float(x), float(y)), True) for x, y in contour.reshape(-1, 2)]
    return min(inside) >= -TWIN_CORNER_TOL * 10


def roi_case() -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A rectangle searched inside a region of interest: corners come back in frame pixels."""
    mask = np.zeros((300, 400), np.uint8)
    mask[100:150, 200:260] = 1
    return mask, (150, 80, 320, 200)


# ---------------------------------------------------------------- the device-ops sequence
@dataclass(frozen=True)
class OpsCase:
    frame: np.ndarray
    center: np.ndarray
    side: int
    avg: np.ndarray
    logits: np.ndarray
    crop_box: tuple[float, float, float, float]
    pos: tuple[int, int]
    fallback: tuple[float, float, float, float]


def device_ops_cases(count: int = 12, hw: tuple[int, int] = (480, 640), seed: int = 0) -> Iterator[OpsCase]:
    """Frames, search crops and smooth refine logits for runtime.gpu_ops (DeviceOps vs HostOps)."""
    rng = np.random.default_rng(seed)
    h, w = hw
    for _ in range(count):
        frame = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        avg = frame.reshape(-1, 3).mean(0, dtype=np.float64)
        center = np.array([rng.uniform(-40, w + 40), rng.uniform(-40, h + 40)])
        side = int(rng.integers(60, 700))
        smooth = cv2.GaussianBlur(rng.normal(0, 1, (127, 127)).astype(np.float32), (0, 0), 6.0)
        logits = (smooth / (np.abs(smooth).max() + 1e-6) * 8 + rng.uniform(-3, 3)).astype(np.float32)
        crop_box = (center[0] - side / 2, center[1] - side / 2, float(side), float(side))
        pos = (int(rng.integers(0, 25)), int(rng.integers(0, 25)))
        yield OpsCase(frame, center, side, avg, logits, crop_box, pos, (center[0], center[1], 50.0, 40.0))
