"""NumPy/OpenCV reference of the GPU MBR algorithm (kernels/mbr.cu), step for step.

The official pipeline (spec §3.8.6-8) is findContours(RETR_EXTERNAL) -> largest contourArea ->
minAreaRect -> boxPoints. Contour tracing is inherently serial, so the GPU computes the same
answer differently, and this module is that different algorithm written with NumPy so it can be
checked against OpenCV on a machine without a GPU:

1. Label foreground 8-connected components and background 4-connected components (the
   (8, 4) digital-topology pair findContours uses); everything outside the region of interest
   is the exterior background. A component is identified by its raster-first pixel (the
   "root": union-find with minimum-index roots gives exactly this on the GPU).
2. The outer contour's area, without tracing it: the contour through the boundary pixel
   centres bounds the union U of lattice cells (2x2 pixel-centre squares) with 4 filled
   corners and half-cells with 3, where "filled" means "not in the background component that
   touches the component from outside" (holes count as filled). By Green's theorem,
   area(U) = sum over the vertical unit edges of U's boundary of +-x, plus +-x_mid over its
   diagonal edges; each such edge is decided from a 3x2 neighbourhood, so every pixel adds its
   share independently (an atomicAdd on the GPU). The exterior background of a component is
   the one above its root, which cannot be a hole.
3. The largest area wins; equal areas go to the component whose root comes last in raster
   order, which is what np.argmax over OpenCV's contour list (reverse raster order) picks.
   Components nested in a hole are ignored by RETR_EXTERNAL but their area is always smaller
   than their container's, so they can never win.
4. Convex hull of the winner's per-row leftmost/rightmost pixels (a superset of the hull's
   vertices) by the monotone chain, then rotating calipers: the minimum-area rectangle has one
   side on a hull edge (Freeman & Shapira).
Areas are kept doubled (integers) so that the GPU's atomics and this reference agree exactly.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from masktrt.geometry import MIN_CONTOUR_AREA


@dataclass(frozen=True)
class MbrResult:
    """Rotated rectangle of the largest component, or found=False (caller uses the box fallback)."""

    found: bool
    corners: np.ndarray  # 4x2 float32, frame pixels; zeros when not found
    contour_area: float  # cv2.contourArea of the chosen outer contour (0 when none)
    root: int  # raster index (y * w + x, within the region searched) of the chosen component's first pixel; -1: none


def _labels(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(fg labels 8-conn, bg labels 4-conn on a 1-px padded frame whose border label is 0)."""
    fg = (mask != 0).astype(np.uint8)
    _, fg_lab = cv2.connectedComponents(fg, connectivity=8, ltype=cv2.CV_32S)
    bg = np.pad(1 - fg, 1, constant_values=1)
    _, bg_lab = cv2.connectedComponents(bg, connectivity=4, ltype=cv2.CV_32S)
    bg_lab = bg_lab - bg_lab[0, 0]  # exterior -> 0 (a padded corner is always exterior)
    return fg_lab, bg_lab


def doubled_outer_areas(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(roots, doubled outer contour areas, fg labels): one entry per foreground component."""
    fg_lab, bg_lab = _labels(mask)
    h, w = mask.shape
    n = int(fg_lab.max())
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), fg_lab
    flat = fg_lab.ravel()
    order = np.flatnonzero(flat)
    labs = flat[order]
    first = np.full(n + 1, h * w, np.int64)
    np.minimum.at(first, labs, order)
    roots = first[1:]
    ry, rx = np.divmod(roots, w)
    ext = np.zeros(n + 1, np.int64)
    ext[1:] = bg_lab[ry, rx + 1]  # the pixel above the root, in padded coordinates
    area2 = np.bincount(labs, weights=_area_terms(fg_lab, bg_lab, ext)[order // w, order % w],
                        minlength=n + 1)[1:]
    return roots, np.rint(area2).astype(np.int64), fg_lab


def _area_terms(fg_lab: np.ndarray, bg_lab: np.ndarray, ext: np.ndarray) -> np.ndarray:
    """Per foreground pixel: its doubled share of the outer-contour area (see module doc)."""
    h, w = fg_lab.shape
    lab = np.pad(fg_lab, 1)
    e = ext[fg_lab]  # exterior label of the pixel's component (0 for background pixels)
    e_pad = np.pad(e, 1)

    def m(dy: int, dx: int) -> np.ndarray:
        """"Filled" flag of the neighbour (dx, dy) with respect to each pixel's component."""
        sl = (slice(1 + dy, 1 + dy + h), slice(1 + dx, 1 + dx + w))
        return (lab[sl] != 0) | (bg_lab[sl] != e_pad[1:1 + h, 1:1 + w])

    fg = fg_lab != 0
    x = np.arange(w, dtype=np.int64)[None, :]
    down = lab[2:2 + h, 1:1 + w] != 0
    left2d = m(0, -1) | m(1, -1)
    right2d = m(0, 1) | m(1, 1)
    vert = np.where(down & (left2d != right2d), np.where(left2d, 2 * x, -2 * x), 0)
    tr, bl, br, tl = m(0, 1), m(1, 0), m(1, 1), m(0, -1)
    bl_l = m(1, -1)
    diag = np.where(br & ~tr & bl, 2 * x + 1, 0) + np.where(br & tr & ~bl, -(2 * x + 1), 0)
    diag += np.where(bl_l & ~tl & bl, -(2 * x - 1), 0) + np.where(bl_l & tl & ~bl, 2 * x - 1, 0)
    return np.where(fg, vert + diag, 0).astype(np.float64)


def row_extremes(fg_lab: np.ndarray, label: int) -> np.ndarray:
    """Nx2 int64 (x, y) points: each row's leftmost and rightmost pixel of the component."""
    ys, xs = np.nonzero(fg_lab == label)
    rows = np.unique(ys)
    lo = np.full(fg_lab.shape[0], np.iinfo(np.int64).max)
    hi = np.full(fg_lab.shape[0], -1)
    np.minimum.at(lo, ys, xs)
    np.maximum.at(hi, ys, xs)
    pts = [(lo[r], r) for r in rows] + [(hi[r], r) for r in rows if hi[r] != lo[r]]
    return np.array(sorted(pts, key=lambda p: (p[1], p[0])), dtype=np.int64).reshape(-1, 2)


def convex_hull(points: np.ndarray) -> np.ndarray:
    """Monotone chain over points sorted by (y, x); collinear points dropped; Kx2 int64."""
    pts = [tuple(p) for p in points]
    if len(pts) <= 2:
        return np.array(pts, dtype=np.int64).reshape(-1, 2)

    def cross(o, a, b) -> int:
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    def chain(seq):
        out: list = []
        for p in seq:
            while len(out) >= 2 and cross(out[-2], out[-1], p) <= 0:
                out.pop()
            out.append(p)
        return out

    lower, upper = chain(pts), chain(pts[::-1])
    return np.array(lower[:-1] + upper[:-1], dtype=np.int64)


def min_area_rect(hull: np.ndarray) -> tuple[np.ndarray, float]:
    """(4x2 float64 corners, area) of the minimum-area rectangle with a side on a hull edge.

    Ties go to the first hull edge, as on the GPU (a block reduction keyed by edge index).
    """
    p = hull.astype(np.float64)
    best = (np.inf, None)
    for i in range(len(p)):
        e = p[(i + 1) % len(p)] - p[i]
        u = e / np.hypot(e[0], e[1])
        v = np.array([-u[1], u[0]])
        a, b = (p - p[i]) @ u, (p - p[i]) @ v
        area = (a.max() - a.min()) * (b.max() - b.min())
        if area < best[0]:
            best = (area, (i, u, v, a.min(), a.max(), b.min(), b.max()))
    i, u, v, a0, a1, b0, b1 = best[1]
    corners = np.array([p[i] + a * u + b * v for a, b in ((a0, b0), (a1, b0), (a1, b1), (a0, b1))])
    return corners, float(best[0])


def largest_component_mbr(mask: np.ndarray, min_area: float = MIN_CONTOUR_AREA) -> MbrResult:
    """The GPU kernel's result for a full-frame uint8 mask (see module doc)."""
    roots, area2, fg_lab = doubled_outer_areas(mask)
    none = MbrResult(False, np.zeros((4, 2), np.float32), 0.0, -1)
    if len(roots) == 0:
        return none
    best = int(np.lexsort((roots, area2))[-1])  # max area, then the last root in raster order
    area = area2[best] / 2.0
    if not area > min_area:
        return MbrResult(False, none.corners, area, int(roots[best]))
    hull = convex_hull(row_extremes(fg_lab, best + 1))
    corners, _ = min_area_rect(hull)
    return MbrResult(True, corners.astype(np.float32), area, int(roots[best]))
