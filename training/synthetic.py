"""Deterministic synthetic tracking sequences with exact masks, in the DAVIS layout.

Why: public SiamMask weights cannot be downloaded here, so the project trains its own and needs
data whose ground truth is exact by construction. Every frame is rendered from a `Scene` (a
background canvas plus sprites with precomputed trajectories); the target's mask is the set of
pixels where the target was drawn and not covered by an occluder, so there is no labelling
noise. NumPy + OpenCV only (no torch): `masktrt demo` generates its default data with it.

Layering, back to front: other objects and look-alike distractors, the target (object 0),
occluders. Distractors keep their outline-circles apart from the target's, so the target's
boundary is never ambiguous; occluders are the only things that hide it.

Randomness: one `SeedSequence(seed)` spawns an independent stream per concern (background,
target, distractors, other objects, occluders, photometric), so toggling distractors or
occluders leaves everything else bit-identical. `render_frame(scene, t)` is pure, so training
can render just the two frames of a pair.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from masktrt.arg_types import COUNT, NON_NEGATIVE
from masktrt.errors import MasktrtError
from masktrt.paths import cache_dir

# Bump when the rendered output for a given seed changes, so cached demo folders are rebuilt.
GENERATOR_VERSION = 1
JPEG_QUALITY = 92
SHAPE_FAMILIES = ("ellipse", "polygon", "star", "blob")
PATTERNS = ("noise", "stripes", "spots", "gradient")

# The demo's default sequence (`masktrt demo` with no arguments).
DEMO_SEED = 2016  # a striped blob, two striped look-alikes, a spotted occluder
DEMO_FRAMES = 60
DEMO_SIZE = (480, 640)
DEMO_DISTRACTORS = 2

_STREAMS = ("background", "target", "distractors", "objects", "occluders", "photometric")


@dataclass(frozen=True)
class Sprite:
    """One textured shape and its trajectory; outline and texture are in pixels at scale 1."""

    outline: np.ndarray   # (K, 2) float64, centred on the area centroid
    texture: np.ndarray   # (T, T, 3) uint8 BGR, its centre is the outline's origin
    centres: np.ndarray   # (N, 2) float64 x, y in frame pixels
    angles: np.ndarray    # (N,) radians
    scales: np.ndarray    # (N,)


@dataclass(frozen=True)
class Scene:
    """Everything needed to render any frame independently of the others."""

    size: tuple[int, int]          # (h, w)
    background: np.ndarray         # larger canvas, uint8 BGR
    camera: np.ndarray             # (N, 2) int top-left of the view in the canvas (x, y)
    behind: tuple[Sprite, ...]     # other objects, then distractors
    target: Sprite
    front: tuple[Sprite, ...]      # occluders
    gains: np.ndarray              # (N, 2) contrast, brightness
    noise: np.ndarray | None       # float32 sensor-noise field larger than the frame; None = off
    noise_offsets: np.ndarray      # (N, 2) int x, y into `noise`
    antialias: bool                # soften image edges (masks stay hard)

    @property
    def num_frames(self) -> int:
        return len(self.camera)


@dataclass(frozen=True)
class SyntheticSequence:
    """Rendered frames (BGR uint8, before JPEG), target masks (0/255) and their tight boxes."""

    seed: int
    frames: list[np.ndarray]
    masks: list[np.ndarray]
    boxes: np.ndarray              # (N, 4) int x, y, w, h, 0-based, w = xmax - xmin + 1
    scene: Scene


# ----------------------------------------------------------------------------------- helpers

def _smooth_noise(rng: np.random.Generator, h: int, w: int, cell: float) -> np.ndarray:
    """Value noise with features about `cell` pixels wide, roughly unit variance."""
    gh, gw = max(2, int(np.ceil(h / cell)) + 2), max(2, int(np.ceil(w / cell)) + 2)
    grid = rng.standard_normal((gh, gw)).astype(np.float32)
    return cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)


def _hsv_to_bgr(h: float, s: float, v: float) -> np.ndarray:
    """One colour; h in [0, 180) (OpenCV), s and v in [0, 1]."""
    pixel = np.array([[[h % 180, s * 255, v * 255]]], dtype=np.float32).round().astype(np.uint8)
    return cv2.cvtColor(pixel, cv2.COLOR_HSV2BGR)[0, 0].astype(np.float32)


def _rotation(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s], [s, c]])


def _polygon_area(pts: np.ndarray) -> float:
    x, y = pts[:, 0], pts[:, 1]
    return 0.5 * float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def _normalise_outline(pts: np.ndarray, radius: float) -> np.ndarray:
    """Scale to the area of a circle of `radius` and centre on the area centroid (the pivot)."""
    x, y = pts[:, 0], pts[:, 1]
    cross = x * np.roll(y, -1) - np.roll(x, -1) * y
    area = cross.sum() / 2
    cx = ((x + np.roll(x, -1)) * cross).sum() / (6 * area)
    cy = ((y + np.roll(y, -1)) * cross).sum() / (6 * area)
    centred = pts - [cx, cy]
    return centred * radius * np.sqrt(np.pi / _polygon_area(centred))


def mask_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """Tight 0-based x, y, w, h of the non-zero pixels (the DAVIS groundtruth.txt convention)."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return (0, 0, 0, 0)
    x0, y0 = int(xs.min()), int(ys.min())
    return (x0, y0, int(xs.max()) - x0 + 1, int(ys.max()) - y0 + 1)


# ----------------------------------------------------------------------------------- shapes

def _outline(rng: np.random.Generator, family: str) -> np.ndarray:
    """A closed outline of unit-ish size; the caller normalises its area."""
    if family == "ellipse":
        theta = np.linspace(0, 2 * np.pi, 96, endpoint=False)
        return np.stack([np.cos(theta), rng.uniform(0.45, 1.0) * np.sin(theta)], axis=1)
    if family == "polygon":
        k = int(rng.integers(3, 8))
        theta = 2 * np.pi * (np.arange(k) + rng.uniform(-0.3, 0.3, k)) / k
        radii = rng.uniform(0.75, 1.0, k)
    elif family == "star":
        k = int(rng.integers(4, 8))
        theta = 2 * np.pi * (np.arange(2 * k) + rng.uniform(-0.15, 0.15, 2 * k)) / (2 * k)
        radii = np.where(np.arange(2 * k) % 2 == 0, 1.0, rng.uniform(0.4, 0.65))
        radii = radii * rng.uniform(0.9, 1.0, 2 * k)
    else:  # blob: a random radial function
        theta = np.linspace(0, 2 * np.pi, 128, endpoint=False)
        radii = np.ones_like(theta)
        for j in range(2, 6):
            radii += rng.uniform(0, 0.35) / j * np.cos(j * theta + rng.uniform(0, 2 * np.pi))
        radii = np.maximum(radii, 0.3)
    return np.stack([radii * np.cos(theta), radii * np.sin(theta)], axis=1)


def _perturb_outline(rng: np.random.Generator, pts: np.ndarray) -> np.ndarray:
    """Same shape family and silhouette, slightly different: a look-alike's outline."""
    phi = np.arctan2(pts[:, 1], pts[:, 0])
    factor = np.ones_like(phi)
    for j in range(1, 4):
        factor += rng.uniform(-0.07, 0.07) * np.cos(j * phi + rng.uniform(0, 2 * np.pi))
    return pts * factor[:, None] * [1 + rng.uniform(-0.12, 0.12), 1.0]


# ----------------------------------------------------------------------------------- textures

@dataclass(frozen=True)
class _Look:
    hsv: tuple[float, float, float]
    secondary: tuple[float, float, float]
    pattern: str


def _random_look(rng: np.random.Generator) -> _Look:
    hue = rng.uniform(0, 180)
    hsv = (hue, rng.uniform(0.45, 1.0), rng.uniform(0.5, 1.0))
    secondary = (hue + rng.uniform(-40, 40), rng.uniform(0.2, 1.0), rng.uniform(0.15, 0.9))
    return _Look(hsv, secondary, str(rng.choice(PATTERNS)))


def _similar_look(rng: np.random.Generator, look: _Look) -> _Look:
    """A distractor's look: same pattern, colours nudged a little."""
    def nudge(c: tuple[float, float, float]) -> tuple[float, float, float]:
        return (c[0] + rng.uniform(-8, 8), float(np.clip(c[1] * rng.uniform(0.85, 1.15), 0, 1)),
                float(np.clip(c[2] * rng.uniform(0.85, 1.15), 0, 1)))
    return _Look(nudge(look.hsv), nudge(look.secondary), look.pattern)


def _pattern_field(rng: np.random.Generator, pattern: str, size: int) -> np.ndarray:
    """Mixing weight in [0, 1] between a look's two colours."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    direction = rng.uniform(0, 2 * np.pi)
    along = xx * np.cos(direction) + yy * np.sin(direction)
    if pattern == "stripes":
        period = rng.uniform(0.12, 0.35) * size
        wave = np.sin(2 * np.pi * along / period + rng.uniform(0, 2 * np.pi))
        return np.clip(0.5 + 1.5 * wave, 0, 1)
    if pattern == "spots":
        field = np.zeros((size, size), np.float32)
        for _ in range(int(rng.integers(4, 12))):
            centre = tuple(int(v) for v in rng.integers(0, size, 2))
            cv2.circle(field, centre, int(size * rng.uniform(0.04, 0.12)) + 1, 1.0, -1)
        return cv2.GaussianBlur(field, (0, 0), 1.0)
    noise = _smooth_noise(rng, size, size, size / rng.uniform(2, 5))
    if pattern == "gradient":
        return np.clip(along / (1.5 * size) + 0.25 + 0.15 * noise, 0, 1)
    return np.clip(0.5 + 0.35 * noise, 0, 1)


def _texture(rng: np.random.Generator, look: _Look, size: int) -> np.ndarray:
    """The look's pattern, shaded darker towards the rim so shapes read as solid objects."""
    t = _pattern_field(rng, look.pattern, size)[..., None]
    image = _hsv_to_bgr(*look.hsv) * (1 - t) + _hsv_to_bgr(*look.secondary) * t
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    light = rng.uniform(-0.3, 0.3, 2) * size
    r2 = ((xx - size / 2 - light[0]) ** 2 + (yy - size / 2 - light[1]) ** 2) / (size / 2) ** 2
    image = image * (1 - 0.35 * np.clip(r2, 0, 1.5))[..., None]
    image += 10 * _smooth_noise(rng, size, size, 3.0)[..., None]
    return np.clip(image, 0, 255).round().astype(np.uint8)


def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Colour fields, gradient, multi-scale texture and clutter (rectangles, lines, discs)."""
    colours = [_hsv_to_bgr(rng.uniform(0, 180), rng.uniform(0.05, 0.7), rng.uniform(0.25, 0.9))
               for _ in range(3)]
    w1 = np.clip(0.5 + 0.5 * _smooth_noise(rng, h, w, w / 2.5), 0, 1)[..., None]
    w2 = np.clip(0.5 * _smooth_noise(rng, h, w, w / 4), 0, 1)[..., None]
    image = (colours[0] * (1 - w1) + colours[1] * w1) * (1 - w2) + colours[2] * w2
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    direction = rng.uniform(0, 2 * np.pi)
    ramp = (xx * np.cos(direction) + yy * np.sin(direction)) / max(h, w)
    image = image * (0.8 + 0.4 * (ramp - ramp.min()))[..., None]
    for cell, amplitude in ((rng.uniform(6, 20), 18), (1.5, 7)):
        image += amplitude * _smooth_noise(rng, h, w, cell)[..., None]
    image = np.clip(image, 0, 255).astype(np.float32)
    _clutter(rng, image)
    return cv2.GaussianBlur(np.clip(image, 0, 255), (0, 0), 0.7).round().astype(np.uint8)


def _clutter(rng: np.random.Generator, image: np.ndarray) -> None:
    """Semi-transparent rectangles, lines and discs drawn in place: structure to ignore."""
    h, w = image.shape[:2]
    for kind in rng.choice(["rect", "line", "disc"], int(rng.integers(8, 20)), p=[0.45, 0.35, 0.2]):
        overlay = image.copy()
        colour = tuple(float(c) for c in _hsv_to_bgr(rng.uniform(0, 180), rng.uniform(0, 0.6),
                                                     rng.uniform(0.1, 1.0)))
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        if kind == "rect":
            half = rng.uniform(0.02, 0.15, 2) * [w, h]
            corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * half
            corners = corners @ _rotation(rng.uniform(-0.5, 0.5)).T + [x, y]
            cv2.fillPoly(overlay, [corners.round().astype(np.int32)], colour)
        elif kind == "line":
            end = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            cv2.line(overlay, (x, y), end, colour, int(rng.integers(1, 5)), cv2.LINE_AA)
        else:
            cv2.circle(overlay, (x, y), int(rng.uniform(0.01, 0.06) * max(h, w)) + 1, colour, -1)
        alpha = rng.uniform(0.3, 0.9)
        cv2.addWeighted(overlay, alpha, image, 1 - alpha, 0, dst=image)


# ----------------------------------------------------------------------------------- motion

def _walk(rng: np.random.Generator, n: int, start: np.ndarray, lo: np.ndarray, hi: np.ndarray,
          max_speed: float, avoid: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Random-walk velocity (smooth motion) kept in [lo, hi]; optionally kept at least
    `avoid[1][t]` away from `avoid[0][t]` (the separation wins over the bounds)."""
    p = start.astype(np.float64).copy()
    heading = rng.uniform(0, 2 * np.pi)
    v = max_speed * rng.uniform(0.2, 0.7) * np.array([np.cos(heading), np.sin(heading)])
    out = np.empty((n, 2))
    for t in range(n):
        if avoid is not None:
            p = _keep_apart(p, avoid[0][t], avoid[1][t])
        out[t] = p
        v = v + rng.normal(0, 0.15 * max_speed, 2)
        v *= min(1.0, max_speed / (np.linalg.norm(v) + 1e-9))
        p = p + v
        below, above = p < lo, p > hi
        v[below | above] *= -1
        p = np.clip(p, lo, hi)
    return out


def _keep_apart(p: np.ndarray, other: np.ndarray, distance: float) -> np.ndarray:
    offset = p - other
    norm = np.linalg.norm(offset)
    if norm >= distance:
        return p
    direction = offset / norm if norm > 1e-6 else np.array([1.0, 0.0])
    return other + direction * distance


def _angles(rng: np.random.Generator, n: int) -> np.ndarray:
    """Rotation with a slowly drifting angular velocity (radians per frame)."""
    omega = np.clip(rng.uniform(-0.04, 0.04) + np.cumsum(rng.normal(0, 0.006, n)), -0.07, 0.07)
    return rng.uniform(0, 2 * np.pi) + np.concatenate([[0.0], np.cumsum(omega[:-1])])


def _scales(rng: np.random.Generator, n: int, low: float = 0.75, high: float = 1.33) -> np.ndarray:
    """Log-scale with a smoothly varying rate, reflected at the limits."""
    lo, hi = np.log(low), np.log(high)
    value, rate = rng.uniform(np.log(0.85), np.log(1.15)), rng.normal(0, 0.01)
    out = np.empty(n)
    for t in range(n):
        out[t] = np.exp(value)
        rate = 0.9 * rate + rng.normal(0, 0.004)
        value += rate
        if not lo <= value <= hi:
            value, rate = np.clip(value, lo, hi), -rate
    return out


# ----------------------------------------------------------------------------------- sprites

def _sprite(rng: np.random.Generator, outline: np.ndarray, look: _Look, centres: np.ndarray,
            angles: np.ndarray, scales: np.ndarray) -> Sprite:
    size = 2 * int(np.ceil(np.abs(outline).max())) + 6
    return Sprite(outline, _texture(rng, look, size), centres, angles, scales)


def _circumradius(sprite: Sprite) -> np.ndarray:
    """Per-frame radius of the circle around the outline: the no-overlap distance."""
    return float(np.linalg.norm(sprite.outline, axis=1).max()) * sprite.scales


def _target(rng: np.random.Generator, n: int, h: int, w: int) -> tuple[Sprite, str, _Look, float]:
    family = str(rng.choice(SHAPE_FAMILIES))
    radius = rng.uniform(0.06, 0.15) * min(h, w)
    outline = _normalise_outline(_outline(rng, family), radius)
    look = _random_look(rng)
    scales = _scales(rng, n)
    extent = float(np.linalg.norm(outline, axis=1).max()) * 0.6
    lo = np.array([extent, extent])
    hi = np.maximum(np.array([w, h]) - extent, lo + 1)
    start = rng.uniform(0.3, 0.7, 2) * [w, h]
    centres = _walk(rng, n, start, lo, hi, max_speed=0.012 * min(h, w))
    return _sprite(rng, outline, look, centres, _angles(rng, n), scales), family, look, radius


def _distractor(rng: np.random.Generator, target: Sprite, look: _Look, h: int, w: int) -> Sprite:
    """Look-alike: same family and colours, slightly different, never overlapping the target."""
    n = len(target.centres)
    base_radius = np.sqrt(_polygon_area(target.outline) / np.pi)
    outline = _normalise_outline(_perturb_outline(rng, target.outline),
                                 base_radius * rng.uniform(0.85, 1.15))
    scales = _scales(rng, n)
    gap = 0.08 * base_radius
    separation = _circumradius(target) + np.linalg.norm(outline, axis=1).max() * scales + gap
    lo, hi = np.zeros(2), np.array([w, h], dtype=np.float64)
    start = _far_point(rng, target.centres[0], separation[0], w, h)
    centres = _walk(rng, n, start, lo, hi, 0.012 * min(h, w), avoid=(target.centres, separation))
    return _sprite(rng, outline, _similar_look(rng, look), centres, _angles(rng, n), scales)


def _far_point(rng: np.random.Generator, centre: np.ndarray, distance: float, w: int,
               h: int) -> np.ndarray:
    """A start inside the frame at least `distance` from `centre` where one is found."""
    for _ in range(50):
        point = rng.uniform(0, 1, 2) * [w, h]
        if np.linalg.norm(point - centre) >= distance:
            return point
    return point  # _walk's separation pushes it out on the first frame


def _other_object(rng: np.random.Generator, n: int, h: int, w: int, target_family: str,
                  target_radius: float) -> Sprite:
    family = str(rng.choice([f for f in SHAPE_FAMILIES if f != target_family]))
    outline = _normalise_outline(_outline(rng, family), target_radius * rng.uniform(0.6, 1.2))
    start = rng.uniform(0, 1, 2) * [w, h]
    centres = _walk(rng, n, start, np.zeros(2), np.array([w, h], float), 0.012 * min(h, w))
    return _sprite(rng, outline, _random_look(rng), centres, _angles(rng, n), _scales(rng, n))


def _occluder(rng: np.random.Generator, target: Sprite, target_radius: float,
              window: tuple[int, int]) -> Sprite:
    """A smaller shape crossing the target in a straight line around a frame of `window`.

    Its area is at most (0.65 / 0.75)^2 of the target's smallest area, so it hides only part."""
    n = len(target.centres)
    radius = target_radius * rng.uniform(0.45, 0.65)
    outline = _normalise_outline(_outline(rng, str(rng.choice(SHAPE_FAMILIES))), radius)
    crossing = int(rng.integers(window[0], max(window[0], window[1]) + 1))
    heading = rng.uniform(0, 2 * np.pi)
    along = np.array([np.cos(heading), np.sin(heading)])
    across = np.array([-along[1], along[0]])
    frames_over = rng.uniform(8, 16)
    speed = 2 * (target_radius + radius) / frames_over
    t = np.arange(n)[:, None] - crossing
    offset = rng.uniform(-0.4, 0.4) * target_radius * across
    centres = target.centres[crossing] + offset + t * speed * along
    return _sprite(rng, outline, _random_look(rng), centres, _angles(rng, n), np.ones(n))


# ----------------------------------------------------------------------------------- scene

def build_scene(seed: int, num_frames: int = 40, size: tuple[int, int] = (480, 640),
                num_objects: int = 1, distractors: int = 1, occluders: int = 1,
                antialias: bool = True) -> Scene:
    """Sample a scene; cheap (no frames are rendered). `num_objects` counts the target."""
    if num_frames < 1 or num_objects < 1 or min(size) < 16:
        raise MasktrtError(f"bad synthetic sequence request ({num_frames} frames, {num_objects} "
                           f"objects, size {size})", "use >= 1 frame, >= 1 object, size >= 16x16")
    h, w = size
    streams = dict(zip(_STREAMS, (np.random.default_rng(s) for s in
                                  np.random.SeedSequence(seed).spawn(len(_STREAMS)))))
    margin = int(round(0.08 * max(h, w)))
    background = _background(streams["background"], h + 2 * margin, w + 2 * margin)
    target, family, look, radius = _target(streams["target"], num_frames, h, w)
    others = [_other_object(streams["objects"], num_frames, h, w, family, radius)
              for _ in range(num_objects - 1)]
    lookalikes = [_distractor(streams["distractors"], target, look, h, w)
                  for _ in range(distractors)]
    fronts = [_occluder(streams["occluders"], target, radius, _window(num_frames, i, occluders))
              for i in range(occluders)]
    photo = streams["photometric"]
    camera = _camera(photo, num_frames, margin)
    gains = _gains(photo, num_frames)
    noise = (photo.standard_normal((h + 2 * margin, w + 2 * margin, 3)) * 3).astype(np.float32)
    offsets = photo.integers(0, 2 * margin + 1, (num_frames, 2))
    return Scene(size, background, camera, tuple(others + lookalikes), target, tuple(fronts),
                 gains, noise, offsets, antialias)


def _gains(rng: np.random.Generator, n: int) -> np.ndarray:
    """Per-frame (contrast, brightness): slow lighting drift, as from clouds or auto-exposure."""
    contrast = 1 + 0.08 * np.sin(np.linspace(0, rng.uniform(1, 4), n) + rng.uniform(0, 2 * np.pi))
    brightness = rng.uniform(-8, 8) + np.cumsum(rng.normal(0, 0.8, n))
    return np.stack([contrast, brightness], axis=1)


def _window(n: int, index: int, count: int) -> tuple[int, int]:
    """Frames in which occluder `index` of `count` crosses the target (inner 30-70%, split)."""
    lo, hi = 0.3 * (n - 1), 0.7 * (n - 1)
    step = (hi - lo) / count
    return int(round(lo + index * step)), int(round(lo + (index + 1) * step))


def _camera(rng: np.random.Generator, n: int, margin: int) -> np.ndarray:
    """A slow pan/shake of the background: integer view offsets within the canvas margin."""
    path = _walk(rng, n, np.array([margin, margin], float), np.zeros(2),
                 np.array([2 * margin, 2 * margin], float), max_speed=max(0.5, margin / 25))
    return path.round().astype(np.int64)


# ----------------------------------------------------------------------------------- rendering

_SUPERSAMPLE = 4


def _coverage(pts: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Fraction of each pixel inside the polygon (0..255), from a 4x4 supersampled fill.

    One definition serves both outputs: the mask is coverage >= 50%, the anti-aliased image
    blends by coverage, so soft pixels hug the mask boundary (only slivers thinner than half a
    pixel, e.g. a star's very tip, show faintly in the image beyond the mask)."""
    k = _SUPERSAMPLE
    fine = np.zeros((shape[0] * k, shape[1] * k), np.uint8)
    poly = np.round(((pts + 0.5) * k - 0.5) * 16).astype(np.int32)
    cv2.fillPoly(fine, [poly], 255, cv2.LINE_8, shift=4)
    return cv2.resize(fine, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)


def _draw(frame: np.ndarray, sprite: Sprite, t: int, antialias: bool) -> np.ndarray:
    """Composite the sprite in place; return its hard 0/255 mask over the frame."""
    h, w = frame.shape[:2]
    mask = np.zeros((h, w), np.uint8)
    linear = sprite.scales[t] * _rotation(sprite.angles[t])
    pts = sprite.outline @ linear.T + sprite.centres[t]
    x0, y0 = np.maximum(np.floor(pts.min(axis=0)).astype(int) - 1, 0)
    x1, y1 = np.minimum(np.ceil(pts.max(axis=0)).astype(int) + 2, [w, h])
    if x1 <= x0 or y1 <= y0:
        return mask
    coverage = _coverage(pts - [x0, y0], (y1 - y0, x1 - x0))
    hard = np.where(coverage >= 128, 255, 0).astype(np.uint8)
    half = sprite.texture.shape[0] / 2
    affine = np.hstack([linear, (sprite.centres[t] - [x0, y0] - linear @ [half, half])[:, None]])
    warped = cv2.warpAffine(sprite.texture, affine, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REFLECT_101)
    roi = frame[y0:y1, x0:x1]
    if antialias:
        a = coverage[..., None].astype(np.float32) / 255
        roi[:] = (roi * (1 - a) + warped * a).round().astype(np.uint8)
    else:
        np.copyto(roi, warped, where=hard[..., None] > 0)
    mask[y0:y1, x0:x1] = hard
    return mask


def sprite_mask(sprite: Sprite, t: int, size: tuple[int, int]) -> np.ndarray:
    """Where a sprite alone would cover the frame at t (0/255): its full, unoccluded mask."""
    return _draw(np.zeros((*size, 3), np.uint8), sprite, t, antialias=False)


def render_frame(scene: Scene, t: int) -> tuple[np.ndarray, np.ndarray]:
    """Frame t (HxWx3 uint8 BGR) and the target's visible mask (HxW uint8, 0/255)."""
    h, w = scene.size
    cx, cy = scene.camera[t]
    frame = scene.background[cy:cy + h, cx:cx + w].copy()
    for sprite in scene.behind:
        _draw(frame, sprite, t, scene.antialias)
    mask = _draw(frame, scene.target, t, scene.antialias)
    for sprite in scene.front:
        mask[_draw(frame, sprite, t, scene.antialias) > 0] = 0
    return _photometric(frame, scene, t), mask


def _photometric(frame: np.ndarray, scene: Scene, t: int) -> np.ndarray:
    """Lighting drift and sensor noise, so consecutive frames never repeat pixel for pixel."""
    if scene.noise is None:
        return frame
    h, w = scene.size
    ox, oy = scene.noise_offsets[t]
    contrast, brightness = scene.gains[t]
    out = frame.astype(np.float32) * np.float32(contrast) + np.float32(brightness)
    out += scene.noise[oy:oy + h, ox:ox + w]
    return np.clip(out, 0, 255).round().astype(np.uint8)


def generate_sequence(seed: int, num_frames: int = 40, size: tuple[int, int] = (480, 640),
                      num_objects: int = 1, distractors: int = 1, occluders: int = 1,
                      antialias: bool = True) -> SyntheticSequence:
    """Render a whole sequence in memory; identical output for the same arguments."""
    scene = build_scene(seed, num_frames, size, num_objects, distractors, occluders, antialias)
    rendered = [render_frame(scene, t) for t in range(num_frames)]
    frames = [f for f, _ in rendered]
    masks = [m for _, m in rendered]
    boxes = np.array([mask_box(m) for m in masks], dtype=np.int64).reshape(-1, 4)
    return SyntheticSequence(seed, frames, masks, boxes, scene)


# ----------------------------------------------------------------------------------- files

def write_davis(seq: SyntheticSequence, folder: str | Path, jpeg_quality: int = JPEG_QUALITY,
                overwrite: bool = False) -> Path:
    """frames/00000.jpg, masks/00000.png, groundtruth.txt (written last: its presence with one
    line per frame marks a complete folder)."""
    folder = Path(folder)
    frames_dir, masks_dir = folder / "frames", folder / "masks"
    for sub, pattern in ((frames_dir, "*.jpg"), (masks_dir, "*.png")):
        existing = sorted(sub.glob(pattern)) if sub.is_dir() else []
        if existing and not overwrite:
            raise MasktrtError(f"'{sub}' already holds images",
                               "write into an empty folder or pass overwrite=True")
        for path in existing:
            path.unlink()
        sub.mkdir(parents=True, exist_ok=True)
    (folder / "groundtruth.txt").unlink(missing_ok=True)
    params = [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)]
    for i, (frame, mask) in enumerate(zip(seq.frames, seq.masks)):
        _imwrite(frames_dir / f"{i:05d}.jpg", frame, params)
        _imwrite(masks_dir / f"{i:05d}.png", mask, [])
    lines = [",".join(str(int(v)) for v in box) for box in seq.boxes]
    (folder / "groundtruth.txt").write_text("\n".join(lines) + "\n")
    return folder


def _imwrite(path: Path, image: np.ndarray, params: list[int]) -> None:
    if not cv2.imwrite(str(path), image, params):
        raise MasktrtError(f"cannot write '{path}'", "check the folder is writable and has space")


def is_complete(folder: Path, num_frames: int) -> bool:
    """True where write_davis finished for a sequence of `num_frames`."""
    gt = folder / "groundtruth.txt"
    if not gt.is_file() or len(gt.read_text().split()) != num_frames:
        return False
    return (len(list((folder / "frames").glob("*.jpg"))) == num_frames
            and len(list((folder / "masks").glob("*.png"))) == num_frames)


def demo_sequence_dir(seed: int = DEMO_SEED, num_frames: int = DEMO_FRAMES,
                      size: tuple[int, int] = DEMO_SIZE,
                      distractors: int = DEMO_DISTRACTORS) -> Path:
    """The demo's default sequence, generated once into the cache (again if files go missing).

    Written to a temporary sibling and renamed, so a crash or a concurrent run never leaves a
    half-written folder behind under the final name."""
    key = (f"synthetic-v{GENERATOR_VERSION}-seed{seed}-{num_frames}f-{size[0]}x{size[1]}"
           f"-d{distractors}")
    root = cache_dir("demo")
    folder = root / key
    if is_complete(folder, num_frames):
        return folder
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=root))
    try:
        write_davis(generate_sequence(seed, num_frames, size, distractors=distractors), tmp)
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(tmp, folder)
    except OSError:
        if not is_complete(folder, num_frames):  # lost a race only if the winner finished
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def main(argv: list[str] | None = None) -> int:
    """`python -m masktrt.training.synthetic OUT --seed 3`: write one sequence for inspection."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=NON_NEGATIVE, default=0)
    parser.add_argument("--frame-count", type=COUNT, default=40)
    parser.add_argument("--size", type=COUNT, nargs=2, default=(480, 640), metavar=("H", "W"))
    parser.add_argument("--objects", type=COUNT, default=1)
    parser.add_argument("--distractors", type=NON_NEGATIVE, default=1)
    parser.add_argument("--occluders", type=NON_NEGATIVE, default=1)
    args = parser.parse_args(argv)
    seq = generate_sequence(args.seed, args.frame_count, tuple(args.size), args.objects,
                            args.distractors, args.occluders)
    print(write_davis(seq, args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
