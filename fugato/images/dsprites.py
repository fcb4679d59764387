"""dSprites (Matthey et al. 2017) drawn here, deterministically: nothing is downloaded.

The factors and their values are DeepMind's: shape (square, ellipse, heart), scale (6 values in
[0.5, 1]), orientation (40 values in [0, 2 pi], both ends included as in the original, so the
first and last orientations draw the same image), position x and y (32 values each in [0, 1]),
737,280 binary 64 x 64 images in all, indexed in the original's order (position y varies
fastest, then x, orientation, scale, shape).

How they are drawn (the original's exact pixel geometry is not published with it; these are
our choices): each pixel is on when its centre falls inside the shape. A sprite's centre sits
at 0.22 + 0.56 * position of the canvas width (x to the right, y down, as image rows go), so a
sprite at full scale stays inside the canvas at every orientation. At scale 1 the square's
side is 0.28 of the canvas (18 pixels), the ellipse's axes are 0.28 and 0.14 (2:1, as the
original's ellipse), and the heart is the curve (x^2 + y^2 - 1)^3 = x^2 y^3 scaled to the
same height. Orientation turns the sprite counter-clockwise about its centre. Like the
original, no noise and no anti-aliasing; unlike it, the square and the heart here are exact
geometric shapes, so pixel counts differ from DeepMind's images by a few per cent.
"""

from __future__ import annotations

import numpy as np

SHAPES = ("square", "ellipse", "heart")
SCALES = np.linspace(0.5, 1.0, 6)
ORIENTATIONS = np.linspace(0.0, 2 * np.pi, 40)
POSITIONS = np.linspace(0.0, 1.0, 32)
FACTORS = {"shape": len(SHAPES), "scale": len(SCALES), "orientation": len(ORIENTATIONS),
           "position_x": len(POSITIONS), "position_y": len(POSITIONS)}
"""Factor -> number of values, in the order of the original's index (the last varies fastest)."""
SIZE = 64
"""Images are SIZE x SIZE pixels."""
SIDE = 0.28
"""The square's side (and the heart's height) at scale 1, as a share of the canvas."""
HEART_HALF_HEIGHT, HEART_CENTRE = 1.118, 0.118
"""Half the height of the heart curve in its own units, and its centre (its y spans
[-1, 1.236])."""


def factors_of(index: np.ndarray) -> dict[str, np.ndarray]:
    """Factor value indices of image numbers (n,) in [0, 737280): {factor: (n,) int64}."""
    digits = np.unravel_index(np.asarray(index, dtype=np.int64), tuple(FACTORS.values()))
    return {name: d.astype(np.int64) for name, d in zip(FACTORS, digits, strict=True)}


def render(factors: dict[str, np.ndarray]) -> np.ndarray:
    """Images of factor value indices {factor: (n,)}: (n, 64, 64) bool; per shape one set of
    float32 array operations over its images (no loop over images or pixels)."""
    shapes = np.asarray(factors["shape"])
    images = np.zeros((len(shapes), SIZE, SIZE), dtype=bool)
    for code, inside in enumerate((_in_square, _in_ellipse, _in_heart)):
        chosen = np.flatnonzero(shapes == code)
        if len(chosen):
            u, v = _sprite_frame({k: np.asarray(f)[chosen] for k, f in factors.items()})
            images[chosen] = inside(u, v)
    return images


def _sprite_frame(factors: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Every pixel centre in each sprite's own frame (turned back by its angle, in units of
    its size, y up): two (n, 64, 64) float32 arrays."""
    f32 = np.float32
    scale = (SCALES[factors["scale"]] * SIDE).astype(f32)[:, None, None]
    angle = ORIENTATIONS[factors["orientation"]].astype(f32)[:, None, None]
    centre_x = (0.22 + 0.56 * POSITIONS[factors["position_x"]]).astype(f32)[:, None, None]
    centre_y = (0.22 + 0.56 * POSITIONS[factors["position_y"]]).astype(f32)[:, None, None]
    pixel = ((np.arange(SIZE) + 0.5) / SIZE).astype(f32)
    dx, dy = pixel[None, None, :] - centre_x, centre_y - pixel[None, :, None]
    cos, sin = np.cos(angle) / scale, np.sin(angle) / scale
    return cos * dx + sin * dy, cos * dy - sin * dx


def _in_square(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.maximum(np.abs(u), np.abs(v)) <= 0.5


def _in_ellipse(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return u * u * 4 + v * v * 16 <= 1


def _in_heart(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    x, y = u * (2 * HEART_HALF_HEIGHT), v * (2 * HEART_HALF_HEIGHT) + HEART_CENTRE
    r = x * x + y * y - 1
    return r * r * r <= x * x * y * y * y


def dsprites(n: int | None = None, seed: int = 0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(images (n, 64, 64) bool, their factor indices) of a seeded subset of n images drawn
    without replacement (all 737,280 in order when n is None)."""
    total = int(np.prod(list(FACTORS.values())))
    index = (np.arange(total) if n is None
             else np.sort(np.random.default_rng(seed).choice(total, n, replace=False)))
    factors = factors_of(index)
    return render(factors), factors
