"""Morpho-MNIST's attributes (`fugato.images.morpho`) on drawn strokes whose answers are
known, and on real digits."""

from pathlib import Path

import numpy as np
import pytest
from shared_data import require

from fugato.images.morpho import ATTRIBUTES, measure, morpho_mnist, skeleton_length


def stroke(width: int = 3, top: int = 6, bottom: int = 22, lean: float = 0.0) -> np.ndarray:
    """A (1, 28, 28) stroke `width` pixels wide from row `top` to `bottom`, moving `lean`
    pixels right per row upwards (a forward slant)."""
    image = np.zeros((1, 28, 28))
    for row in range(top, bottom):
        left = 12 + int(round((bottom - row) * lean))
        image[0, row, left:left + width] = 1.0
    return image


def one(image: np.ndarray) -> dict[str, float]:
    return {k: float(v[0]) for k, v in measure(image).items()}


def test_a_stroke_measures_as_drawn() -> None:
    upright = one(stroke())
    assert upright["area"] == pytest.approx(3 * 16, rel=0.05)
    assert upright["thickness"] == pytest.approx(3, rel=0.15)
    assert upright["height"] == pytest.approx(16, abs=1)
    assert upright["width"] == pytest.approx(3.5, abs=1)
    assert abs(upright["slant"]) < 0.02
    assert 16 - 3 - 1 <= upright["length"] <= 16  # a skeleton stops short of the ends
    leaning = one(stroke(lean=0.3))
    assert leaning["slant"] == pytest.approx(np.arctan(0.3), abs=0.05)
    assert leaning["height"] == pytest.approx(upright["height"], abs=0.5)
    assert leaning["width"] == pytest.approx(upright["width"], abs=1)  # the slant is undone
    thick, long = one(stroke(width=6)), one(stroke(top=2, bottom=26))
    assert thick["thickness"] > 1.6 * upright["thickness"]
    assert thick["length"] == pytest.approx(upright["length"], abs=3)
    assert long["length"] - upright["length"] == pytest.approx(8, abs=1.5)


def test_skeleton_length_counts_each_link_once() -> None:
    line = np.zeros((5, 5), dtype=bool)
    line[2, :] = True
    assert skeleton_length(line) == 4
    assert skeleton_length(np.eye(5, dtype=bool)) == pytest.approx(4 * np.sqrt(2))


def test_measurements_are_cached_and_written_whole(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FUGATO_CACHE", str(tmp_path))
    images = np.concatenate([stroke(), stroke(lean=0.3)])
    first = morpho_mnist(images)
    assert [p.suffix for p in (tmp_path / "morpho-mnist").iterdir()] == [".npy"]
    again = morpho_mnist(images)
    assert set(again) == set(ATTRIBUTES)
    for name in ATTRIBUTES:
        np.testing.assert_array_equal(first[name], again[name])


def test_real_ones_are_narrower_and_shorter_than_zeros() -> None:
    from fugato.images import load_mnist
    require("mnist")
    pixels, labels = load_mnist()
    digits = pixels.numpy().reshape(-1, 28, 28)
    chosen = {d: digits[labels.numpy() == d][:40] for d in (0, 1)}
    m = {d: measure(images) for d, images in chosen.items()}
    assert np.median(m[1]["width"]) < 0.5 * np.median(m[0]["width"])
    assert np.median(m[1]["length"]) < np.median(m[0]["length"])
    assert np.median(m[1]["area"]) < np.median(m[0]["area"])
